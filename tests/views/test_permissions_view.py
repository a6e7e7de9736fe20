"""The permissions view: users, groups, teams, rulesets and API keys, each change an operation
off the GUI thread, everything shown read off it too and again on catalogueChanged."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import event

from app.models.database import Database
from app.services import access, api_keys
from app.services.catalogue_watch import CatalogueChange
from app.services.errors import Unauthorized
from app.services.permissions import Permission
from app.services.records import Record
from app.views.api_key_dialog import ONCE_NOTE, ApiKeyDialog
from app.views.main_window import MainWindow
from app.views.permissions.models import is_checked
from app.views.permissions.rulesets_tab import NO_DATASET
from app.views.permissions_view import PermissionsView
from app.views.qt import QtCore, QtGui, QtWidgets
from tests.views.conftest import another_writer_holds_the_lock

Qt = QtCore.Qt

# The offscreen platform plugin complains when a window is shown; that is no fault of ours.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def view(qtbot: QtBot, database: Database) -> PermissionsView:
    widget = PermissionsView(database)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: not widget.reading)  # read off the GUI thread
    return widget


@pytest.fixture
def people(database: Database) -> dict[str, int]:
    with database.transaction() as session:
        ann = access.create_user(session, "ann", display_name="Ann Example").id
        bob = access.create_user(session, "bob").id
        analysts = access.create_group(session, "Analysts").id
    return {"ann": ann, "bob": bob, "Analysts": analysts}


# pytest-qt's QtBot is untyped: every call into it goes through these few typed helpers.


def click(qtbot: QtBot, button: QtWidgets.QAbstractButton) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def type_text(qtbot: QtBot, widget: QtWidgets.QWidget, text: str) -> None:
    qtbot.keyClicks(widget, text)


def press(qtbot: QtBot, widget: QtWidgets.QWidget, key: QtCore.Qt.Key) -> None:
    qtbot.keyClick(widget, key)


def tick(qtbot: QtBot, check: QtWidgets.QCheckBox) -> None:
    """Toggle a check box the way a keyboard user does (independent of the style's geometry)."""
    check.setFocus()
    press(qtbot, check, Qt.Key.Key_Space)


def press_space_on(qtbot: QtBot, view: QtWidgets.QAbstractItemView, row: int, col: int) -> None:
    """Toggle the check box of an item view's cell with the keyboard, as a person would."""
    index = view.model().index(row, col)
    view.setCurrentIndex(index)
    view.setFocus()
    press(qtbot, view, Qt.Key.Key_Space)


def cell(view: QtWidgets.QAbstractItemView, row: int, column: int = 0) -> QtCore.QModelIndex:
    index = view.model().index(row, column)
    assert index.isValid(), (row, column)
    return index


def text(view: QtWidgets.QAbstractItemView, row: int, column: int = 0) -> str:
    return str(cell(view, row, column).data())


def select_row(qtbot: QtBot, table: QtWidgets.QTableView, row: int) -> None:
    table.scrollTo(cell(table, row, 0))
    rect = table.visualRect(cell(table, row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def cells(table: QtWidgets.QTableView, row: int) -> list[str]:
    return [text(table, row, column) for column in range(table.model().columnCount())]


def row_of(table: QtWidgets.QTableView, text: str) -> int:
    rows = [r for r in range(table.model().rowCount()) if text in cells(table, r)]
    assert len(rows) == 1, (text, rows)
    return rows[0]


def checked(view: QtWidgets.QAbstractItemView, row: int, column: int = 0) -> bool:
    return is_checked(cell(view, row, column).data(Qt.ItemDataRole.CheckStateRole))


def recording(answer: bool, asked: list[str]) -> Callable[[str, str], bool]:
    """A confirmation that answers `answer` and remembers each question."""

    def confirm(_title: str, text: str) -> bool:
        asked.append(text)
        return answer

    return confirm


def reread(qtbot: QtBot, view: PermissionsView) -> None:
    """Re-read what the view shows (off the GUI thread) and wait until it is shown."""
    with qtbot.waitSignal(view.loaded):
        view.refresh()


def show_dataset(qtbot: QtBot, view: PermissionsView, dataset_id: str | None) -> None:
    """Show this dataset's rulesets, once read."""
    with qtbot.waitSignal(view.rulesets.loaded):
        view.set_dataset(dataset_id)


# ----------------------------------------------------------------------------- users, groups, teams


def test_add_user_then_join_a_team_and_a_group(
    qtbot: QtBot, view: PermissionsView, database: Database
) -> None:
    type_text(qtbot, view.teams.id_edit, "fin01")
    type_text(qtbot, view.teams.title_edit, "Finance")
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.teams.add_button)
    type_text(qtbot, view.groups.title_edit, "Analysts")
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.groups.add_button)

    type_text(qtbot, view.users.username_edit, "ann")
    type_text(qtbot, view.users.display_name_edit, "Ann Example")
    type_text(qtbot, view.users.email_edit, "ann@example.org")
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.users.add_button)
    assert view.users.username_edit.text() == ""
    assert cells(view.users.table, 0) == ["ann", "Ann Example", "ann@example.org", "", ""]
    # The new user is selected, so their memberships can be set straight away.
    assert view.users.membership_box.isEnabled()
    assert view.users.membership_box.title() == "Memberships of ann"

    assert text(view.users.teams_list, 0) == "Finance (fin01)"
    with qtbot.waitSignal(view.changed):
        press_space_on(qtbot, view.users.teams_list, 0, 0)
    with qtbot.waitSignal(view.changed):
        press_space_on(qtbot, view.users.groups_list, 0, 0)
    assert cells(view.users.table, 0)[3:] == ["Finance", "Analysts"]
    assert checked(view.users.teams_list, 0) and checked(view.users.groups_list, 0)
    with database.read() as session:
        [ann] = access.user_summaries(session)
        [team] = access.team_summaries(session)
        [group] = access.group_summaries(session)
    assert (ann.username, ann.email, ann.team_ids, ann.group_ids) == (
        "ann",
        "ann@example.org",
        ("fin01",),
        (group.id,),
    )
    assert team.member_ids == group.member_ids == (ann.id,)
    assert cells(view.teams.table, 0) == ["fin01", "Finance", "1"]

    # Leave the group from the Groups tab: the Users tab follows.
    view.tabs.setCurrentIndex(1)
    select_row(qtbot, view.groups.table, 0)
    assert view.groups.members_box.title() == "Members of Analysts"
    assert checked(view.groups.members_list, 0)
    with qtbot.waitSignal(view.changed):
        press_space_on(qtbot, view.groups.members_list, 0, 0)
    assert cells(view.groups.table, 0) == ["Analysts", "", "0"]
    assert cells(view.users.table, 0)[4] == ""
    with database.read() as session:
        assert access.group_summaries(session)[0].member_ids == ()


