"""File > Export, driven as a person would: pick a format, a scope and a file, press Export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets, publication, synthetic
from app.services.exporting import ExportFormat, ExportScope
from app.views.export_dialog import ExportDialog, default_name, with_format
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets
from app.views.tasks import TaskRunner
from tests.conftest import AUTHOR, make_record

TITLES = ("Street Trees", "Parking Fines", "Library Loans", "Air Quality Readings")
LEFT = QtCore.Qt.MouseButton.LeftButton


@pytest.fixture
def catalogue(database: Database) -> Database:
    """Four datasets; two of them published."""
    with database.transaction() as session:
        for title in TITLES:
            record = datasets.create_dataset(session, make_record(title=title), author=AUTHOR)
            if title in ("Street Trees", "Air Quality Readings"):
                publication.publish(session, record["id"], author=AUTHOR)
    return database


@pytest.fixture
def tasks() -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    assert runner.wait_for_all(20000)


def open_dialog(
    qtbot: QtBot, database: Database, tasks: TaskRunner, folder: Path, **kw: object
) -> ExportDialog:
    dialog = ExportDialog(database, tasks, folder=folder, **kw)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def click_radio(qtbot: QtBot, radio: QtWidgets.QRadioButton) -> None:
    """Click the round indicator: a radio button's middle can be empty space past its text."""
    qtbot.mouseClick(radio, LEFT, pos=QtCore.QPoint(8, radio.height() // 2))
    assert radio.isChecked()


def csv_titles(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return sorted(row["title"] for row in csv.DictReader(handle))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_a_csv_export_writes_every_dataset_and_closes(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, catalogue, tasks, tmp_path)
    # The defaults: a CSV of everything, under a dated name in the folder given.
    assert dialog.export_format is ExportFormat.CSV
    assert dialog.scope is ExportScope.ALL
    assert dialog.destination == tmp_path / default_name(ExportFormat.CSV)
    # Nothing selected and no search: those scopes cannot be picked.
    assert not dialog.scope_radios[ExportScope.SELECTION].isEnabled()
    assert not dialog.scope_radios[ExportScope.SEARCH].isEnabled()

    target = tmp_path / "everything.csv"
    dialog.destination_edit.clear()
    qtbot.keyClicks(dialog.destination_edit, str(target))
    with qtbot.waitSignal(dialog.exported, timeout=10000) as exported:
        qtbot.mouseClick(dialog.export_button, LEFT)
    result = exported.args[0]
    assert (result.datasets, result.destination) == (4, target)
    assert result.bytes_written == target.stat().st_size
    assert csv_titles(target) == sorted(TITLES)
    assert not dialog.isVisible()
    assert leftovers(tmp_path) == []


def test_published_only_as_json(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, catalogue, tasks, tmp_path)
    dialog.set_format(ExportFormat.JSON)
    assert dialog.destination == tmp_path / default_name(ExportFormat.JSON)
    dialog.set_scope(ExportScope.PUBLISHED)
    with qtbot.waitSignal(dialog.exported, timeout=10000):
        qtbot.mouseClick(dialog.export_button, LEFT)
    document = json.loads((tmp_path / default_name(ExportFormat.JSON)).read_text("utf-8"))
    assert sorted(d["title"] for d in document) == ["Air Quality Readings", "Street Trees"]


def test_the_search_scope_exports_what_the_search_finds(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, catalogue, tasks, tmp_path, search="air qual", search_count=1)
    radio = dialog.scope_radios[ExportScope.SEARCH]
    assert radio.isEnabled()
    assert radio.text() == "The current search, “air qual” (1 dataset)"
    click_radio(qtbot, radio)
    dialog.set_format(ExportFormat.XLSX)
    with qtbot.waitSignal(dialog.exported, timeout=10000):
        qtbot.mouseClick(dialog.export_button, LEFT)
    book = openpyxl.load_workbook(tmp_path / default_name(ExportFormat.XLSX), read_only=True)
    sheet = book["datasets"]
    rows = list(sheet.iter_rows(values_only=True))
    title = rows[0].index("title")
    assert [row[title] for row in rows[1:]] == ["Air Quality Readings"]
    book.close()


def test_the_file_name_follows_the_format(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, catalogue, tasks, tmp_path)
    dialog.set_destination(tmp_path / "barnet.csv")
    endings = []
    for export_format in ExportFormat:
        dialog.set_format(export_format)
        endings.append(dialog.destination_edit.text().removeprefix(str(tmp_path / "barnet")))
    assert endings == [".csv", "-resources.csv", ".xlsx", ".json", ".jsonld", ".ttl"]
    assert with_format(Path("a/barnet.xlsx"), ExportFormat.RESOURCES_CSV) == Path(
        "a/barnet-resources.csv"
    )
    assert with_format(Path("barnet-resources.csv"), ExportFormat.CSV) == Path("barnet.csv")
    assert with_format(Path("notes"), ExportFormat.TURTLE) == Path("notes.ttl")


def test_cancel_leaves_no_file(
    qtbot: QtBot, database: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    synthetic.generate(database, 3000, seed=4)  # an export that takes a moment
    folder = tmp_path / "out"
    folder.mkdir()
    dialog = open_dialog(qtbot, database, tasks, folder)
    dialog.set_format(ExportFormat.XLSX)
    target = dialog.destination
    assert target is not None
    qtbot.mouseClick(dialog.export_button, LEFT)
    # While it runs: a progress bar, the settings locked, and Close became Cancel.
    assert dialog.running and dialog.progress_bar.isVisible()
    assert not dialog.export_button.isEnabled() and not dialog.format_combo.isEnabled()
    assert dialog.close_button.text() == "Cancel"
    qtbot.waitUntil(lambda: leftovers(folder) != [], timeout=10000)  # mid-write
    qtbot.mouseClick(dialog.close_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.running, timeout=10000)
    assert dialog.message_label.text() == "Export cancelled; no file was written."
    assert dialog.isVisible()  # it stays, to say so and to let the person try again
    assert dialog.export_button.isEnabled() and dialog.close_button.text() == "Close"
    assert not target.exists()
    assert list(folder.iterdir()) == []


def test_a_failed_export_says_why(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    # /proc takes no files, even from root (a read-only folder would not stop root).
    dialog = open_dialog(qtbot, catalogue, tasks, tmp_path)
    dialog.set_destination(Path("/proc/catalogue.csv"))
    qtbot.mouseClick(dialog.export_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.running, timeout=10000)
    message = dialog.message_label.text()
    assert message == "The export failed: Cannot write in /proc: No such file or directory"
    assert dialog.message_label.property("role") == "error"
    assert dialog.isVisible() and dialog.export_button.isEnabled()


def test_replacing_a_file_is_asked_first(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    target = tmp_path / "catalogue.csv"
    target.write_text("keep me\n")
    dialog = open_dialog(qtbot, catalogue, tasks, tmp_path)
    dialog.set_destination(target)
    dialog.confirm_overwrite = lambda _path: False
    qtbot.mouseClick(dialog.export_button, LEFT)
    assert not dialog.running
    assert target.read_text() == "keep me\n"
    dialog.confirm_overwrite = lambda _path: True
    with qtbot.waitSignal(dialog.exported, timeout=10000):
        qtbot.mouseClick(dialog.export_button, LEFT)
    assert csv_titles(target) == sorted(TITLES)


def test_a_missing_folder_is_reported_before_anything_runs(
    qtbot: QtBot, catalogue: Database, tasks: TaskRunner, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, catalogue, tasks, tmp_path)
    dialog.set_destination(tmp_path / "nowhere" / "catalogue.csv")
    qtbot.mouseClick(dialog.export_button, LEFT)
    assert not dialog.running
    assert dialog.message_label.text() == f"The folder {tmp_path / 'nowhere'} does not exist."
    dialog.destination_edit.clear()
    assert not dialog.export_button.isEnabled()


# -- from the main window ------------------------------------------------------------------------


def test_file_export_of_the_selected_rows(
    qtbot: QtBot, catalogue: Database, main_window: MainWindow, tmp_path: Path
) -> None:
    window = main_window
    table = window.table
    # Click one row, Ctrl+click another (the table is sorted by title).
    for row, modifier in ((0, QtCore.Qt.KeyboardModifier.NoModifier),
                          (2, QtCore.Qt.KeyboardModifier.ControlModifier)):  # fmt: skip
        rect = table.visualRect(window.model.index(row, 1))
        qtbot.mouseClick(table.viewport(), LEFT, modifier, rect.center())
    assert window.selected_count() == 2
    chosen = [str(window.model.data(window.model.index(r, 1))) for r in (0, 2)]

    window._export_folder = tmp_path
    window.export_action.trigger()
    dialog = window.export_dialog
    assert dialog is not None and dialog.isVisible()
    selection = dialog.scope_radios[ExportScope.SELECTION]
    assert selection.isEnabled() and selection.text() == "The selected datasets (2)"
    click_radio(qtbot, selection)
    with qtbot.waitSignal(dialog.exported, timeout=10000):
        qtbot.mouseClick(dialog.export_button, LEFT)
    target = tmp_path / default_name(ExportFormat.CSV)
    assert csv_titles(target) == sorted(chosen)
    assert not dialog.isVisible()  # closed: the status bar tells what was written
    message = window.statusBar().currentMessage()
    assert message.startswith("Exported 2 datasets (") and message.endswith(f" to {target}")
