"""Sync in the window, driven as a person would: add a remote, test it, pull, resolve a conflict,
push, cancel — against the fake DataPress portal, a real HTTP server on loopback.

The sync coroutines run on a qasync loop over the test's QApplication, exactly as in the
application: qtbot spins Qt's event loop and asyncio's callbacks run inside it. Keys go to a
real in-memory keyring backend (tests/fakes/memory_keyring.py), or to keyring's own "fail"
backend for a machine with no keyring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import keyring
import pytest
import qasync
from keyring.backends import fail
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.models import Dataset
from app.models.database import Database
from app.services import datasets
from app.services.catalogue_watch import CatalogueChange
from app.services.records import Record
from app.services.server.runner import bind_socket, url_for
from app.services.sync import remotes
from app.services.sync.context import SyncOptions
from app.services.sync.datapress import CARRIED
from app.services.sync.http import HttpOptions
from app.services.sync.merge import canonical
from app.services.sync.plan import SyncResult
from app.views.conflict_dialog import ConflictDialog
from app.views.dataset_table_model import TITLE_COLUMN
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets
from app.views.remotes_dialog import AddRemoteDialog, RemotesDialog
from app.views.sync_preview_dialog import SyncPreviewDialog
from tests.fakes.datapress import FakeDataPress
from tests.fakes.faults import Fault
from tests.fakes.memory_keyring import MemoryKeyring

FAST = SyncOptions(
    http=HttpOptions(timeout=10, retries=2, backoff=0.01, max_backoff=0.05), batch_size=3
)
# For the tests that hold the portal's answers: a client that would wait for them for ten
# minutes, so that only a real Cancel can end the sync within WAIT.
PATIENT = replace(FAST, http=replace(FAST.http, timeout=600))
LEFT = QtCore.Qt.MouseButton.LeftButton
WAIT = 15000  # ms: generous for a loaded machine; a passing test never waits this long
REMOTE = "portal"


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def qasync_loop(qapp: QtWidgets.QApplication, qtbot: QtBot) -> Iterator[asyncio.AbstractEventLoop]:
    """asyncio on the test's Qt event loop, as application.run_gui sets it up.

    In the application qasync's run_forever spins Qt's loop; here qtbot spins it (waitSignal,
    waitUntil), so the loop is marked running by hand. qasync's `already_running=True` would
    do the same, but its stop() calls QApplication.exit(), after which every later
    QEventLoop.exec (every qtbot wait of the session) returns at once.
    """
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    try:
        yield loop
    finally:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        qtbot.waitUntil(lambda: all(task.done() for task in left), timeout=WAIT)
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)
        # qasync keeps the Qt timers of cancelled call_later handles (httpx timeouts) on one
        # QObject until they would have fired; delete it now, on its own thread, rather than
        # whenever a worker thread's allocation happens to run the garbage collector.
        timer = loop._timer
        timer.deleteLater()
        QtCore.QCoreApplication.sendPostedEvents(timer, QtCore.QEvent.Type.DeferredDelete)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """A machine without any keyring: keyring's own "fail" backend."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[FakeDataPress]:
    with FakeDataPress(tmp_path / "portal.sqlite") as fake:
        yield fake


@pytest.fixture
def window(qasync_loop: asyncio.AbstractEventLoop, main_window: MainWindow) -> MainWindow:
    # Requested after the loop, so the window is closed (teardown) before the loop is.
    main_window.sync.options = FAST
    return main_window


@pytest.fixture
def linked_ids(
    qtbot: QtBot, window: MainWindow, portal: FakeDataPress, memory_keyring: MemoryKeyring
) -> list[str]:
    """The portal's datasets (see `seed`), and a remote for it with its key in the keyring."""
    ids = seed(portal)
    add_remote(qtbot, window, portal.url, portal.key)
    return ids


@pytest.fixture
def pulled_ids(
    qtbot: QtBot, window: MainWindow, portal: FakeDataPress, linked_ids: list[str]
) -> list[str]:
    """The same, pulled here through the window."""
    pull_all(qtbot, window, portal)
    return linked_ids


# -- helpers -----------------------------------------------------------------------------------


def titles_shown(window: MainWindow) -> list[str]:
    model = window.model
    return sorted(
        str(model.data(model.index(row, TITLE_COLUMN))) for row in range(model.rowCount())
    )