def test_refused_input_is_shown_next_to_its_field(
    qtbot: QtBot, view: PermissionsView, database: Database, people: dict[str, int]
) -> None:
    reread(qtbot, view)
    type_text(qtbot, view.users.username_edit, "ann")
    type_text(qtbot, view.users.email_edit, "not an email")
    with qtbot.assertNotEmitted(view.changed):
        click(qtbot, view.users.add_button)
        qtbot.waitUntil(lambda: not view.operations.busy)  # refused on the writer thread
    assert (
        view.users.username_error.isVisible() and view.users.username_error.text() == "ann is taken"
    )
    assert view.users.email_error.isVisible()
    assert view.users.email_error.text() == "is not an email address"
    assert view.users.username_edit.text() == "ann"  # nothing typed is lost

    view.users.username_edit.clear()
    type_text(qtbot, view.users.username_edit, "cat")
    view.users.email_edit.clear()
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.users.add_button)
    assert not view.users.username_error.isVisible() and not view.users.email_error.isVisible()

    view.tabs.setCurrentIndex(2)
    type_text(qtbot, view.teams.id_edit, "AB")
    with qtbot.assertNotEmitted(view.changed):
        click(qtbot, view.teams.add_button)
        qtbot.waitUntil(lambda: not view.operations.busy)
    assert view.teams.id_error.isVisible()
    assert view.teams.id_error.text() == "must be 5 lower-case letters or digits"
    with database.read() as session:
        assert access.team_summaries(session) == []
        assert [u.username for u in access.user_summaries(session)] == ["ann", "bob", "cat"]


