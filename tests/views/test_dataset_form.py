"""The dataset form, driven through its real widgets with pytest-qt."""

from __future__ import annotations

import copy
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import access, datasets, files, managed_lists
from app.services.progress import Progress
from app.services.records import Record
from app.views.child_list_editor import ChildListEditor
from app.views.dataset_form import DatasetForm
from app.views.qt import QtCore, QtGui, QtWidgets
from app.views.tasks import TaskRunner
from tests.conftest import AUTHOR

# The offscreen platform plugin warns when a top-level window's size constraints change; the form
# is a top-level window only in these tests (in the app it sits in the main window's tabs).
pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")

OGL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
LEFT = QtCore.Qt.MouseButton.LeftButton


def rich_record() -> Record:
    """Seed 002's example, with two resources and a link interleaved by `order`."""
    return {
        "id": "20abc",
        "title": "Freedom of Information Requests",
        "description": '<p>Page content <img src="x.png" /></p>',
        "descriptionText": "Page content",
        "descriptionIframe": "https://example.org/iframe.html",
        "masthead": "london-borough-of-barnet",
        "tags": ["FOI Requests", "FOI", "Freedom of Information"],
        "topics": ["council-and-democracy", "community-information"],
        "nextReviewDate": "2025-01-15",
        "licence": {"url": OGL, "title": "UK Open Government Licence (OGL v3)"},
        "contact": {"email": "opendata@barnet.gov.uk", "title": "Barnet Open Data Team"},
        "custom": {"unit": "Assurance", "retention": "3 months", "geography": ["London", "Barnet"]},
        "resources": {
            "k93": {
                "url": "https://data.website/download/k93/foi.csv",
                "order": 0,
                "title": "FOI requests received 2020-25",
                "description": "This file contains requests",
                "filename": "foi.csv",
                "timeFrame": {"gte": "2020-01", "lte": "2024-11"},
                "format": "csv",
                "hash": "2cdf3a47738b93492906e3ad7e415d1a",
                "size": 1337303,
                "timestamp": None,
                "origin": "/barnet/dataset/foi.csv",
            },
            "a1b": {
                "url": "https://data.website/download/a1b/foi.xlsx",
                "order": 1,
                "title": "FOI requests (Excel)",
                "description": "",
                "filename": "foi.xlsx",
                "timeFrame": {},
                "format": "xlsx",
                "hash": "0cdf3a47738b93492906e3ad7e415d1a",
                "size": 2337303,
                "timestamp": "2025-01-02T03:04:05",
                "origin": None,
            },
        },
        "links": {
            "0xd": {
                "url": "https://tfl.gov.uk/",
                "order": 3,
                "title": "Transport for London Updates and Information",
                "description": "",
                "qa": {
                    "timestamp": "2025-01-24T19:17:04.371Z",
                    "hash": None,
                    "size": None,
                    "mimetype": "text/html;charset=utf-8",
                    "httpStatus": 200,
                },
            }
        },
        "team": "vrv65",
        "sharing": "public",
        "collaborators": [],
        "readusers": [],
        "readteams": [],
        "createdAt": "2019-02-05T16:34:18.000Z",
        "updatedAt": "2025-01-21T16:10:03.385Z",
        "site": "barnet",
        "state": "published",
        "embargoUntil": None,
    }


@pytest.fixture
def catalogue(database: Database) -> Database:
    """Managed lists, users and teams for the form's choices."""
    with database.transaction() as session:
        managed_lists.add_topic(session, "community-information", "Community information")
        managed_lists.add_topic(session, "council-and-democracy", "Council and democracy")
        managed_lists.add_topic(session, "transport", "Transport")
        managed_lists.add_licence(session, OGL, "UK Open Government Licence (OGL v3)")
        managed_lists.add_licence(session, CC_BY, "Creative Commons Attribution 4.0")
        managed_lists.add_masthead(session, "london-borough-of-barnet", "London Borough of Barnet")
        access.create_team(session, "vrv65", "Barnet Open Data")
        access.create_team(session, "abc12", "Auditors")
        access.create_user(session, "ann", display_name="Ann Smith")
        access.create_user(session, "bob")
    return database


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    assert runner.wait_for_all(10000)