def local_ids(database: Database) -> list[str]:
    with database.read() as session:
        return list(session.scalars(select(Dataset.id).order_by(Dataset.id)))


def local_record(database: Database, dataset_id: str) -> Record:
    with database.read() as session:
        return datasets.get_record(session, dataset_id)


def assert_both_sides_agree(database: Database, portal: FakeDataPress) -> None:
    """Every dataset holds the same synced fields here and on the portal: no lost edit."""
    assert local_ids(database) == sorted(portal.ids())
    for dataset_id in portal.ids():
        mine = canonical(local_record(database, dataset_id), CARRIED)
        theirs = canonical(portal.record(dataset_id), CARRIED)
        assert mine == theirs, dataset_id


def add_remote(qtbot: QtBot, window: MainWindow, url: str, key: str | None) -> None:
    """Set-up for the flows after the first test: the remote added through the service."""
    with window.database.transaction() as session:
        remotes.add_remote(session, REMOTE, "datapress", url, key=key)
    with qtbot.waitSignal(window.sync.remotesChanged, timeout=WAIT):
        window.sync.refresh_remotes()


def open_remotes(qtbot: QtBot, window: MainWindow) -> RemotesDialog:
    window.sync.remotes_action.trigger()
    dialog = window.sync.remotes_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def open_add(qtbot: QtBot, window: MainWindow, dialog: RemotesDialog) -> AddRemoteDialog:
    qtbot.mouseClick(dialog.add_button, LEFT)
    add = dialog.add_dialog
    assert add is not None and add.isVisible()
    qtbot.waitUntil(lambda: not window.tasks.busy, timeout=WAIT)  # the keyring probe answered
    return add


def fill_add(
    qtbot: QtBot, add: AddRemoteDialog, name: str, url: str, key: str | None = None
) -> None:
    for edit, text in ((add.name_edit, name), (add.url_edit, url)):
        edit.clear()
        qtbot.keyClicks(edit, text)
    add.kind_combo.setCurrentIndex(add.kind_combo.findData("datapress"))
    if key is not None:
        add.key_edit.clear()
        qtbot.keyClicks(add.key_edit, key)


def preview(qtbot: QtBot, window: MainWindow, direction: str) -> SyncPreviewDialog:
    """Sync > Pull from / Push to > portal, and wait for the preview."""
    with qtbot.waitSignal(window.sync.previewShown, timeout=WAIT) as shown:
        window.sync.menu_action("pull" if direction == "pull" else "push", REMOTE).trigger()
    dialog = shown.args[0]
    assert isinstance(dialog, SyncPreviewDialog) and dialog.isVisible()
    return dialog


def apply(qtbot: QtBot, window: MainWindow, dialog: SyncPreviewDialog) -> SyncResult:
    """Press Pull / Push in the preview and wait for the summary."""
    outcome: list[object] = []
    window.sync.finished.connect(outcome.append)
    window.sync.failed.connect(outcome.append)
    qtbot.mouseClick(dialog.apply_button, LEFT)
    qtbot.waitUntil(lambda: bool(outcome), timeout=WAIT)
    [result] = outcome
    assert isinstance(result, SyncResult), result
    assert window.sync.message_box is not None and window.sync.message_box.isVisible()
    return result


def assert_nothing_to_do(qtbot: QtBot, window: MainWindow, direction: str) -> None:
    dialog = preview(qtbot, window, direction)
    assert dialog.rows() == [["Nothing to change: both sides agree.", "", "", "", ""]]
    qtbot.mouseClick(dialog.cancel_button, LEFT)


def pull_all(qtbot: QtBot, window: MainWindow, portal: FakeDataPress) -> None:
    result = apply(qtbot, window, preview(qtbot, window, "pull"))
    assert result.ok, result
    qtbot.waitUntil(
        lambda: titles_shown(window) == sorted(portal.record(i)["title"] for i in portal.ids()),
        timeout=WAIT,
    )


def seed(portal: FakeDataPress) -> list[str]:
    return [
        portal.add(title="Bins collected", description="<p>Weekly rounds.</p>"),
        portal.add(title="Potholes", tags=["roads", "FOI"]),
        portal.add(title="Staff sickness", sharing="private"),
    ]