# ----------------------------------------------------------------------------- rulesets


def test_grant_a_group_a_ruleset_then_edit_and_remove_it(
    qtbot: QtBot,
    view: PermissionsView,
    database: Database,
    new_dataset: Record,
    people: dict[str, int],
) -> None:
    dataset_id = new_dataset["id"]
    reread(qtbot, view)
    show_dataset(qtbot, view, dataset_id)
    view.tabs.setCurrentIndex(3)
    assert dataset_id in view.rulesets.dataset_label.text()
    assert view.rulesets.table.model().rowCount() == 0

    view.rulesets.kind_combo.setCurrentIndex(view.rulesets.kind_combo.findText("Group"))
    assert view.rulesets.target_combo.currentText() == "Analysts"
    explore = view.rulesets.checks[Permission.EXPLORE_RESTRICTED_DATASET]
    tick(qtbot, explore)
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.rulesets.add_button)

    table = view.rulesets.table
    assert table.model().rowCount() == 1
    assert [text(table, 0, c) for c in (0, 1)] == ["Group", "Analysts"]
    assert [checked(table, 0, c) for c in range(2, 6)] == [True, False, False, False]
    assert not explore.isChecked()  # the form is ready for the next ruleset
    with database.read() as session:
        assert access.list_rulesets(session, dataset_id) == [
            access.RulesetInfo(
                "group", people["Analysts"], "Analysts", ["explore_restricted_dataset"]
            )
        ]

    # Tick "Edit" in the table.
    with qtbot.waitSignal(view.changed):
        press_space_on(qtbot, table, 0, 3)
    with database.read() as session:
        [ruleset] = access.list_rulesets(session, dataset_id)
    assert ruleset.permissions == ["explore_restricted_dataset", "edit_dataset"]

    # A second ruleset for the same group is refused, with the reason beside the target.
    tick(qtbot, view.rulesets.checks[Permission.MANAGE_DATASET])
    with qtbot.assertNotEmitted(view.changed):
        click(qtbot, view.rulesets.add_button)
    assert view.rulesets.target_error.isVisible()
    assert "has a ruleset already" in view.rulesets.target_error.text()

    # Remove it, after confirming.
    asked: list[str] = []
    view.confirm = recording(True, asked)
    select_row(qtbot, table, 0)
    assert view.rulesets.remove_button.isEnabled()
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.rulesets.remove_button)
    assert len(asked) == 1 and "Analysts" in asked[0]
    assert table.model().rowCount() == 0
    with database.read() as session:
        assert access.list_rulesets(session, dataset_id) == []


def test_unticking_the_last_permission_removes_the_ruleset(
    qtbot: QtBot,
    view: PermissionsView,
    database: Database,
    new_dataset: Record,
    people: dict[str, int],
) -> None:
    dataset_id = new_dataset["id"]
    with database.transaction() as session:
        access.set_user_ruleset(session, dataset_id, people["bob"], ["publish_dataset"])
    show_dataset(qtbot, view, dataset_id)
    view.tabs.setCurrentIndex(3)
    table = view.rulesets.table
    assert [text(table, 0, c) for c in (0, 1)] == ["User", "bob"]
    assert [checked(table, 0, c) for c in range(2, 6)] == [False, False, True, False]
    with qtbot.waitSignal(view.changed):
        press_space_on(qtbot, table, 0, 4)
    qtbot.waitUntil(lambda: table.model().rowCount() == 0)
    with database.read() as session:
        assert access.list_rulesets(session, dataset_id) == []