@pytest.fixture
def form(qtbot: QtBot, catalogue: Database, tasks: TaskRunner) -> DatasetForm:
    widget = DatasetForm(catalogue, tasks)
    qtbot.addWidget(widget)
    widget.resize(640, 860)
    widget.load(rich_record())
    widget.show()
    with qtbot.waitActive(widget):  # focus and shortcuts as in a real, active window
        widget.activateWindow()
    return widget


def user_id(database: Database, username: str) -> int:
    with database.read() as session:
        return next(u.id for u in access.list_users(session) if u.username == username)


def row_texts(tree: QtWidgets.QTreeWidget) -> list[list[str]]:
    rows = []
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        assert item is not None
        rows.append([item.text(c) for c in range(tree.columnCount())])
    return rows


def line(editor: ChildListEditor, sub: str) -> QtWidgets.QLineEdit:
    widget = editor.editors[sub]
    assert isinstance(widget, QtWidgets.QLineEdit)
    return widget


def select_row(form_list: ChildListEditor, cid: str) -> None:
    item = form_list.row_of(cid)
    assert item is not None
    form_list.tree.setCurrentItem(item)


def click(qtbot: QtBot, widget: QtWidgets.QWidget, pos: QtCore.QPoint | None = None) -> None:
    at = pos if pos is not None else widget.rect().center()
    qtbot.mouseClick(widget, LEFT, pos=at)


def type_text(qtbot: QtBot, widget: QtWidgets.QWidget, text: str) -> None:
    qtbot.keyClicks(widget, text)


def press(
    qtbot: QtBot,
    widget: QtWidgets.QWidget,
    key: QtCore.Qt.Key | str,
    modifier: QtCore.Qt.KeyboardModifier = QtCore.Qt.KeyboardModifier.NoModifier,
) -> None:
    qtbot.keyClick(widget, key, modifier)


# -- round trips ---------------------------------------------------------------------------------


def test_unmodified_load_gives_back_the_same_record(form: DatasetForm) -> None:
    assert form.record() == rich_record()
    assert not form.is_dirty()
    assert form.title_edit.text() == "Freedom of Information Requests"
    assert form.id_edit.isReadOnly()
    assert form.tags_editor.values() == ["FOI Requests", "FOI", "Freedom of Information"]
    assert [row[0] for row in row_texts(form.resources.tree)] == [
        "FOI requests received 2020-25",
        "FOI requests (Excel)",
    ]


def test_odd_values_and_unknown_keys_survive_a_round_trip(form: DatasetForm) -> None:
    odd = rich_record()
    odd.update(
        descriptionIframe="",  # "" rather than None
        masthead="not-a-managed-masthead",
        topics=["retired-topic"],  # not in the managed list any more
        custom={"code": "a;b", "one": ["only"], "count": 3},  # awkward for the text cells
        collaborators=[999],  # no such user
        team="zzzzz",
        futureKey={"nested": [1, 2]},
    )
    del odd["resources"]["k93"]["order"]
    form.load(odd)
    assert form.record() == odd
    assert not form.is_dirty()
    # And an edit elsewhere leaves them alone.
    form.title_edit.setText("Changed")
    assert form.record() == {**odd, "title": "Changed"}


def test_new_record_round_trip(form: DatasetForm, catalogue: Database) -> None:
    with catalogue.read() as session:
        blank = datasets.new_record(session)
    form.load(blank)
    assert form.record() == blank
    assert not form.is_dirty()