def retype(qtbot: QtBot, edit: QtWidgets.QLineEdit | QtWidgets.QPlainTextEdit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def save_form(qtbot: QtBot, window: MainWindow, title: str) -> None:
    qtbot.mouseClick(window.form.save_button, LEFT)
    # The save runs on the writer thread: the form is clean once it is stored.
    qtbot.waitUntil(lambda: not window.form.is_dirty(), timeout=WAIT)
    qtbot.waitUntil(lambda: title in titles_shown(window), timeout=WAIT)


def open_in_form(qtbot: QtBot, window: MainWindow, dataset_id: str) -> None:
    window.select_dataset(dataset_id)
    qtbot.waitUntil(lambda: window.form.record().get("id") == dataset_id)


# -- remotes -----------------------------------------------------------------------------------


def test_add_a_remote_test_it_and_remove_another(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    portal.add(title="Open one")
    portal.add(title="Closed one", sharing="private")
    dialog = open_remotes(qtbot, window)
    assert dialog.names() == []
    assert "No remote yet" in dialog.details.text()
    assert not window.sync.menu_action("pull", "No remotes: add one in Sync › Remotes…").isEnabled()

    add = open_add(qtbot, window, dialog)
    assert not add.keyring_banner.isVisible() and add.keyring_radio.isChecked()
    # A URL that is not http(s): the service's message appears under the field, nothing added.
    fill_add(qtbot, add, REMOTE, "ftp://data.example", portal.key)
    qtbot.mouseClick(add.add_button, LEFT)
    qtbot.waitUntil(lambda: add.error_labels["url"].isVisible(), timeout=WAIT)
    assert "http(s)" in add.error_labels["url"].text()
    assert memory_keyring.items == {}

    fill_add(qtbot, add, REMOTE, portal.url)
    changes: list[CatalogueChange] = []
    window.operations.catalogueChanged.connect(changes.append)
    with qtbot.waitSignal(add.finished, timeout=WAIT):
        qtbot.mouseClick(add.add_button, LEFT)
    qtbot.waitUntil(lambda: dialog.names() == [REMOTE], timeout=WAIT)
    # Written as one of the window's operations: announced once, as its own.
    window.operations.poll_now()
    qtbot.waitUntil(lambda: not window.operations.polling, timeout=WAIT)
    assert changes == [CatalogueChange(directory=True)]
    window.operations.catalogueChanged.disconnect(changes.append)
    row = dialog.row_text(REMOTE)
    assert (row["Kind"], row["URL"], row["Key"]) == (
        "DataPress",
        portal.url,
        "key in the OS keyring",
    )
    # The key went to the keyring, never to the catalogue file.
    assert list(memory_keyring.items.values()) == [portal.key]
    for path in tmp_path.glob("catalogue.sqlite*"):
        assert portal.key.encode() not in path.read_bytes()

    # Adding tested the connection straight away: what the key may do.
    qtbot.waitUntil(
        lambda: dialog.row_text(REMOTE)["What the key may do"] != "testing…", timeout=WAIT
    )
    assert dialog.row_text(REMOTE)["What the key may do"] == (
        "read, read private, edit · 2 datasets"
    )
    assert "no endpoint to create" in dialog.details.text()
    assert window.sync.menu_action("pull", REMOTE).isEnabled()

    # A second remote with a key the portal refuses: Test connection says so, clearly.
    add = open_add(qtbot, window, dialog)
    fill_add(qtbot, add, "wrong", portal.url, "not-a-key")
    with qtbot.waitSignal(add.finished, timeout=WAIT):
        qtbot.mouseClick(add.add_button, LEFT)
    qtbot.waitUntil(lambda: "wrong" in dialog.names(), timeout=WAIT)
    dialog.select("wrong")
    qtbot.waitUntil(
        lambda: dialog.row_text("wrong")["What the key may do"] == "key refused", timeout=WAIT
    )
    assert "not valid" in dialog.details.text()
    qtbot.mouseClick(dialog.test_button, LEFT)  # again, by hand
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=WAIT)
    assert dialog.row_text("wrong")["What the key may do"] == "key refused"

    # Remove it: asked first; its key leaves the keyring.
    qtbot.mouseClick(dialog.remove_button, LEFT)
    box = dialog.confirm_box
    assert box is not None and "wrong" in box.text()
    qtbot.mouseClick(box.button(QtWidgets.QMessageBox.StandardButton.Yes), LEFT)
    qtbot.waitUntil(lambda: dialog.names() == [REMOTE], timeout=WAIT)
    assert list(memory_keyring.items.values()) == [portal.key]
    with pytest.raises(KeyError):
        window.sync.menu_action("push", "wrong")


def test_without_a_keyring_the_dialog_says_so_and_offers_the_environment(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    no_keyring: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portal.add(title="Closed one", sharing="private")
    dialog = open_remotes(qtbot, window)
    add = open_add(qtbot, window, dialog)
    # Said before anything is typed; the keyring choice is gone, the alternative is chosen.
    assert add.keyring_banner.isVisible()
    banner = add.keyring_banner.text()
    assert "No OS keyring" in banner and "fail.Keyring" in banner and "plain-text" in banner
    assert not add.keyring_radio.isEnabled() and add.env_radio.isChecked()
    assert not add.key_edit.isEnabled()
    fill_add(qtbot, add, REMOTE, portal.url)
    qtbot.mouseClick(add.add_button, LEFT)  # no variable named yet
    assert "environment variable" in add.error_labels["key_env"].text()
    qtbot.keyClicks(add.env_edit, "PORTAL_KEY")
    with qtbot.waitSignal(add.finished, timeout=WAIT):
        qtbot.mouseClick(add.add_button, LEFT)
    qtbot.waitUntil(lambda: dialog.names() == [REMOTE], timeout=WAIT)
    assert dialog.row_text(REMOTE)["Key"] == "key from $PORTAL_KEY"
    # The variable is not set yet: the test says exactly that.
    qtbot.waitUntil(lambda: dialog.row_text(REMOTE)["What the key may do"] == "error", timeout=WAIT)
    assert "PORTAL_KEY, which is not set" in dialog.details.text()
    monkeypatch.setenv("PORTAL_KEY", portal.key)
    qtbot.mouseClick(dialog.test_button, LEFT)
    qtbot.waitUntil(
        lambda: dialog.row_text(REMOTE)["What the key may do"].startswith("read, read private"),
        timeout=WAIT,
    )


def test_a_keyring_that_refuses_at_add_time_is_reported_not_bypassed(
    qtbot: QtBot, window: MainWindow, portal: FakeDataPress, memory_keyring: MemoryKeyring
) -> None:
    dialog = open_remotes(qtbot, window)
    add = open_add(qtbot, window, dialog)
    assert not add.keyring_banner.isVisible()
    fill_add(qtbot, add, REMOTE, portal.url, portal.key)
    # The keyring goes away while the form is open.
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    qtbot.mouseClick(add.add_button, LEFT)
    qtbot.waitUntil(add.keyring_banner.isVisible, timeout=WAIT)
    assert "No OS keyring" in add.keyring_banner.text()
    assert add.env_radio.isChecked() and add.key_edit.text() == ""
    assert add.isVisible()
    with window.database.read() as session:
        assert remotes.list_remotes(session) == []  # nothing half-added


# -- pull, preview, push -----------------------------------------------------------------------


def test_pull_previews_first_then_the_datasets_appear(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    linked_ids: list[str],
) -> None:
    ids = linked_ids

    dialog = preview(qtbot, window, "pull")
    assert dialog.count_labels["local.create"].text() == "3 to create"
    assert dialog.count_labels["remote.update"].text() == "0 to update"
    rows = {row[0]: row for row in dialog.rows()}
    assert set(rows) == {f"{t}  (new)" for t in ("Bins collected", "Potholes", "Staff sickness")}
    assert rows["Potholes  (new)"][1] == "create"
    assert dialog.conflict_label.text() == "No conflicts."
    # Nothing is written before the person confirms; Cancel writes nothing at all.
    assert local_ids(database) == []
    with qtbot.waitSignal(window.sync.cancelled, timeout=WAIT) as cancelled:
        qtbot.mouseClick(dialog.cancel_button, LEFT)
    assert "nothing was written" in cancelled.args[0]
    assert local_ids(database) == [] and titles_shown(window) == []

    # This time from Sync > Remotes…, the remote's Pull button.
    remotes_dialog = open_remotes(qtbot, window)
    qtbot.waitUntil(lambda: remotes_dialog.names() == [REMOTE], timeout=WAIT)
    with qtbot.waitSignal(window.sync.previewShown, timeout=WAIT) as shown:
        qtbot.mouseClick(remotes_dialog.pull_button, LEFT)
    assert window.sync.remotes_dialog is None  # closed: the preview took over
    result = apply(qtbot, window, shown.args[0])
    assert sorted(result.local_created) == sorted(ids)
    box = window.sync.message_box
    assert box is not None and box.text() == "Pulled from portal: 3 created here."
    qtbot.waitUntil(
        lambda: titles_shown(window) == ["Bins collected", "Potholes", "Staff sickness"],
        timeout=WAIT,
    )
    assert_both_sides_agree(database, portal)
    # A second pull finds nothing to do, and says so.
    assert_nothing_to_do(qtbot, window, "pull")


def test_push_of_a_local_edit(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    pulled_ids: list[str],
) -> None:
    ids = pulled_ids

    open_in_form(qtbot, window, ids[0])
    retype(qtbot, window.form.description_edit, "<p>Weekly rounds, by ward.</p>")
    save_form(qtbot, window, "Bins collected")

    dialog = preview(qtbot, window, "push")
    assert dialog.count_labels["remote.update"].text() == "1 to update"
    [row] = dialog.rows()
    assert row[:3] == ["Bins collected  (" + ids[0] + ")", "", "update: Description"]
    assert portal.record(ids[0])["description"] == "<p>Weekly rounds.</p>"  # not yet
    result = apply(qtbot, window, dialog)
    assert result.remote_updated == [ids[0]]
    box = window.sync.message_box
    assert box is not None and box.text() == "Pushed to portal: 1 updated on the remote."
    assert portal.record(ids[0])["description"] == "<p>Weekly rounds, by ward.</p>"
    assert_both_sides_agree(database, portal)


def edit_title_and_tags_on_both_sides(
    qtbot: QtBot, window: MainWindow, portal: FakeDataPress, target: str
) -> None:
    """The same two fields edited here (through the form) and on the portal."""
    open_in_form(qtbot, window, target)
    retype(qtbot, window.form.title_edit, "Potholes (ours)")
    qtbot.keyClicks(window.form.tags_editor.input, "ours")
    qtbot.keyClick(window.form.tags_editor.input, QtCore.Qt.Key.Key_Return)
    save_form(qtbot, window, "Potholes (ours)")
    portal.edit(target, title="Potholes (theirs)", tags=["roads", "FOI", "theirs"])


def push_taking_theirs_and_merging(qtbot: QtBot, window: MainWindow, target: str) -> None:
    """Push; in the conflict dialog take their title and edit the merged tags; apply."""
    dialog = preview(qtbot, window, "push")
    [row] = dialog.rows()
    assert row[0] == f"Potholes (ours)  ({target})" and row[3] == "Tags, Title"
    assert dialog.conflict_label.text().startswith("2 conflicts: 0 resolved.")

    qtbot.mouseClick(dialog.resolve_button, LEFT)
    conflicts = dialog.conflict_dialog
    assert isinstance(conflicts, ConflictDialog) and conflicts.isVisible()
    # Title, side by side: take theirs.
    conflicts.select(target, "title")
    assert conflicts.heading.text() == "Potholes (ours) — Title"
    sides = (conflicts.base_side, conflicts.mine_side, conflicts.theirs_side)
    assert [s.text.toPlainText() for s in sides] == [
        "Potholes",
        "Potholes (ours)",
        "Potholes (theirs)",
    ]
    qtbot.mouseClick(conflicts.theirs_radio, LEFT)
    # Tags: edit the merged value, JSON pre-filled with mine and checked before it is taken.
    conflicts.select(target, "tags")
    assert '"theirs"' in conflicts.theirs_side.text.toPlainText()
    qtbot.mouseClick(conflicts.merged_radio, LEFT)
    assert '"ours"' in conflicts.merged_edit.toPlainText()
    assert conflicts.merged_edit.isEnabled()
    retype(qtbot, conflicts.merged_edit, '["roads", "FOI", "ours",')
    assert conflicts.merged_error.text().startswith("Not valid JSON")
    assert not conflicts.ok_button.isEnabled()
    retype(qtbot, conflicts.merged_edit, '{"roads": 1}')
    assert conflicts.merged_error.text() == "Must be a JSON list of strings."
    retype(qtbot, conflicts.merged_edit, '["roads", "roads"]')
    assert conflicts.merged_error.text() == "contains duplicates"
    retype(qtbot, conflicts.merged_edit, '["roads", "FOI", "ours", "theirs"]')
    assert conflicts.merged_error.text() == ""
    assert conflicts.status_label.text() == "2 of 2 resolved" and conflicts.ok_button.isEnabled()
    qtbot.mouseClick(conflicts.ok_button, LEFT)
    assert dialog.conflict_label.text() == "2 conflicts: 2 resolved."

    result = apply(qtbot, window, dialog)
    assert result.ok and result.remote_updated == [target]
    box = window.sync.message_box
    assert box is not None
    assert "their value for 1 field(s): pull from portal" in box.informativeText()
    assert "1 merged value(s) written on the remote" in box.informativeText()


def test_a_conflict_is_resolved_in_the_dialog_then_pushed(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    pulled_ids: list[str],
) -> None:
    target = pulled_ids[1]
    edit_title_and_tags_on_both_sides(qtbot, window, portal, target)
    push_taking_theirs_and_merging(qtbot, window, target)

    # The portal holds their title and the merged tags; here nothing was overwritten.
    theirs = portal.record(target)
    assert theirs["title"] == "Potholes (theirs)"
    assert theirs["tags"] == ["roads", "FOI", "ours", "theirs"]
    mine = local_record(database, target)
    assert (mine["title"], mine["tags"]) == ("Potholes (ours)", ["roads", "FOI", "ours"])
    # "Take theirs" in a push: their title comes here with the next pull.
    dialog = preview(qtbot, window, "pull")
    [row] = dialog.rows()
    assert row[1].startswith("update: ") and "Title" in row[1] and row[3] == ""
    apply(qtbot, window, dialog)
    qtbot.waitUntil(lambda: window.form.title_edit.text() == "Potholes (theirs)", timeout=WAIT)
    qtbot.waitUntil(lambda: "Potholes (theirs)" in titles_shown(window), timeout=WAIT)
    assert local_record(database, target)["title"] == portal.record(target)["title"]


def test_a_merged_value_pushed_comes_home_with_the_next_pull(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    pulled_ids: list[str],
) -> None:
    target = pulled_ids[1]
    edit_title_and_tags_on_both_sides(qtbot, window, portal, target)
    push_taking_theirs_and_merging(qtbot, window, target)
    apply(qtbot, window, preview(qtbot, window, "pull"))
    assert local_record(database, target)["tags"] == ["roads", "FOI", "ours", "theirs"]
    assert_both_sides_agree(database, portal)


def test_a_merged_value_resolved_in_a_pull_then_pushed(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    pulled_ids: list[str],
) -> None:
    target = pulled_ids[0]
    open_in_form(qtbot, window, target)
    retype(qtbot, window.form.title_edit, "Bins collected (ours)")
    retype(qtbot, window.form.description_edit, "<p>Weekly rounds, by ward.</p>")
    save_form(qtbot, window, "Bins collected (ours)")
    portal.edit(target, title="Bins emptied", description="<p>Weekly rounds, by street.</p>")

    dialog = preview(qtbot, window, "pull")
    qtbot.mouseClick(dialog.resolve_button, LEFT)
    conflicts = dialog.conflict_dialog
    assert conflicts is not None
    conflicts.select(target, "title")
    qtbot.mouseClick(conflicts.mine_radio, LEFT)
    # A text field is merged as plain text, not JSON.
    conflicts.select(target, "description")
    assert conflicts.theirs_side.text.toPlainText() == "<p>Weekly rounds, by street.</p>"
    qtbot.mouseClick(conflicts.merged_radio, LEFT)
    assert conflicts.merged_edit.toPlainText() == "<p>Weekly rounds, by ward.</p>"
    retype(qtbot, conflicts.merged_edit, "<p>Weekly rounds, by ward and by street.</p>")
    assert conflicts.merged_error.text() == ""
    # Switching away and back keeps what was typed.
    conflicts.select(target, "title")
    assert conflicts.mine_radio.isChecked()
    conflicts.select(target, "description")
    assert conflicts.merged_edit.toPlainText() == "<p>Weekly rounds, by ward and by street.</p>"
    qtbot.mouseClick(conflicts.ok_button, LEFT)
    result = apply(qtbot, window, dialog)
    assert result.ok and result.local_updated == [target]
    box = window.sync.message_box
    assert box is not None and "your value for 1 field(s): push to portal" in box.informativeText()
    qtbot.waitUntil(
        lambda: (
            window.form.description_edit.toPlainText()
            == "<p>Weekly rounds, by ward and by street.</p>"
        ),
        timeout=WAIT,
    )
    assert window.form.title_edit.text() == "Bins collected (ours)"

    # The push carries my title and the merged description there: both sides agree.
    dialog = preview(qtbot, window, "push")
    [row] = dialog.rows()
    assert row[2] == "update: Description, Title"
    result = apply(qtbot, window, dialog)
    assert result.ok and result.remote_updated == [target]
    assert_both_sides_agree(database, portal)
    assert_nothing_to_do(qtbot, window, "pull")
    assert_nothing_to_do(qtbot, window, "push")


def test_conflicts_left_undecided_are_left_alone_on_both_sides(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    pulled_ids: list[str],
) -> None:
    ids = pulled_ids
    with database.transaction() as session:
        datasets.update_dataset(session, ids[0], {"title": "Bins (ours)"}, author="me")
    portal.edit(ids[0], title="Bins (theirs)")
    dialog = preview(qtbot, window, "pull")
    qtbot.mouseClick(dialog.resolve_button, LEFT)
    conflicts = dialog.conflict_dialog
    assert conflicts is not None
    assert conflicts.status_label.text() == "0 of 1 resolved"
    qtbot.mouseClick(
        conflicts.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Cancel), LEFT
    )
    result = apply(qtbot, window, dialog)
    assert result.unresolved == [(ids[0], "title")]
    box = window.sync.message_box
    assert box is not None and "1 conflict(s) left alone" in box.informativeText()
    assert local_record(database, ids[0])["title"] == "Bins (ours)"
    assert portal.record(ids[0])["title"] == "Bins (theirs)"


# -- cancel, errors, a live window -------------------------------------------------------------


def test_cancel_during_a_slow_pull_writes_nothing(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    linked_ids: list[str],
) -> None:
    held = portal.faults.add(Fault("hold", path="/api/dataset/", times=None))
    window.sync.options = PATIENT
    window.sync.menu_action("pull", REMOTE).trigger()
    progress = window.sync.progress_dialog
    assert progress is not None and progress.isVisible()
    # The listing came; the fetches are under way, their answers held.
    qtbot.waitUntil(lambda: progress.count_label.text() == "0 of 3 datasets", timeout=WAIT)
    qtbot.waitUntil(lambda: held.holding > 0, timeout=WAIT)
    # Cancel stops it without waiting for the answers.
    with qtbot.waitSignal(window.sync.cancelled, timeout=WAIT) as cancelled:
        qtbot.mouseClick(progress.cancel_button, LEFT)
    assert cancelled.args[0] == (
        "Pull from portal cancelled. Nothing was written, here or on the remote."
    )
    assert window.sync.preview_dialog is None and window.sync.progress_dialog is None
    assert local_ids(database) == []
    assert window.sync.menu_action("pull", REMOTE).isEnabled()


def test_cancel_while_pushing_keeps_both_sides_consistent(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    pulled_ids: list[str],
) -> None:
    ids = pulled_ids
    for dataset_id in ids[:2]:
        with database.transaction() as session:
            datasets.update_dataset(
                session, dataset_id, {"description": "<p>Edited here.</p>"}, author="me"
            )
    dialog = preview(qtbot, window, "push")
    assert dialog.count_labels["remote.update"].text() == "2 to update"
    # Before each write the push re-reads the dataset on the portal: hold those answers.
    held = portal.faults.add(Fault("hold", method="GET", path="/api/dataset/", times=None))
    window.sync.options = PATIENT
    qtbot.mouseClick(dialog.apply_button, LEFT)
    progress = window.sync.progress_dialog
    assert progress is not None and progress.isVisible()
    qtbot.waitUntil(lambda: held.holding == 2, timeout=WAIT)
    with qtbot.waitSignal(window.sync.cancelled, timeout=WAIT) as cancelled:
        qtbot.mouseClick(progress.cancel_button, LEFT)
    assert cancelled.args[0] == (
        "Push to portal cancelled. What was written before you cancelled is recorded; the "
        "next sync carries on from there."
    )
    assert portal.faults.requests("PATCH") == []
    assert portal.record(ids[0])["description"] == "<p>Weekly rounds.</p>"
    # The next push carries on: each edit lands once, and both sides agree.
    portal.faults.clear()
    window.sync.options = FAST
    dialog = preview(qtbot, window, "push")
    assert dialog.count_labels["remote.update"].text() == "2 to update"
    result = apply(qtbot, window, dialog)
    assert result.ok and sorted(result.remote_updated) == sorted(ids[:2])
    assert len(portal.faults.requests("PATCH")) == 2
    assert_both_sides_agree(database, portal)


def test_closing_the_window_during_a_sync_cancels_it_first(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    database: Database,
    linked_ids: list[str],
) -> None:
    held = portal.faults.add(Fault("hold", path="/api/dataset/", times=None))
    window.sync.options = PATIENT
    window.sync.menu_action("pull", REMOTE).trigger()
    progress = window.sync.progress_dialog
    assert progress is not None
    qtbot.waitUntil(lambda: progress.count_label.text() == "0 of 3 datasets", timeout=WAIT)
    qtbot.waitUntil(lambda: held.holding > 0, timeout=WAIT)
    window.close()
    assert window.isVisible()  # not yet: the sync stops first
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT)  # without the answers
    assert window.sync.running is None and window.sync.message_box is None
    assert local_ids(database) == []