def test_without_a_dataset_rulesets_cannot_be_edited(
    qtbot: QtBot, view: PermissionsView, new_dataset: Record, people: dict[str, int]
) -> None:
    view.tabs.setCurrentIndex(3)
    assert view.rulesets.dataset_label.text() == NO_DATASET
    assert not view.rulesets.add_box.isEnabled()
    show_dataset(qtbot, view, new_dataset["id"])
    assert view.rulesets.add_box.isEnabled()
    show_dataset(qtbot, view, "zzzzz")
    assert "does not exist" in view.rulesets.dataset_label.text()
    assert not view.rulesets.add_box.isEnabled()
    show_dataset(qtbot, view, None)
    assert view.rulesets.dataset_label.text() == NO_DATASET
    assert view.rulesets.table.model().rowCount() == 0


# ----------------------------------------------------------------------------- API keys


def test_create_an_api_key_see_it_once_then_revoke_it(
    qtbot: QtBot, view: PermissionsView, database: Database, people: dict[str, int]
) -> None:
    reread(qtbot, view)
    view.tabs.setCurrentIndex(4)
    assert view.keys.table.model().rowCount() == 0
    click(qtbot, view.keys.new_button)
    dialog = view.key_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    dialog.user_combo.setCurrentIndex(dialog.user_combo.findData(people["ann"]))
    assert dialog.user_combo.currentText() == "ann (Ann Example)"
    type_text(qtbot, dialog.label_edit, "harvester")
    with qtbot.waitSignals([dialog.created, view.changed]):
        click(qtbot, dialog.create_button)

    key = dialog.key_field.text()
    assert key.startswith(api_keys.KEY_PREFIX)
    assert dialog.key_field.isReadOnly() and dialog.key_field.isVisible()
    assert dialog.once_note.isVisible() and dialog.once_note.text() == ONCE_NOTE
    assert "You will not see it again" in ONCE_NOTE
    with database.read() as session:
        principal = api_keys.authenticate(session, key)
        [info] = api_keys.api_key_summaries(session)
    assert (principal.name, principal.user_id) == ("ann", people["ann"])

    click(qtbot, dialog.copy_button)
    assert QtGui.QGuiApplication.clipboard().text() == key
    assert dialog.copied_label.text() == "Copied to the clipboard."

    # The list shows the key's uid and prefix, never the key.
    row = cells(view.keys.table, 0)
    assert row[:4] == [info.uid, "harvester", "ann", info.prefix + "…"]
    assert row[5] == ""
    assert key not in " ".join(row)

    left_on_close: list[str] = []
    dialog.finished.connect(lambda _result: left_on_close.append(dialog.key))
    click(qtbot, dialog.done_buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Close))
    assert left_on_close == [""]  # the plain key does not outlive the dialog
    qtbot.waitUntil(lambda: view.key_dialog is None)  # deleted on close

    view.confirm = lambda title, text: True
    select_row(qtbot, view.keys.table, 0)
    assert view.keys.revoke_button.isEnabled()
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.keys.revoke_button)
    assert cells(view.keys.table, 0)[5] != ""
    assert not view.keys.revoke_button.isEnabled()
    with pytest.raises(Unauthorized), database.read() as session:
        api_keys.authenticate(session, key)


def test_declining_to_revoke_keeps_the_key(
    qtbot: QtBot, view: PermissionsView, database: Database, people: dict[str, int]
) -> None:
    with database.transaction() as session:
        issued = api_keys.create_api_key(session, people["bob"], "ci")
    reread(qtbot, view)
    view.tabs.setCurrentIndex(4)
    view.confirm = lambda title, text: False
    select_row(qtbot, view.keys.table, row_of(view.keys.table, "ci"))
    with qtbot.assertNotEmitted(view.changed):
        click(qtbot, view.keys.revoke_button)
    with database.read() as session:
        assert api_keys.authenticate(session, issued.key).name == "bob"


def test_new_key_needs_a_user(qtbot: QtBot, view: PermissionsView, database: Database) -> None:
    assert not view.keys.new_button.isEnabled()
    dialog = ApiKeyDialog(view.operations, [])
    qtbot.addWidget(dialog)
    assert not dialog.create_button.isEnabled()
    assert dialog.error_label.text() == "There are no active users. Add a user first."
    with database.read() as session:
        assert api_keys.api_key_summaries(session) == []


