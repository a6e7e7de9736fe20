"""File > New, Open and Recent catalogues, the title bar, a file that is not a catalogue (in the
window and on the command line) and the layout the window remembers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets
from app.services.errors import NotACatalogue
from app.views.application import run_gui
from app.views.catalogue_switch import CatalogueWindows
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets
from app.views.window_settings import app_settings
from tests.conftest import AUTHOR, make_record

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def windows(qtbot: QtBot, database: Database) -> Iterator[CatalogueWindows]:
    with database.transaction() as session:
        datasets.create_dataset(session, make_record(title="Street Trees"), author=AUTHOR)
    shell = CatalogueWindows(database, author="archivist")
    with qtbot.waitSignal(shell.window.model.countChanged):
        shell.window.show()
    yield shell
    shell.window.ask_unsaved = lambda: QtWidgets.QMessageBox.StandardButton.Discard
    shell.window.close()
    shell.dispose()


def notes_file(tmp_path: Path) -> Path:
    notes = tmp_path / "notes.txt"
    notes.write_text("Minutes of the records committee, 3 March\n", encoding="utf-8")
    return notes


def test_the_title_bar_names_the_catalogue_not_its_url(windows: CatalogueWindows) -> None:
    title = windows.window.windowTitle()
    assert title == "catalogue.sqlite — Catalogue Desk"
    assert "sqlite:" not in title


def test_a_text_file_opened_as_a_catalogue_shows_a_message(
    qtbot: QtBot, windows: CatalogueWindows, tmp_path: Path
) -> None:
    window = windows.window
    notes = notes_file(tmp_path)
    window.catalogues.ask_open_path = lambda: str(notes)
    with qtbot.waitSignal(windows.failed) as failed:
        window.catalogues.open_action.trigger()
    assert "notes.txt is not a catalogue" in failed.args[0]
    box = windows.message_box
    assert box is not None and box.isVisible()
    assert "not a catalogue" in box.text()
    # The window stays on its catalogue; the file is left as it was.
    assert windows.window is window
    assert window.windowTitle() == "catalogue.sqlite — Catalogue Desk"
    assert notes.read_text(encoding="utf-8").startswith("Minutes")
    box.accept()


def test_an_unreachable_path_shows_a_message(
    qtbot: QtBot, windows: CatalogueWindows, tmp_path: Path
) -> None:
    windows.window.catalogues.ask_open_path = lambda: str(tmp_path / "unplugged" / "a.sqlite")
    with qtbot.waitSignal(windows.failed) as failed:
        windows.window.catalogues.open_action.trigger()
    assert "does not exist" in failed.args[0]
    assert windows.message_box is not None and windows.message_box.isVisible()
    windows.message_box.accept()


def test_new_catalogue_then_back_through_recent(
    qtbot: QtBot, windows: CatalogueWindows, tmp_path: Path
) -> None:
    first = windows.window
    first.catalogues.ask_new_path = lambda: str(tmp_path / "Parish records")
    with qtbot.waitSignal(windows.opened):
        first.catalogues.new_action.trigger()
    second = windows.window
    assert second is not first
    assert second.windowTitle() == "Parish records.sqlite — Catalogue Desk"
    assert (tmp_path / "Parish records.sqlite").is_file()
    qtbot.waitUntil(lambda: second.count_label.text() == "0 datasets")
    # Empty on purpose: no sample datasets, and the table says so rather than staying blank.
    assert second.empty_notice.isVisible()
    assert "No datasets yet" in second.empty_notice.text()

    # Recent catalogues offers the first one, by name; choosing it goes back.
    recent = [a for a in second.catalogues.recent_menu.actions() if a.data()]
    assert [a.text() for a in recent] == ["catalogue.sqlite"]
    with qtbot.waitSignal(windows.opened):
        recent[0].trigger()
    assert windows.window.windowTitle() == "catalogue.sqlite — Catalogue Desk"
    qtbot.waitUntil(lambda: windows.window.count_label.text() == "1 datasets")


def test_new_refuses_a_file_that_exists(
    qtbot: QtBot, windows: CatalogueWindows, tmp_path: Path
) -> None:
    existing = tmp_path / "catalogue.sqlite"  # the open one
    windows.window.catalogues.ask_new_path = lambda: str(existing)
    with qtbot.waitSignal(windows.failed) as failed:
        windows.window.catalogues.new_action.trigger()
    assert "exists already" in failed.args[0]
    assert windows.message_box is not None
    windows.message_box.accept()


def test_switching_is_refused_while_the_person_keeps_unsaved_edits(
    qtbot: QtBot, windows: CatalogueWindows, tmp_path: Path
) -> None:
    window = windows.window
    qtbot.waitUntil(lambda: window.model.order_loaded)
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: window.form.isEnabled())
    qtbot.keyClicks(window.form.title_edit, " (revised)")
    window.ask_unsaved = lambda: QtWidgets.QMessageBox.StandardButton.Cancel
    window.catalogues.ask_new_path = lambda: str(tmp_path / "other.sqlite")
    with qtbot.waitSignal(windows.catalogue_kept):
        window.catalogues.new_action.trigger()
    assert windows.window is window and window.isVisible()
    assert window.form.title_edit.text() == "Street Trees (revised)"


def test_the_window_remembers_its_layout(qtbot: QtBot, database: Database, tmp_path: Path) -> None:
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.model.countChanged):
        window.show()
    header = window.table.horizontalHeader()
    id_column = next(i for i, c in enumerate(window.model.columns) if c.key == "id")
    team_column = next(i for i, c in enumerate(window.model.columns) if c.key == "team")
    # Within the offscreen screen (800x600): a restored geometry is kept on the screen.
    window.resize(760, 560)
    size = (window.width(), window.height())
    assert size != (1400, 860)  # not the size a new window starts with
    splitter = window.centralWidget()
    assert isinstance(splitter, QtWidgets.QSplitter)
    splitter.setSizes([700, 400])
    sizes = splitter.sizes()
    window.set_column_visible(team_column, False)
    header.resizeSection(id_column, 91)
    with qtbot.waitSignal(window.model.countChanged):
        window.table.sortByColumn(id_column, QtCore.Qt.SortOrder.DescendingOrder)
    window._export_folder = tmp_path
    window.close()
    window.tasks.wait_for_all()

    again = MainWindow(database, author="archivist")
    with qtbot.waitSignal(again.model.countChanged):
        again.show()
    again_header = again.table.horizontalHeader()
    assert (again.width(), again.height()) == size
    again_splitter = again.centralWidget()
    assert isinstance(again_splitter, QtWidgets.QSplitter)
    assert again_splitter.sizes() == sizes
    assert again_header.isSectionHidden(team_column)
    assert again_header.sectionSize(id_column) == 91
    assert again_header.sortIndicatorSection() == id_column
    assert again_header.sortIndicatorOrder() == QtCore.Qt.SortOrder.DescendingOrder
    assert (again.model.spec.sort, again.model.spec.descending) == ("id", True)
    assert again._export_folder == tmp_path
    again.close()
    again.tasks.wait_for_all()


def test_gui_start_on_a_text_file_shows_a_message_then_fails_cleanly(
    qtbot: QtBot, tmp_path: Path
) -> None:
    notes = notes_file(tmp_path)
    seen: list[str] = []

    def answer() -> None:
        box = QtWidgets.QApplication.activeModalWidget()
        assert isinstance(box, QtWidgets.QMessageBox)
        seen.append(box.text())
        box.accept()

    QtCore.QTimer.singleShot(0, answer)
    with pytest.raises(NotACatalogue):
        run_gui(notes)
    assert seen and "notes.txt is not a catalogue" in seen[0]


@pytest.mark.parametrize(
    "command", [["export", "--format", "csv"], ["generate", "--datasets", "1"]]
)
def test_the_command_line_says_what_is_wrong_without_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    notes = notes_file(tmp_path)
    extra = ["--out", str(tmp_path / "out.csv")] if command[0] == "export" else []
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--db", str(notes), *command, *extra],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: notes.txt is not a catalogue")
    assert len(result.stderr.strip().splitlines()) == 1
    assert notes.read_text(encoding="utf-8").startswith("Minutes")


def test_a_column_layout_saved_with_other_columns_is_not_applied(
    qtbot: QtBot, database: Database
) -> None:
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.model.countChanged):
        window.show()
    title_column = next(i for i, c in enumerate(window.model.columns) if c.key == "title")
    window.table.horizontalHeader().resizeSection(title_column, 77)
    window.close()
    window.tasks.wait_for_all()
    settings = app_settings()
    settings.setValue("table/columns", ["id", "title", "an older column"])
    settings.sync()

    again = MainWindow(database, author="archivist")
    with qtbot.waitSignal(again.model.countChanged):
        again.show()
    assert again.table.horizontalHeader().sectionSize(title_column) != 77
    again.close()
    again.tasks.wait_for_all()