def test_edited_record_saves_and_reloads_unchanged(
    qtbot: QtBot, form: DatasetForm, catalogue: Database
) -> None:
    """Edit fields on every tab, save through the service, load the result: nothing drifts."""
    record = rich_record()
    record["id"] = ""
    with catalogue.transaction() as session:
        stored = datasets.create_dataset(session, record, author=AUTHOR)
    form.load(stored)
    assert form.record() == stored

    form.topics_list.set_checked("transport", True)
    form.topics_list.set_checked("council-and-democracy", False)
    form.licence_combo.setCurrentIndex(form.licence_combo.findData(CC_BY))
    form.licence_combo.activated.emit(form.licence_combo.currentIndex())
    form.review_date.enabled_box.setChecked(False)
    form.tabs.setCurrentIndex(3)  # Access
    # Click the round indicator: the button is wider than its indicator and text.
    radio_middle = QtCore.QPoint(6, form.private_radio.height() // 2)
    click(qtbot, form.private_radio, radio_middle)
    form.team_combo.setCurrentIndex(form.team_combo.findData("abc12"))
    ann = user_id(catalogue, "ann")
    form.collaborators_list.set_checked(ann, True)
    form.readteams_list.set_checked("vrv65", True)
    form.embargo_date.enabled_box.setChecked(True)
    form.embargo_date.date_edit.setDate(QtCore.QDate(2030, 6, 1))
    edited = form.record()

    assert edited["topics"] == ["community-information", "transport"]
    assert edited["licence"] == {"url": CC_BY, "title": "Creative Commons Attribution 4.0"}
    assert edited["nextReviewDate"] is None
    assert (edited["sharing"], edited["team"]) == ("private", "abc12")
    assert (edited["collaborators"], edited["readteams"]) == ([ann], ["vrv65"])
    assert edited["embargoUntil"] == "2030-06-01"
    with catalogue.transaction() as session:
        saved = datasets.update_dataset(session, stored["id"], edited, author=AUTHOR)
    form.load(saved)
    assert form.record() == saved
    assert {k: v for k, v in saved.items() if k != "updatedAt"} == {
        k: v for k, v in edited.items() if k != "updatedAt"
    }


# -- dirty, save, revert -------------------------------------------------------------------------


def test_typing_makes_the_form_dirty_and_save_emits_the_typed_values(
    qtbot: QtBot, form: DatasetForm
) -> None:
    with qtbot.waitSignal(form.dirtyChanged) as dirty:
        type_text(qtbot, form.title_edit, " 2025")
    assert dirty.args == [True]
    assert form.is_dirty()
    assert form.revert_button.isEnabled()

    with qtbot.waitSignal(form.saveRequested) as saved:
        click(qtbot, form.save_button)
    expected = rich_record()
    expected["title"] = "Freedom of Information Requests 2025"
    assert saved.args == [expected]

    # Undoing the typing by hand makes the form clean again.
    with qtbot.waitSignal(form.dirtyChanged) as clean:
        for _ in " 2025":
            press(qtbot, form.title_edit, QtCore.Qt.Key.Key_Backspace)
    assert clean.args == [False]


def test_ctrl_s_in_a_field_requests_save(qtbot: QtBot, form: DatasetForm) -> None:
    form.description_edit.setFocus()
    ctrl = QtCore.Qt.KeyboardModifier.ControlModifier
    press(qtbot, form.description_edit, QtCore.Qt.Key.Key_End, ctrl)
    type_text(qtbot, form.description_edit, "<p>More.</p>")
    with qtbot.waitSignal(form.saveRequested) as saved:
        press(qtbot, form.description_edit, "s", ctrl)
    expected = rich_record()["description"] + "<p>More.</p>"
    assert saved.args[0]["description"] == expected
    assert form.description_edit.toPlainText() == expected  # no "s" typed


def test_ctrl_s_does_not_clash_with_the_windows_save_shortcut(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner
) -> None:
    """The main window has its own Ctrl+S; inside the form, the form's wins (no ambiguity)."""
    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    window_saves: list[bool] = []
    save = QtGui.QAction("Save", window)
    save.setShortcut(QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Save))
    save.triggered.connect(lambda: window_saves.append(True))
    window.addAction(save)
    form = DatasetForm(catalogue, tasks)
    window.setCentralWidget(form)
    form.load(rich_record())
    window.show()
    with qtbot.waitActive(window):  # window shortcuts only fire in the active window
        window.activateWindow()
    form.title_edit.setFocus()
    with qtbot.waitSignal(form.saveRequested):
        press(qtbot, form.title_edit, "s", QtCore.Qt.KeyboardModifier.ControlModifier)
    assert window_saves == []


def test_load_marks_clean_and_revert_is_requested(qtbot: QtBot, form: DatasetForm) -> None:
    type_text(qtbot, form.contact_title_edit, "!")
    assert form.is_dirty()
    with qtbot.waitSignal(form.revertRequested):
        click(qtbot, form.revert_button)
    with qtbot.waitSignal(form.dirtyChanged) as dirty:
        form.load(rich_record())
    assert dirty.args == [False]
    assert form.contact_title_edit.text() == "Barnet Open Data Team"


# -- validation messages -------------------------------------------------------------------------