# ----------------------------------------------------------------------------- in the window


def issue_key(qtbot: QtBot, view: PermissionsView, user_id: int, label: str) -> ApiKeyDialog:
    """Open New key…, pick the user, type a label and click Create key (the write is queued)."""
    view.tabs.setCurrentWidget(view.keys)
    click(qtbot, view.keys.new_button)
    dialog = view.key_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    dialog.user_combo.setCurrentIndex(dialog.user_combo.findData(user_id))
    type_text(qtbot, dialog.label_edit, label)
    click(qtbot, dialog.create_button)
    return dialog


def key_labels(view: PermissionsView) -> list[str]:
    table = view.keys.table
    return [text(table, row, 1) for row in range(table.model().rowCount())]


@pytest.fixture
def window(qtbot: QtBot, database: Database, people: dict[str, int]) -> Iterator[MainWindow]:
    """The whole window, with ann and bob in its permissions view."""
    main = MainWindow(database, author="archivist")
    with qtbot.waitSignal(main.model.countChanged):
        main.show()
    main.side_tabs.setCurrentWidget(main.permissions)
    # Read, and watching: a write made while the watch opens could be announced twice.
    qtbot.waitUntil(lambda: not main.permissions.reading and main.operations.watching)
    yield main
    main.close()
    main.tasks.wait_for_all()
    main.deleteLater()


def test_a_key_issued_in_the_dialog_is_announced_and_shown_through_catalogue_changed(
    qtbot: QtBot, window: MainWindow, database: Database, people: dict[str, int]
) -> None:
    view = window.permissions
    assert key_labels(view) == []
    changes: list[CatalogueChange] = []
    window.operations.catalogueChanged.connect(changes.append)
    with qtbot.waitSignal(
        window.operations.catalogueChanged, check_params_cb=lambda change: change.directory
    ):
        dialog = issue_key(qtbot, view, people["bob"], "harvester")
    # The window's own write, for the directory (no dataset changed): the view re-reads.
    assert changes == [CatalogueChange(directory=True)]
    qtbot.waitUntil(lambda: key_labels(view) == ["harvester"])
    with database.read() as session:
        [info] = api_keys.api_key_summaries(session)
    qtbot.waitUntil(lambda: view.keys.revoke_button.isEnabled())  # the new key is selected
    assert cells(view.keys.table, 0)[:3] == [info.uid, "harvester", "bob"]
    assert dialog.key.startswith(api_keys.KEY_PREFIX)
    dialog.accept()


def test_a_directory_change_of_this_window_is_announced_once(
    qtbot: QtBot, window: MainWindow, people: dict[str, int]
) -> None:
    """The watch must not announce the window's own write again as made elsewhere (a second
    refresh of everything the window shows)."""
    changes: list[CatalogueChange] = []
    window.operations.catalogueChanged.connect(changes.append)
    with qtbot.waitSignal(window.permissions.changed):
        type_text(qtbot, window.permissions.groups.title_edit, "Auditors")
        click(qtbot, window.permissions.groups.add_button)
    window.operations.poll_now()  # the timer's look for others' commits, now
    qtbot.waitUntil(lambda: not window.operations.polling)
    assert changes == [CatalogueChange(directory=True)]


def test_issuing_a_key_behind_another_writers_lock_leaves_the_window_responsive(
    qtbot: QtBot, window: MainWindow, database: Database, people: dict[str, int]
) -> None:
    view = window.permissions
    with another_writer_holds_the_lock(database) as pings:
        dialog = issue_key(qtbot, view, people["ann"], "ci")
        # The event loop keeps answering while the key waits for the lock: 100 pings of
        # 30 ms (3 s) are counted while it is pending.
        qtbot.waitUntil(lambda: len(pings) >= 100)
        assert dialog.creating and window.operations.busy
        assert not dialog.create_button.isEnabled()  # one key per dialog
        press(qtbot, dialog, Qt.Key.Key_Escape)  # not closed with the key on its way
        assert dialog.isVisible() and dialog.pages.currentIndex() == 0
        with database.read() as session:
            assert api_keys.api_key_summaries(session) == []  # not yet
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1)
    assert dialog.key.startswith(api_keys.KEY_PREFIX)
    qtbot.waitUntil(lambda: key_labels(view) == ["ci"])
    dialog.accept()


