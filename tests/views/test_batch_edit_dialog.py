"""Dataset > Edit selected…: a previewed change to the highlighted rows, one operation, one undo."""

from __future__ import annotations

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import access, datasets
from app.views.batch_edit_dialog import BatchEditDialog
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import wait_for_writes


def _fill(database: Database) -> dict[str, str]:
    with database.transaction() as session:
        access.create_team(session, "parks", "Parks team")
        return {
            title: datasets.create_dataset(
                session, make_record(title=title, tags=["old"]), author=AUTHOR
            )["id"]
            for title in ("Bins", "Parks", "Roads")
        }


def _open(qtbot: QtBot, window: MainWindow) -> BatchEditDialog:
    window.table.setFocus()
    qtbot.keyClick(window.table, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.batch_edit_action.text() == "&Edit 3 datasets…")
    window.batch_edit_action.trigger()
    dialog = window.findChild(BatchEditDialog)
    assert dialog is not None and dialog.windowTitle() == "Edit 3 datasets"
    qtbot.waitUntil(dialog.isEnabled)
    return dialog


def test_batch_edit_previews_applies_as_one_step_and_one_undo_reverts(
    qtbot: QtBot, qtmodeltester: ModelTester, database: Database
) -> None:
    ids = _fill(database)
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.model.countChanged):
        window.show()
    qtbot.waitUntil(lambda: window.model.order_loaded)
    dialog = _open(qtbot, window)

    with qtbot.waitSignal(dialog.previewed):
        qtbot.keyClicks(dialog.add_tags, "new, fresh")
    dialog.set_team.setChecked(True)
    dialog.team.setCurrentIndex(dialog.team.findData("parks"))
    with qtbot.waitSignal(dialog.previewed, check_params_cb=lambda p: len(p.changing) == 3):
        dialog.state.setCurrentIndex(dialog.state.findData("publish"))
    qtmodeltester.check(dialog.model, force_py=True)  # type: ignore[no-untyped-call, unused-ignore]
    rows = [
        [dialog.model.data(dialog.model.index(r, c)) for c in range(4)]
        for r in range(dialog.model.rowCount())
    ]
    assert [f"Bins ({ids['Bins']})", "State", "draft", "published"] in rows
    assert [f"Bins ({ids['Bins']})", "Tags", "old", "old, new, fresh"] in rows
    assert [f"Roads ({ids['Roads']})", "Owner team", "—", "parks"] in rows
    assert dialog.summary.text() == "3 of 3 datasets will change."
    assert dialog.apply_button.isEnabled()

    with qtbot.waitSignal(dialog.applied) as applied:
        qtbot.mouseClick(dialog.apply_button, QtCore.Qt.MouseButton.LeftButton)
    assert len(applied.args[0].edits) == 3
    wait_for_writes(qtbot, window)
    with database.read() as session:
        stored = [datasets.get_record(session, i) for i in ids.values()]
    assert all(r["state"] == "published" and r["team"] == "parks" for r in stored)
    assert window.undo_action.text() == "Undo batch edit of 3 datasets"

    window.undo_action.trigger()  # one undo reverses the three
    wait_for_writes(qtbot, window)
    with database.read() as session:
        stored = [datasets.get_record(session, i) for i in ids.values()]
    assert all(r["state"] == "draft" and r["team"] is None and r["tags"] == ["old"] for r in stored)
    window.close()


def test_refused_datasets_are_listed_and_apply_stays_off(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    ids = _fill(database)
    window = main_window
    with qtbot.waitSignal(window.operations.catalogueChanged):
        window.operations.poll_now()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3)
    dialog = _open(qtbot, window)
    dialog.set_contact.setChecked(True)
    with qtbot.waitSignal(dialog.previewed, check_params_cb=lambda p: len(p.refused) == 3):
        qtbot.keyClicks(dialog.contact_email, "nobody")
    fields = {dialog.model.data(dialog.model.index(r, 1)) for r in range(dialog.model.rowCount())}
    assert fields == {"contact.email"}
    assert "3 refused" in dialog.summary.text()
    assert not dialog.apply_button.isEnabled()
    dialog.reject()
    with database.read() as session:
        assert datasets.get_record(session, ids["Bins"])["contact"]["email"] != "nobody"


def test_the_dataset_menu_offers_edit_selected_with_its_shortcut(main_window: MainWindow) -> None:
    menus = {a.text(): a.menu() for a in main_window.menuBar().actions()}
    dataset_menu = menus["&Dataset"]
    assert isinstance(dataset_menu, QtWidgets.QMenu)
    assert main_window.batch_edit_action in dataset_menu.actions()
    assert main_window.batch_edit_action.shortcut().toString() == "Ctrl+Shift+E"
    assert not main_window.batch_edit_action.isEnabled()  # nothing highlighted