def test_show_errors_puts_messages_next_to_the_fields(qtbot: QtBot, form: DatasetForm) -> None:
    form.show_errors(
        {
            "resources.k93.timeFrame.gte": "must be an ISO month, YYYY-MM",
            "contact.email": "is not an email address",
        }
    )
    # The first field in form order is shown and focused: contact.email, on the Sidebar tab.
    assert form.tabs.currentIndex() == 1
    email_error = form.findChild(QtWidgets.QLabel, "error:contact.email")
    assert email_error is not None
    assert email_error.isVisible()
    assert email_error.text() == "is not an email address"
    assert form.contact_email_edit.property("invalid") is True
    qtbot.waitUntil(form.contact_email_edit.hasFocus)
    assert form.banner.isVisible()
    assert "2 problems" in form.banner.text()

    # The resource's row says so in the list, and its detail editor next to the month.
    row = form.resources.row_of("k93")
    assert row is not None
    assert "timeFrame.gte: must be an ISO month, YYYY-MM" in row.toolTip(0)
    assert not row.icon(0).isNull()
    form.tabs.setCurrentIndex(2)
    select_row(form.resources, "a1b")
    gte_row = form.resources.rows["timeFrame.gte"]
    assert not gte_row.error_label.isVisible()  # another resource: no message
    select_row(form.resources, "k93")
    assert gte_row.error_label.isVisible()
    assert gte_row.error_label.text() == "must be an ISO month, YYYY-MM"
    assert form.error_for("resources.k93.timeFrame.gte") == "must be an ISO month, YYYY-MM"

    # Fixing the email clears its message; clear_errors clears the rest.
    form.tabs.setCurrentIndex(1)
    type_text(qtbot, form.contact_email_edit, "x")
    assert not email_error.isVisible()
    form.clear_errors()
    assert not form.banner.isVisible()
    assert form.error_for("resources.k93.timeFrame.gte") is None
    assert row.icon(0).isNull()


def test_show_errors_focuses_the_first_field_in_form_order(qtbot: QtBot, form: DatasetForm) -> None:
    form.tabs.setCurrentIndex(3)
    form.show_errors({"links.0xd.url": "must be an http(s) URL", "title": "a title is required"})
    assert form.tabs.currentIndex() == 0
    qtbot.waitUntil(form.title_edit.hasFocus)

    form.show_errors({"links.0xd.url": "must be an http(s) URL", "custom.count": "bad"})
    assert form.error_for("custom") == "count: bad"
    assert form.tabs.currentIndex() == 1

    form.show_errors({"resources.k93.title": "a title is required", "weird": "no such field"})
    assert form.tabs.currentIndex() == 2
    assert form.resources.current_id() == "k93"
    qtbot.waitUntil(form.resources.editors["title"].hasFocus)
    assert "weird: no such field" in form.banner.text()


# -- files ---------------------------------------------------------------------------------------