def test_the_window_stays_live_while_a_portal_is_slow(
    qtbot: QtBot, window: MainWindow, portal: FakeDataPress, linked_ids: list[str]
) -> None:
    # Held until released, or for WAIT at most: a sync on the GUI thread would block the test
    # until then, then find no tick counted, and fail.
    held = portal.faults.add(Fault("hold", path="/api/datasets/export.json", delay=WAIT / 1000))
    window.sync.options = PATIENT
    ticks: list[int] = []  # timer ticks served while the portal's answer was held
    timer = QtCore.QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(1) if held.holding else None)
    timer.start()
    with qtbot.waitSignal(window.sync.previewShown, timeout=WAIT) as shown:
        window.sync.menu_action("pull", REMOTE).trigger()
        # The GUI thread serves its timer while the portal has not answered.
        qtbot.waitUntil(lambda: len(ticks) >= 10, timeout=WAIT)
        portal.faults.release()
    timer.stop()
    dialog = shown.args[0]
    assert isinstance(dialog, SyncPreviewDialog) and dialog.isVisible()
    qtbot.mouseClick(dialog.cancel_button, LEFT)


@pytest.mark.parametrize("trouble", ["down", "401", "429 storm", "500", "malformed"])
def test_errors_are_clear_messages_naming_the_remote_and_dataset(
    qtbot: QtBot,
    window: MainWindow,
    portal: FakeDataPress,
    memory_keyring: MemoryKeyring,
    database: Database,
    trouble: str,
) -> None:
    ids = seed(portal)
    url, key = portal.url, portal.key
    expected = [f"remote {REMOTE}"]
    if trouble == "down":
        sock = bind_socket()
        url = url_for(sock)
        sock.close()  # nobody listens there any more
        expected += ["cannot connect", "export.json"]
    elif trouble == "401":
        key = "not-a-key"
        expected += ["not valid", "export.json"]
    elif trouble == "429 storm":
        window.sync.options = replace(FAST, http=replace(FAST.http, rate_limit_retries=2))
        portal.faults.add(Fault("429", path="/api/dataset/", times=None, retry_after=0))
        expected += ["rate limited (429)", "dataset "]
    elif trouble == "500":
        portal.faults.add(Fault("500", path=f"/api/dataset/{ids[1]}", times=None))
        expected += [f"dataset {ids[1]}", "500"]
    else:
        # One dataset's bad answer only costs that dataset; a listing that stays unreadable
        # (after the retries) is what fails a pull.
        portal.faults.add(Fault("malformed", path="/api/datasets/export.json", times=None))
        expected += ["export.json", "not valid JSON"]
    add_remote(qtbot, window, url, key)

    with qtbot.waitSignal(window.sync.failed, timeout=WAIT) as failed:
        window.sync.menu_action("pull", REMOTE).trigger()
    message = failed.args[0]
    for words in expected:
        assert words in message, (words, message)
    box = window.sync.message_box
    assert box is not None and box.isVisible()
    assert box.text() == "Pull from portal failed."
    assert message in box.informativeText()
    assert "Nothing was written, here or on the remote." in box.informativeText()
    assert window.sync.preview_dialog is None
    assert local_ids(database) == []
    # The window is usable again: the next pull can start.
    assert window.sync.menu_action("pull", REMOTE).isEnabled()
