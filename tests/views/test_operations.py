"""The window's writes through one operation API: off the GUI thread, undoable without loss,
announced by one catalogueChanged (for others' writes too), failures shown in one place.

Driven through the real widgets, on a real SQLite file, with a real uvicorn server for PATCH.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from app.models.database import Database
from app.services import access, api_keys, datasets, history, publication
from app.services.catalogue_watch import CatalogueChange
from app.services.server import ServerThread, create_app
from app.views.failures import FailureReporter
from app.views.main_window import MainWindow
from app.views.operations import LatestRead, Operations, Outcome, change_of
from app.views.qt import QtCore, QtWidgets
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import (
    WAIT_MS,
    another_writer_holds_the_lock,
    open_in_form,
    saying_yes,
    titles_shown,
    wait_for_writes,
)

LEFT = QtCore.Qt.MouseButton.LeftButton
STATE_COLUMN = 2


@dataclass(frozen=True)
class Desk:
    ids: dict[str, str]  # title -> id
    key: str  # an API key of bob, who may edit the team's datasets


@pytest.fixture
def desk(database: Database) -> Desk:
    with database.transaction() as session:
        bob = access.create_user(session, "bob")
        access.create_team(session, "tm001", "Team One")
        access.add_to_team(session, "tm001", bob.id)
        ids = {}
        for title in ("Street Trees", "Parking Fines", "Library Loans"):
            record = datasets.create_dataset(
                session, make_record(title=title, team="tm001"), author=AUTHOR
            )
            publication.publish(session, record["id"], author=AUTHOR)
            ids[title] = record["id"]
        key = api_keys.create_api_key(session, bob.id).key
    return Desk(ids, key)


@pytest.fixture
def server(database: Database, desk: Desk) -> Iterator[str]:
    """The catalogue served by a real uvicorn, with its own engine: another writer."""
    other = Database(database.url)
    thread = ServerThread(create_app(other))
    thread.start()
    yield thread.url
    thread.stop()
    other.dispose()


def patch(url: str, key: str, dataset_id: str, operations: list[dict[str, object]]) -> None:
    response = httpx.patch(
        f"{url}/api/dataset/{dataset_id}",
        content=orjson.dumps(operations),
        headers={"Content-Type": "application/json-patch+json", "Authorization": key},
        timeout=20,
    )
    assert response.status_code == 200, response.text


def record_of(database: Database, dataset_id: str) -> dict[str, object]:
    with database.read() as session:
        return dict(datasets.get_record(session, dataset_id))


def retype(qtbot: QtBot, edit: QtWidgets.QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def save(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.mouseClick(window.form.save_button, LEFT)
    wait_for_writes(qtbot, window)


def selected_ids(window: MainWindow) -> list[str | None]:
    rows = window.table.selectionModel().selectedRows()
    return [window.model.dataset_id_at(index.row()) for index in rows]


def message_shown(window: MainWindow) -> str:
    dialog = window.failures.last_dialog
    return dialog.text() if dialog is not None else ""


# -- catalogueChanged ---------------------------------------------------------------------------


def test_a_patch_through_the_server_appears_in_the_open_window(
    qtbot: QtBot, desk: Desk, main_window: MainWindow, server: str
) -> None:
    window = main_window
    trees = desk.ids["Street Trees"]
    open_in_form(qtbot, window, trees)
    with qtbot.waitSignal(
        window.operations.catalogueChanged,
        check_params_cb=lambda change: trees in change.datasets and change.outside,
    ):
        patch(server, desk.key, trees, [{"op": "replace", "path": "/title", "value": "Trees"}])
    qtbot.waitUntil(lambda: window.form.title_edit.text() == "Trees")
    qtbot.waitUntil(lambda: "Trees" in titles_shown(window))
    assert selected_ids(window) == [trees]
    assert not window.form.is_dirty()


def test_undo_after_a_server_patch_changes_nothing_and_says_why(
    qtbot: QtBot, desk: Desk, main_window: MainWindow, database: Database, server: str
) -> None:
    window = main_window
    trees = desk.ids["Street Trees"]
    open_in_form(qtbot, window, trees)
    retype(qtbot, window.form.title_edit, "Street Trees 2025")
    save(qtbot, window)
    assert window.undo_action.text() == "Undo edit of title"
    assert window.undo_action.iconText() == "Undo"  # the toolbar's button stays short

    with qtbot.waitSignal(window.operations.catalogueChanged):
        patch(server, desk.key, trees, [{"op": "add", "path": "/tags/-", "value": "portal"}])
    with database.read() as session:
        versions = len(history.list_versions(session, trees))

    with qtbot.waitSignal(window.undo.refused) as refused:
        window.undo_action.trigger()
    message = str(refused.args[0])
    assert message.startswith("Cannot undo the edit of title: “Street Trees 2025” was changed")
    assert "patch (tags) by bob" in message and message.endswith("Nothing was changed.")
    assert message_shown(window) == message
    after = record_of(database, trees)
    assert after["title"] == "Street Trees 2025"
    assert after["tags"] == ["FOI", "Freedom of Information", "portal"]
    with database.read() as session:
        assert len(history.list_versions(session, trees)) == versions


def test_on_postgresql_others_commits_are_announced_by_their_notification(
    qtbot: QtBot, pg_database: Database
) -> None:
    with pg_database.transaction() as session:
        trees, fines = (
            datasets.create_dataset(session, make_record(title=title), author=AUTHOR)["id"]
            for title in ("Street Trees", "Parking Fines")
        )
    parent = QtWidgets.QWidget()
    # An hour between fallback polls: within the wait, only a notification announces a change.
    operations = Operations(pg_database, FailureReporter(parent), parent, fallback_s=3600)
    announced: list[CatalogueChange] = []
    operations.catalogueChanged.connect(announced.append)
    operations.start_watching()
    qtbot.waitUntil(lambda: operations.watching)
    other = Database(pg_database.url)  # another writer: the server, a sync
    try:
        with qtbot.waitSignal(operations.catalogueChanged), other.transaction() as session:
            datasets.update_dataset(session, trees, {"title": "Theirs"}, author="bob")
        assert announced == [CatalogueChange(frozenset({trees}), outside=True)]

        # This window's own write is announced once, as its own: its notification is heard
        # (before the next one's) and left out.
        def rename(session: Session) -> Outcome[None]:
            datasets.update_dataset(session, fines, {"title": "Ours"}, author=AUTHOR)
            return Outcome(None, change_of([fines]))

        with qtbot.waitSignal(operations.catalogueChanged):
            operations.write("rename", rename)
        with qtbot.waitSignal(operations.catalogueChanged), other.transaction() as session:
            datasets.update_dataset(session, trees, {"title": "Theirs again"}, author="bob")
        assert announced[1:] == [
            CatalogueChange(frozenset({fines})),
            CatalogueChange(frozenset({trees}), outside=True),
        ]
    finally:
        assert operations.stop()
        other.dispose()
        parent.deleteLater()


# -- undo ---------------------------------------------------------------------------------------


def test_undo_after_a_restore_keeps_the_embargo(
    qtbot: QtBot, desk: Desk, main_window: MainWindow, database: Database
) -> None:
    """The walk of issue 13: embargo, save, restore an older version, click, Ctrl+Z."""
    window = main_window
    trees, fines = desk.ids["Street Trees"], desk.ids["Parking Fines"]
    open_in_form(qtbot, window, trees)
    window.form.embargo_date.enabled_box.setChecked(True)
    window.form.embargo_date.date_edit.setDate(QtCore.QDate(2027, 3, 1))
    save(qtbot, window)
    assert record_of(database, trees)["embargoUntil"] == "2027-03-01"

    panel = window.history
    panel.confirm = lambda *_args: True
    qtbot.waitUntil(lambda: panel.versions_table.rowCount() == 3)
    panel.select_version(2)  # published, no embargo
    with qtbot.waitSignal(panel.restored):
        qtbot.mouseClick(panel.restore_button, LEFT)
    wait_for_writes(qtbot, window)
    assert record_of(database, trees)["embargoUntil"] is None
    assert window.undo_action.text() == "Undo restore of version 2"

    open_in_form(qtbot, window, fines)  # a click elsewhere in the table
    window.table.setFocus()
    with qtbot.waitSignal(window.undo.applied):
        window.undo_action.trigger()
    after = record_of(database, trees)
    assert (after["embargoUntil"], after["state"]) == ("2027-03-01", "published")
    # The dataset undone is the one shown, and its row the one highlighted.
    qtbot.waitUntil(lambda: window.form.record()["id"] == trees)
    assert window.form.embargo_date.value() == "2027-03-01"
    qtbot.waitUntil(lambda: selected_ids(window) == [trees])
    assert window.undo_action.text() == "Undo edit of embargo until"  # the save before it


def test_undo_of_a_delete_brings_the_dataset_back(
    qtbot: QtBot, desk: Desk, main_window: MainWindow, database: Database
) -> None:
    window = main_window
    fines = desk.ids["Parking Fines"]
    open_in_form(qtbot, window, fines)
    asked: list[str] = []
    window.confirm = saying_yes(asked)
    window.delete_action.trigger()
    wait_for_writes(qtbot, window)
    assert asked and asked[0].startswith("Delete “Parking Fines”?")
    qtbot.waitUntil(lambda: "Parking Fines" not in titles_shown(window))
    assert window.statusBar().currentMessage().startswith("Deleted 1 dataset")
    # The row that took its place is selected, and the form shows it.
    qtbot.waitUntil(lambda: len(selected_ids(window)) == 1)
    qtbot.waitUntil(lambda: window.form.record().get("id") == selected_ids(window)[0])

    assert window.undo_action.text() == "Undo delete"
    window.table.setFocus()
    with qtbot.waitSignal(window.undo.applied):
        window.undo_action.trigger()
    assert record_of(database, fines)["title"] == "Parking Fines"
    qtbot.waitUntil(lambda: "Parking Fines" in titles_shown(window))
    qtbot.waitUntil(lambda: window.form.record().get("id") == fines)
    assert window.redo_action.text() == "Redo delete"


# -- selection ----------------------------------------------------------------------------------


@pytest.fixture
def many(database: Database) -> list[str]:
    """40 published datasets and 5 drafts: sorting by state groups the published ones."""
    ids = []
    with database.transaction() as session:
        for n in range(45):
            record = datasets.create_dataset(
                session, make_record(title=f"Dataset {n:02}"), author=AUTHOR
            )
            if n < 40:
                publication.publish(session, record["id"], author=AUTHOR)
            ids.append(record["id"])
    return ids


def test_unpublish_keeps_one_row_selected(
    qtbot: QtBot, many: list[str], main_window: MainWindow, database: Database
) -> None:
    window = main_window
    with qtbot.waitSignal(window.model.countChanged):
        window.table.sortByColumn(STATE_COLUMN, QtCore.Qt.SortOrder.DescendingOrder)
    target = many[20]
    open_in_form(qtbot, window, target)
    assert selected_ids(window) == [target]
    assert window.unpublish_action.isEnabled()

    window.unpublish_action.trigger()
    wait_for_writes(qtbot, window)
    assert record_of(database, target)["state"] == "draft"
    # It moved to the drafts; still the one highlighted row, in view, shown in the form.
    qtbot.waitUntil(lambda: window.model.dataset_id_at(window.table.currentIndex().row()) == target)
    assert selected_ids(window) == [target]
    assert window.selected_count() == 1
    qtbot.waitUntil(lambda: window.form.record()["state"] == "draft")
    assert window.form.record()["id"] == target
    rect = window.table.visualRect(window.table.currentIndex())
    assert window.table.viewport().rect().intersects(rect)
    assert window.undo_action.text() == "Undo unpublish"


def test_sorting_filtering_and_saving_keep_the_same_dataset_selected(
    qtbot: QtBot, many: list[str], main_window: MainWindow
) -> None:
    window = main_window
    target = many[7]
    open_in_form(qtbot, window, target)

    with qtbot.waitSignal(window.model.countChanged):
        window.table.sortByColumn(1, QtCore.Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: selected_ids(window) == [target])
    assert window.table.currentIndex().row() == 45 - 1 - 7

    qtbot.keyClicks(window.search_box, "Dataset 07")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1)
    qtbot.waitUntil(lambda: selected_ids(window) == [target])

    window.search_box.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 45)
    qtbot.waitUntil(lambda: selected_ids(window) == [target])
    retype(qtbot, window.form.title_edit, "A dataset now first")
    save(qtbot, window)
    qtbot.waitUntil(lambda: window.table.currentIndex().row() == 44)  # descending: last
    assert selected_ids(window) == [target]
    assert window.form.record()["id"] == target


def test_actions_act_on_the_highlighted_rows_and_say_how_many(
    qtbot: QtBot, many: list[str], main_window: MainWindow, database: Database
) -> None:
    window = main_window
    open_in_form(qtbot, window, many[0])
    selection = window.table.selectionModel()
    flags = QtCore.QItemSelectionModel.SelectionFlag
    selection.select(
        QtCore.QItemSelection(window.model.index(1, 0), window.model.index(3, 0)),
        flags.Select | flags.Rows,
    )
    assert window.selected_count() == 4
    assert window.unpublish_action.text() == "&Unpublish 4 datasets"
    assert window.delete_action.text() == "&Delete 4 datasets…"
    window.unpublish_action.trigger()
    wait_for_writes(qtbot, window)
    assert window.statusBar().currentMessage() == "Unpublished 4 datasets"
    assert [record_of(database, i)["state"] for i in many[:5]] == [
        "draft", "draft", "draft", "draft", "published",
    ]  # fmt: skip
    assert window.undo_action.text() == "Undo unpublish of 4 datasets"


# -- off the GUI thread, failures ---------------------------------------------------------------


def test_a_save_behind_another_writers_lock_leaves_the_window_responsive(
    qtbot: QtBot, desk: Desk, main_window: MainWindow, database: Database
) -> None:
    window = main_window
    trees = desk.ids["Street Trees"]
    open_in_form(qtbot, window, trees)
    retype(qtbot, window.form.title_edit, "Street Trees, surveyed")
    with another_writer_holds_the_lock(database) as pings:
        qtbot.mouseClick(window.form.save_button, LEFT)
        # The event loop keeps answering while the save waits for the lock: 100 pings of
        # 30 ms (3 s) are counted while it is pending.
        qtbot.waitUntil(lambda: len(pings) >= 100)
        assert window.operations.busy
        assert record_of(database, trees)["title"] == "Street Trees"  # not yet
        assert window.statusBar().currentMessage() == "Saving…"
    wait_for_writes(qtbot, window)
    assert record_of(database, trees)["title"] == "Street Trees, surveyed"
    assert not window.form.is_dirty()


def test_a_bug_in_a_write_shows_its_details_and_is_logged(
    qtbot: QtBot, main_window: MainWindow, error_log: Path
) -> None:
    window = main_window

    def broken(_session: object) -> Outcome[None]:
        raise ZeroDivisionError("division by zero")

    window.operations.write("divide", broken)
    qtbot.waitUntil(lambda: window.failures.last_dialog is not None)
    dialog = window.failures.last_dialog
    assert dialog is not None
    assert dialog.icon() == QtWidgets.QMessageBox.Icon.Critical
    assert "while trying to divide: ZeroDivisionError" in dialog.text()
    assert str(error_log) in dialog.text()
    assert "in broken" in dialog.detailedText()
    assert "ZeroDivisionError" in error_log.read_text()
    dialog.close()


def test_an_expected_failure_is_a_message_saying_what_to_do(
    qtbot: QtBot, main_window: MainWindow, database: Database
) -> None:
    window = main_window

    def locked(_session: object) -> Outcome[None]:
        # What a write meets when another program holds the lock past the busy timeout.
        other = sqlite3.connect(str(database.engine.url.database), timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
        return Outcome(None, CatalogueChange())

    window.operations.write("save “Trees”", locked)
    qtbot.waitUntil(lambda: window.failures.last_dialog is not None)
    text = message_shown(window)
    assert text.startswith("Could not save “Trees”: Another program is writing to the catalogue")
    assert "Nothing was changed" in text
    window.failures.last_dialog.close()  # type: ignore[union-attr]


def test_ctrl_end_opens_the_last_row_once_its_data_arrives(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    with database.transaction() as session:
        datasets.create_datasets(
            session, [make_record(title=f"Row {n:03}") for n in range(350)], author=AUTHOR
        )
    window = main_window
    with qtbot.waitSignal(window.operations.catalogueChanged):
        window.operations.poll_now()
    qtbot.waitUntil(lambda: window.model.rowCount() == 350)
    open_in_form(qtbot, window, str(window.model.dataset_id_at(0)))
    window.table.setFocus()
    qtbot.keyClick(window.table, QtCore.Qt.Key.Key_End, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert window.table.currentIndex().row() == 349
    qtbot.waitUntil(lambda: window.form.record().get("title") == "Row 349")
    assert selected_ids(window) == [window.form.record()["id"]]


def test_a_newer_read_supersedes_an_older_one_that_answers_later(
    qtbot: QtBot, main_window: MainWindow
) -> None:
    """LatestRead, the guard of every view that re-reads on catalogueChanged: the newest read
    is shown, an older answer arriving after it is dropped, and no waiting callback is lost."""
    shown: list[str] = []
    ran: list[str] = []
    reads: LatestRead[str] = LatestRead(main_window.operations, "read", shown.append)
    release = threading.Event()

    def older(_session: object) -> str:
        release.wait(WAIT_MS / 1000)  # held until the newer read is shown
        return "older"

    task = reads.run(older, then=lambda: ran.append("first"))
    reads.run(lambda _session: "newer", then=lambda: ran.append("second"))
    qtbot.waitUntil(lambda: shown == ["newer"])
    assert ran == ["first", "second"] and not reads.pending
    with qtbot.waitSignal(task.signals.done):
        release.set()
    assert shown == ["newer"]  # the older answer was handed over, and dropped
