from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets, history
from app.services.records import Record
from app.views.history_panel import NO_DATASET, HistoryPanel
from app.views.qt import QtCore, QtWidgets
from tests.conftest import AUTHOR

Qt = QtCore.Qt
OLD_TITLE = "Freedom of Information Requests"  # make_record's title
NEW_TITLE = "FOI requests 2025"

# The offscreen platform plugin complains when a window is shown; that is no fault of ours.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def panel(qtbot: QtBot, database: Database) -> HistoryPanel:
    widget = HistoryPanel(database, author="restorer")
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def edited(database: Database, new_dataset: Record) -> str:
    """A dataset whose title and tags were changed after it was created."""
    with database.transaction() as session:
        datasets.update_dataset(
            session, new_dataset["id"], {"title": NEW_TITLE, "tags": ["FOI"]}, author="ann"
        )
    return str(new_dataset["id"])


# pytest-qt's QtBot is untyped: every call into it goes through these typed helpers.


def click(qtbot: QtBot, button: QtWidgets.QAbstractButton) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def cell(table: QtWidgets.QTableWidget, row: int, column: int) -> QtWidgets.QTableWidgetItem:
    item = table.item(row, column)
    assert item is not None, (row, column)
    return item


def click_row(qtbot: QtBot, table: QtWidgets.QTableWidget, row: int) -> None:
    rect = table.visualItemRect(cell(table, row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def rows(table: QtWidgets.QTableWidget) -> list[list[str]]:
    return [
        [cell(table, r, c).text() for c in (0, 2, 3, 4)]  # number, who, action, changed fields
        for r in range(table.rowCount())
    ]


def snapshot_fields(panel: HistoryPanel) -> dict[str, list[str]]:
    """Field (marked "≠ " when it differs from now) -> [value in the version, value now]."""
    fields: dict[str, list[str]] = {}
    for i in range(panel.snapshot_tree.topLevelItemCount()):
        item = panel.snapshot_tree.topLevelItem(i)
        assert item is not None
        fields[item.text(0)] = [item.text(1), item.text(2)]
    return fields


def recording(answer: bool, asked: list[str]) -> Callable[[str, str], bool]:
    """A confirmation that answers `answer` and remembers each question."""

    def confirm(_title: str, text: str) -> bool:
        asked.append(text)
        return answer

    return confirm


def test_restore_an_old_version(
    qtbot: QtBot, panel: HistoryPanel, database: Database, edited: str
) -> None:
    asked: list[str] = []
    panel.confirm = recording(True, asked)
    with qtbot.waitSignal(panel.loaded):
        panel.set_dataset(edited)
    assert NEW_TITLE in panel.header_label.text()
    assert rows(panel.versions_table) == [
        ["2", "ann", "update", "tags, title"],
        ["1", AUTHOR, "create", "all fields (new dataset)"],
    ]
    assert not panel.restore_button.isEnabled()

    click_row(qtbot, panel.versions_table, 1)
    assert panel.difference_label.text() == (
        "Version 1 differs from the current record in 2 field(s): tags, title."
    )
    fields = snapshot_fields(panel)
    assert fields["≠ title"] == [OLD_TITLE, NEW_TITLE]
    assert fields["≠ tags"] == ['["FOI", "Freedom of Information"]', '["FOI"]']
    assert fields["sharing"] == ["public", "public"]  # unchanged fields are not marked
    assert panel.restore_button.isEnabled()

    with qtbot.waitSignal(panel.restored) as restored:
        click(qtbot, panel.restore_button)
    assert restored.args == [edited]
    assert len(asked) == 1 and "version 1" in asked[0]

    with database.read() as session:
        record = datasets.get_record(session, edited)
    assert record["title"] == OLD_TITLE
    assert record["tags"] == ["FOI", "Freedom of Information"]
    assert OLD_TITLE in panel.header_label.text()
    assert rows(panel.versions_table)[0] == ["3", "restorer", "restore", "tags, title"]
    # The restore is selected and matches what is stored now: nothing left to restore.
    assert panel.difference_label.text() == "Version 3 is the same as the current record."
    assert not panel.restore_button.isEnabled()


def test_a_restore_is_reported_even_when_a_newer_read_overtakes_it(
    qtbot: QtBot, panel: HistoryPanel, edited: str
) -> None:
    """The window re-reads the history when the restore's change is announced; that newer read
    supersedes the panel's own, and the restore must still be reported (and undoable)."""
    panel.confirm = lambda title, text: True
    with qtbot.waitSignal(panel.loaded):
        panel.set_dataset(edited)
    click_row(qtbot, panel.versions_table, 1)
    steps: list[object] = []
    panel.stepDone.connect(steps.append)
    with qtbot.waitSignal(panel.stepDone):
        click(qtbot, panel.restore_button)
    panel.set_dataset(edited)  # as the window does on catalogueChanged, before the read is back
    with qtbot.waitSignal(panel.restored):
        pass
    assert len(steps) == 1
    assert rows(panel.versions_table)[0] == ["3", "restorer", "restore", "tags, title"]
    assert panel.difference_label.text() == "Version 3 is the same as the current record."


def test_declining_the_confirmation_changes_nothing(
    qtbot: QtBot, panel: HistoryPanel, database: Database, edited: str
) -> None:
    panel.confirm = lambda title, text: False
    with qtbot.waitSignal(panel.loaded):
        panel.set_dataset(edited)
    click_row(qtbot, panel.versions_table, 1)
    with qtbot.assertNotEmitted(panel.restored):
        click(qtbot, panel.restore_button)
    with database.read() as session:
        assert datasets.get_record(session, edited)["title"] == NEW_TITLE
        assert len(history.list_versions(session, edited)) == 2
    assert panel.versions_table.rowCount() == 2


def test_no_dataset_selected(qtbot: QtBot, panel: HistoryPanel, edited: str) -> None:
    assert panel.header_label.text() == NO_DATASET
    assert not panel.versions_table.isVisible()
    assert not panel.restore_button.isVisible()
    with qtbot.waitSignal(panel.loaded):
        panel.set_dataset(edited)
    assert panel.versions_table.isVisible()
    assert panel.versions_table.rowCount() == 2
    with qtbot.waitSignal(panel.loaded):
        panel.set_dataset(None)
    assert panel.header_label.text() == NO_DATASET
    assert not panel.versions_table.isVisible()
    assert panel.versions_table.rowCount() == 0
    assert panel.snapshot_tree.topLevelItemCount() == 0
    assert not panel.versions_table.isEnabled()


def test_newest_version_matches_the_record(
    qtbot: QtBot, panel: HistoryPanel, database: Database, edited: str
) -> None:
    with qtbot.waitSignal(panel.loaded):
        panel.set_dataset(edited)
    click_row(qtbot, panel.versions_table, 0)
    assert panel.difference_label.text() == "Version 2 is the same as the current record."
    assert snapshot_fields(panel)["title"] == [NEW_TITLE, NEW_TITLE]
    assert not panel.restore_button.isEnabled()

    # An edit made elsewhere shows after refresh(), and version 2 is then restorable.
    with database.transaction() as session:
        datasets.update_dataset(session, edited, {"title": "Third title"}, author="bob")
    with qtbot.waitSignal(panel.loaded):
        panel.refresh()
    assert rows(panel.versions_table)[0][:3] == ["3", "bob", "update"]
    click_row(qtbot, panel.versions_table, 1)
    assert snapshot_fields(panel)["≠ title"] == [NEW_TITLE, "Third title"]
    assert panel.restore_button.isEnabled()


def test_restore_brings_a_deleted_dataset_back(
    qtbot: QtBot, panel: HistoryPanel, database: Database, edited: str
) -> None:
    panel.confirm = lambda title, text: True
    with database.transaction() as session:
        datasets.delete_dataset(session, edited, author="ann")
    with qtbot.waitSignal(panel.loaded):
        panel.set_dataset(edited)
    assert "was deleted" in panel.header_label.text()
    assert rows(panel.versions_table)[0] == ["3", "ann", "delete", ""]

    click_row(qtbot, panel.versions_table, 0)
    assert "records the deletion" in panel.difference_label.text()
    assert not panel.restore_button.isEnabled()

    click_row(qtbot, panel.versions_table, 1)
    assert "restoring this version recreates it" in panel.difference_label.text()
    with qtbot.waitSignal(panel.restored):
        click(qtbot, panel.restore_button)
    with database.read() as session:
        assert datasets.get_record(session, edited)["title"] == NEW_TITLE
    assert rows(panel.versions_table)[0][:3] == ["4", "restorer", "restore"]
    assert NEW_TITLE in panel.header_label.text()