def test_a_refused_key_is_said_in_the_dialog_and_changes_nothing(
    qtbot: QtBot, window: MainWindow, database: Database, people: dict[str, int]
) -> None:
    # The dialog lists the users the view showed; one of them is gone from the catalogue.
    gone = access.UserSummary(999, "ghost", "", None, True, (), ())
    dialog = ApiKeyDialog(window.operations, [gone], window)
    qtbot.addWidget(dialog)
    dialog.open()
    with qtbot.assertNotEmitted(window.operations.catalogueChanged):
        click(qtbot, dialog.create_button)
        qtbot.waitUntil(lambda: not window.operations.busy)
    assert dialog.error_label.text() == "User 999 does not exist"
    assert dialog.pages.currentIndex() == 0 and dialog.create_button.isEnabled()
    assert window.failures.last_dialog is None  # said in the dialog, not in a second one
    with database.read() as session:
        assert api_keys.api_key_summaries(session) == []


def test_a_directory_change_made_elsewhere_appears_in_the_view(
    qtbot: QtBot, window: MainWindow, database: Database, people: dict[str, int]
) -> None:
    view = window.permissions
    assert [text(view.users.table, row) for row in range(2)] == ["ann", "bob"]
    other = Database(database.url)  # another program: a connection of its own
    try:
        with other.transaction() as session:
            access.create_user(session, "cat")
    finally:
        other.dispose()
    with qtbot.waitSignal(window.operations.catalogueChanged):
        window.operations.poll_now()
    qtbot.waitUntil(lambda: view.users.table.model().rowCount() == 3)
    assert text(view.users.table, 2) == "cat"


def test_a_newer_refresh_supersedes_an_older_one_and_keeps_its_callbacks(
    qtbot: QtBot, view: PermissionsView, database: Database
) -> None:
    ran: list[str] = []
    view.refresh(then=lambda: ran.append("first"))
    with database.transaction() as session:
        access.create_user(session, "dan")
    with qtbot.waitSignal(view.loaded):
        view.refresh(then=lambda: ran.append("second"))
    qtbot.waitUntil(lambda: not view.reading)
    assert sorted(ran) == ["first", "second"]  # each once, neither lost
    assert [text(view.users.table, 0)] == ["dan"]  # the newest read is what is shown


def test_opening_a_dataset_reads_nothing_on_the_gui_thread(
    qtbot: QtBot, new_dataset: Record, window: MainWindow, database: Database
) -> None:
    """The form's lists (teams, users, topics...), the dataset's rulesets and its history are
    read with the record, off the GUI thread: a slow catalogue never freezes a selection."""
    dataset_id = new_dataset["id"]
    qtbot.waitUntil(lambda: window.model.rowCount() == 1)
    view = window.permissions
    type_text(qtbot, view.users.username_edit, "cat")  # a user the form has not seen yet
    with qtbot.waitSignal(view.changed):
        click(qtbot, view.users.add_button)
    on_gui_thread: list[str] = []
    gui = threading.current_thread()

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is gui:
            on_gui_thread.append(statement)

    event.listen(database.engine, "before_cursor_execute", executed)
    try:
        window.select_dataset(dataset_id)
        qtbot.waitUntil(
            lambda: (
                window.form.record().get("id") == dataset_id
                and view.rulesets.dataset_id == dataset_id
                and not view.reading
                and window.history.versions_table.rowCount() == 1
            )
        )
    finally:
        event.remove(database.engine, "before_cursor_execute", executed)
    assert on_gui_thread == []
    assert dataset_id in window.permissions.rulesets.dataset_label.text()
    assert window.permissions.rulesets.add_box.isEnabled()
    collaborators = window.form.collaborators_list
    offered = [collaborators.item(row).text() for row in range(collaborators.count())]
    assert offered == ["Ann Example (ann)", "bob (bob)", "cat (cat)"]  # read with the record