def test_add_files_describes_off_the_gui_thread_and_lists_md5_and_size(
    qtbot: QtBot, form: DatasetForm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "foi_requests_2024.csv"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    threads: list[threading.Thread] = []
    describe = files.describe_file

    def spy(p: Path, progress: Progress) -> files.FileInfo:
        threads.append(threading.current_thread())
        return describe(p, progress)

    monkeypatch.setattr(files, "describe_file", spy)

    with qtbot.waitSignal(form.resourceAdded, timeout=10000) as added:
        form.add_files([path])
        assert not form.file_status.isHidden()  # progress and Cancel while it runs
    rid = added.args[0]

    assert threads and threads[0] is not threading.main_thread()
    md5 = hashlib.md5(data).hexdigest()
    item = form.resources.row_of(rid)
    assert item is not None
    assert [item.text(c) for c in range(4)] == ["Foi requests 2024", "CSV", "3.0 MB", md5]
    assert f"{len(data):,} bytes" in item.toolTip(0)
    assert form.resources.current_id() == rid
    assert line(form.resources, "hash").text() == md5
    assert line(form.resources, "size").text().startswith(f"{len(data):,} bytes")
    resource = form.record()["resources"][rid]
    assert (resource["hash"], resource["size"], resource["format"]) == (md5, len(data), "csv")
    assert (resource["url"], resource["origin"]) == ("", str(path.resolve()))
    assert resource["order"] == 4  # after the link at 3: new files go last on the page
    assert form.is_dirty()
    qtbot.waitUntil(form.file_status.isHidden)


def test_cancel_adds_nothing(
    qtbot: QtBot,
    form: DatasetForm,
    tasks: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = threading.Event()

    def endless(_path: Path, progress: Progress) -> files.FileInfo:
        while True:  # until Cancel makes report() raise
            progress.report(1, 2)
            started.set()
            threading.Event().wait(0.01)

    monkeypatch.setattr(files, "describe_file", endless)
    form.add_files([tmp_path / "a.csv", tmp_path / "b.csv"])
    qtbot.waitUntil(lambda: form.file_progress.value() == 500)
    assert "(1 of 2)" in form.file_label.text()
    with qtbot.waitSignal(form.filesFinished):
        click(qtbot, form.cancel_files_button)
    assert tasks.wait_for_all(5000)
    assert form.file_status.isHidden()
    assert form.resources.ids() == ["k93", "a1b"]
    assert not form.is_dirty()


def test_unreadable_file_is_reported_and_the_rest_still_added(
    qtbot: QtBot, form: DatasetForm, tmp_path: Path
) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(b"%PDF-1.4")
    with qtbot.waitSignal(form.filesFinished, timeout=10000):
        form.add_files([tmp_path / "missing.csv", good])
    assert not form.file_error.isHidden()
    assert "missing.csv" in form.file_error.text()
    new = [rid for rid in form.resources.ids() if rid not in ("k93", "a1b")]
    assert len(new) == 1
    assert form.record()["resources"][new[0]]["format"] == "pdf"


def test_dropping_files_on_the_form_adds_them(
    qtbot: QtBot, form: DatasetForm, tmp_path: Path
) -> None:
    path = tmp_path / "drop.xlsx"
    path.write_bytes(b"PK\x03\x04")
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    drop = QtGui.QDropEvent(
        QtCore.QPointF(10, 10),
        QtCore.Qt.DropAction.CopyAction,
        mime,
        QtCore.Qt.MouseButton.LeftButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(form.resourceAdded, timeout=10000) as added:
        form.dropEvent(drop)
    assert form.record()["resources"][added.args[0]]["filename"] == "drop.xlsx"


# -- list editors --------------------------------------------------------------------------------


def test_tags_editor_adds_with_enter_and_removes(qtbot: QtBot, form: DatasetForm) -> None:
    editor = form.tags_editor
    type_text(qtbot, editor.input, "  Transparency ")
    press(qtbot, editor.input, QtCore.Qt.Key.Key_Return)
    type_text(qtbot, editor.input, "FOI")  # already there: not added twice
    press(qtbot, editor.input, QtCore.Qt.Key.Key_Return)
    assert editor.input.text() == ""
    assert form.record()["tags"] == [
        "FOI Requests",
        "FOI",
        "Freedom of Information",
        "Transparency",
    ]

    editor.list.setCurrentRow(0)
    click(qtbot, editor.remove_button)
    assert form.record()["tags"] == ["FOI", "Freedom of Information", "Transparency"]
    editor.list.setCurrentRow(1)
    editor.list.setFocus()
    press(qtbot, editor.list, QtCore.Qt.Key.Key_Delete)
    assert form.record()["tags"] == ["FOI", "Transparency"]
    assert form.is_dirty()


def edit_cell(
    qtbot: QtBot, table: QtWidgets.QTableWidget, row: int, column: int, text: str
) -> None:
    """Type into a cell as a person does: open its editor, replace the text, press Enter."""
    item = table.item(row, column)
    assert item is not None
    table.setCurrentCell(row, column)
    table.editItem(item)
    type_into_editor(qtbot, table, text)


def type_into_editor(qtbot: QtBot, table: QtWidgets.QTableWidget, text: str) -> None:
    editor = QtWidgets.QApplication.focusWidget()  # the open cell editor has the focus
    assert isinstance(editor, QtWidgets.QLineEdit) and table.isAncestorOf(editor)
    editor.selectAll()
    type_text(qtbot, editor, text)
    press(qtbot, editor, QtCore.Qt.Key.Key_Return)
    # Qt 6 commits the editor's data through a queued call.
    editing = QtWidgets.QAbstractItemView.State.EditingState
    qtbot.waitUntil(lambda: table.state() != editing)


def test_custom_field_lists_round_trip(
    qtbot: QtBot, form: DatasetForm, catalogue: Database
) -> None:
    table = form.custom_table
    form.tabs.setCurrentIndex(1)  # Sidebar
    assert [table.item(2, c).text() for c in range(3)] == [  # type: ignore[union-attr]
        "geography",
        "London; Barnet",
        "list of 2",
    ]
    edit_cell(qtbot, table, 2, 1, "London; Barnet;Camden ")
    assert table.item(2, 2).text() == "list of 3"  # type: ignore[union-attr]
    form.add_custom_field()  # opens the new row's name cell for typing
    type_into_editor(qtbot, table, "region")
    edit_cell(qtbot, table, 3, 1, "North;")
    form.set_custom_field("note", "plain text, no list")
    custom = form.record()["custom"]
    assert custom == {
        "unit": "Assurance",
        "retention": "3 months",
        "geography": ["London", "Barnet", "Camden"],
        "region": ["North"],
        "note": "plain text, no list",
    }

    record = form.record()
    record["id"] = ""
    with catalogue.transaction() as session:
        stored = datasets.create_dataset(session, record, author=AUTHOR)
    assert stored["custom"] == custom
    form.load(stored)
    assert form.record()["custom"] == custom
    assert table.item(3, 1).text() == "North;"  # type: ignore[union-attr]

    table.selectRow(0)
    click(qtbot, form.remove_custom_button)
    assert "unit" not in form.record()["custom"]


def test_resources_and_links_are_ordered_lists(qtbot: QtBot, form: DatasetForm) -> None:
    select_row(form.resources, "a1b")
    click(qtbot, form.resources.up_button)
    record = form.record()
    assert form.resources.ids() == ["a1b", "k93"]
    assert (record["resources"]["a1b"]["order"], record["resources"]["k93"]["order"]) == (0, 1)
    assert record["links"]["0xd"]["order"] == 3  # the link keeps its place on the page
    click(qtbot, form.resources.down_button)
    assert form.record() == rich_record()  # moved back: nothing changed
    assert not form.is_dirty()

    click(qtbot, form.add_link_button)
    lid = form.links.current_id()
    assert lid is not None and len(lid) == 3 and lid != "0xd"
    qtbot.waitUntil(form.links.editors["url"].hasFocus)
    type_text(qtbot, form.links.editors["url"], "https://example.org/")
    type_text(qtbot, form.links.editors["title"], "Example")
    link = form.record()["links"][lid]
    assert link["url"] == "https://example.org/"
    assert link["title"] == "Example"
    assert link["order"] == 4
    assert set(link["qa"]) == {"timestamp", "hash", "size", "mimetype", "httpStatus"}

    select_row(form.resources, "k93")
    form.resources.editors["timeFrame.lte"].clear()
    type_text(qtbot, form.resources.editors["timeFrame.lte"], "2025-06")
    form.resources.editors["timeFrame.gte"].selectAll()
    press(qtbot, form.resources.editors["timeFrame.gte"], QtCore.Qt.Key.Key_Delete)
    assert form.record()["resources"]["k93"]["timeFrame"] == {"lte": "2025-06"}

    click(qtbot, form.resources.remove_button)
    assert "k93" not in form.record()["resources"]
    # The remaining file keeps its slot between the links (seed 002 interleaves them by order).
    assert form.record()["resources"]["a1b"]["order"] == 1


def test_every_field_reaches_the_record(qtbot: QtBot, form: DatasetForm) -> None:
    expected = copy.deepcopy(rich_record())
    form.tabs.setCurrentIndex(0)
    form.iframe_edit.clear()
    expected["descriptionIframe"] = None
    form.masthead_combo.setCurrentIndex(0)
    expected["masthead"] = None
    form.tabs.setCurrentIndex(1)
    form.review_date.date_edit.setDate(QtCore.QDate(2026, 2, 3))
    expected["nextReviewDate"] = "2026-02-03"
    form.contact_email_edit.clear()
    type_text(qtbot, form.contact_email_edit, "foi@barnet.gov.uk")
    expected["contact"]["email"] = "foi@barnet.gov.uk"
    form.licence_title_edit.clear()
    type_text(qtbot, form.licence_title_edit, "OGL")
    expected["licence"]["title"] = "OGL"
    assert form.record() == expected
