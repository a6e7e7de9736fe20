"""The whole window, driven as a person would: create, find, edit, undo, restore, discard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets, history
from app.views.dataset_table_model import TITLE_COLUMN
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets
from tests.conftest import AUTHOR, make_record

Buttons = QtWidgets.QMessageBox.StandardButton


@pytest.fixture
def window(qtbot: QtBot, database: Database) -> Iterator[MainWindow]:
    with database.transaction() as session:
        for title in ("Street Trees", "Parking Fines", "Library Loans"):
            datasets.create_dataset(session, make_record(title=title), author=AUTHOR)
    main = MainWindow(database, author="archivist")
    main.ask_unsaved = unexpected_prompt
    with qtbot.waitSignal(main.model.countChanged):
        main.show()
    yield main
    main.ask_unsaved = lambda: Buttons.Discard  # closing at teardown drops what a test left
    main.close()
    main.tasks.wait_for_all()
    main.deleteLater()


def unexpected_prompt() -> QtWidgets.QMessageBox.StandardButton:
    pytest.fail("the unsaved-changes prompt appeared where nothing was unsaved")


def titles_shown(window: MainWindow) -> list[str]:
    model = window.model
    return [str(model.data(model.index(row, TITLE_COLUMN))) for row in range(model.rowCount())]


def wait_for_titles(qtbot: QtBot, window: MainWindow, expected: list[str]) -> None:
    qtbot.waitUntil(lambda: sorted(titles_shown(window)) == sorted(expected))


def retype(qtbot: QtBot, edit: QtWidgets.QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def test_create_search_edit_undo_and_restore(
    qtbot: QtBot, window: MainWindow, database: Database
) -> None:
    wait_for_titles(qtbot, window, ["Street Trees", "Parking Fines", "Library Loans"])

    # Create a dataset through the form and see it in the table.
    window.new_action.trigger()
    form = window.form
    qtbot.keyClicks(form.title_edit, "Canal Towpath Survey")
    qtbot.keyClicks(form.contact_email_edit, "canals@example.org")
    assert form.is_dirty()
    qtbot.mouseClick(form.save_button, QtCore.Qt.MouseButton.LeftButton)
    wait_for_titles(
        qtbot, window, ["Street Trees", "Parking Fines", "Library Loans", "Canal Towpath Survey"]
    )
    assert window.count_label.text() == "4 datasets"
    new_id = form.record()["id"]
    assert not form.is_dirty()

    # Search filters as you type.
    qtbot.keyClicks(window.search_box, "towp")
    wait_for_titles(qtbot, window, ["Canal Towpath Survey"])
    window.search_box.clear()
    wait_for_titles(
        qtbot, window, ["Street Trees", "Parking Fines", "Library Loans", "Canal Towpath Survey"]
    )

    # Edit it.
    window.select_dataset(new_id)
    qtbot.waitUntil(lambda: form.record()["id"] == new_id)
    retype(qtbot, form.title_edit, "Canal Towpath Condition Survey")
    qtbot.mouseClick(form.save_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Canal Towpath Condition Survey" in titles_shown(window))
    with database.read() as session:
        assert datasets.get_record(session, new_id)["title"] == "Canal Towpath Condition Survey"

    # Undo puts the old title back, in the catalogue and in the form.
    assert window.undo_action.isEnabled()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: "Canal Towpath Survey" in titles_shown(window))
    qtbot.waitUntil(lambda: form.title_edit.text() == "Canal Towpath Survey")
    window.redo_action.trigger()
    qtbot.waitUntil(lambda: "Canal Towpath Condition Survey" in titles_shown(window))
    qtbot.waitUntil(lambda: form.title_edit.text() == "Canal Towpath Condition Survey")

    # Restore version 1 from the history panel.
    panel = window.history
    panel.confirm = lambda *_args: True
    qtbot.waitUntil(lambda: panel.versions_table.rowCount() == 4)  # read on a worker
    panel.select_version(1)
    assert panel.restore_button.isEnabled()
    with qtbot.waitSignal(panel.restored):
        qtbot.mouseClick(panel.restore_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: form.title_edit.text() == "Canal Towpath Survey")
    with database.read() as session:
        actions = [v.action for v in history.list_versions(session, new_id)]
    assert actions == ["restore", "redo", "undo", "update", "create"]


def test_bad_input_is_shown_next_to_the_field_and_nothing_is_written(
    qtbot: QtBot, window: MainWindow, database: Database
) -> None:
    window.new_action.trigger()
    form = window.form
    qtbot.keyClicks(form.contact_email_edit, "not an email")
    qtbot.mouseClick(form.save_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: form.error_for("title") is not None)  # the save runs on a worker
    assert form.error_for("title") == "a title is required"
    assert form.error_for("contact.email") == "is not an email address"
    assert window.model.rowCount() == 3
    with database.read() as session:
        assert history.list_versions(session, form.record()["id"]) == []


def test_unsaved_changes_prompt_before_they_are_dropped(
    qtbot: QtBot, window: MainWindow, database: Database
) -> None:
    wait_for_titles(qtbot, window, ["Street Trees", "Parking Fines", "Library Loans"])
    window.table.selectRow(0)
    first_id = window.model.dataset_id_at(0)
    qtbot.waitUntil(lambda: window.form.record().get("id") == first_id)
    retype(qtbot, window.form.title_edit, "Edited but not saved")

    asked: list[str] = []

    def answer(button: QtWidgets.QMessageBox.StandardButton) -> None:
        def ask() -> QtWidgets.QMessageBox.StandardButton:
            asked.append(str(button.name))
            return button

        window.ask_unsaved = ask

    answer(Buttons.Cancel)
    window.table.selectRow(1)
    assert asked == ["Cancel"]
    assert window.form.title_edit.text() == "Edited but not saved"
    assert window.table.currentIndex().row() == 0

    answer(Buttons.Discard)
    window.table.selectRow(1)
    assert asked == ["Cancel", "Discard"]
    qtbot.waitUntil(lambda: window.form.record()["id"] == window.model.dataset_id_at(1))
    with database.read() as session:
        assert datasets.get_record(session, str(first_id))["title"] != "Edited but not saved"
