"""View > Deleted datasets: deleted datasets listed with who and when, restored, emptied."""

from __future__ import annotations

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets, history
from app.views.main_window import MainWindow
from app.views.qt import QtCore
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import open_in_form, saying_yes, titles_shown, wait_for_writes

LEFT = QtCore.Qt.MouseButton.LeftButton


def test_deleted_datasets_are_listed_restored_and_emptied(
    qtbot: QtBot, qtmodeltester: ModelTester, database: Database, main_window: MainWindow
) -> None:
    window = main_window
    with database.transaction() as session:
        ids = {
            title: datasets.create_dataset(session, make_record(title=title), author=AUTHOR)["id"]
            for title in ("Bins", "Parks", "Roads")
        }
    with qtbot.waitSignal(window.operations.catalogueChanged):
        window.operations.poll_now()  # written behind the window's back: the watch sees it
    qtbot.waitUntil(lambda: sorted(titles_shown(window)) == ["Bins", "Parks", "Roads"])

    # Delete the two highlighted rows: the question says how many.
    open_in_form(qtbot, window, ids["Bins"])
    flags = QtCore.QItemSelectionModel.SelectionFlag
    window.table.selectionModel().select(
        window.model.index(1, 0), flags.Select | flags.Rows
    )  # Bins and Parks, by title
    asked: list[str] = []
    window.confirm = saying_yes(asked)
    assert window.delete_action.text() == "&Delete 2 datasets…"
    window.delete_action.trigger()
    wait_for_writes(qtbot, window)
    assert asked[0].startswith("Delete 2 datasets?")
    qtbot.waitUntil(lambda: titles_shown(window) == ["Roads"])

    window.deleted_action.trigger()  # View > Deleted datasets
    dialog = window.deleted_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2)
    qtmodeltester.check(dialog.model, force_py=True)  # type: ignore[no-untyped-call, unused-ignore]
    model = dialog.model
    rows = [
        [str(model.data(model.index(row, column))) for column in (0, 1, 3, 4)]
        for row in range(model.rowCount())
    ]
    assert sorted(rows) == [
        ["Bins", ids["Bins"], "archivist", "2"],
        ["Parks", ids["Parks"], "archivist", "2"],
    ]
    assert dialog.summary.text().startswith("2 deleted datasets")
    assert not dialog.restore_button.isEnabled()

    # Restore Parks: it is back, in the table and the form; the list follows.
    dialog.select_ids([ids["Parks"]])
    assert dialog.restore_button.text() == "&Restore"
    with qtbot.waitSignal(dialog.restored):
        qtbot.mouseClick(dialog.restore_button, LEFT)
    with database.read() as session:
        assert datasets.get_record(session, ids["Parks"])["title"] == "Parks"
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1)
    qtbot.waitUntil(lambda: sorted(titles_shown(window)) == ["Parks", "Roads"])
    qtbot.waitUntil(lambda: window.form.record().get("id") == ids["Parks"])
    assert window.undo_action.text() == "Undo restore"

    # Empty Bins for good, its history with it, after the question.
    dialog.select_ids([ids["Bins"]])
    questions: list[tuple[str, int]] = []

    def erase_history(what: str, count: int) -> bool:
        questions.append((what, count))
        return True

    dialog.ask_empty = erase_history
    with qtbot.waitSignal(dialog.emptied) as emptied:
        qtbot.mouseClick(dialog.empty_button, LEFT)
    assert emptied.args == [1]
    assert questions == [("“Bins”", 1)]
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 0)
    assert dialog.summary.text() == "No deleted datasets."
    with database.read() as session:
        assert history.list_versions(session, ids["Bins"]) == []
