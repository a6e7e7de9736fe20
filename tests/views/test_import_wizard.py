"""File > Import and file drops, driven through the main window as a person would."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from app.models import Dataset
from app.models.database import Database
from app.services import datasets
from app.services.exporting import ExportFormat, ExportRequest, export_catalogue
from app.services.importing import OnExisting
from app.views.import_wizard import ImportWizard, Step
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import drop_files, open_in_form, titles_shown, wait_for_writes

TITLES = ["Street Trees", "Parking Fines", "Library Loans"]
LEFT = QtCore.Qt.MouseButton.LeftButton

COUNCIL_CSV = (
    "Name,Notes,Keywords,Maintainer Email,Colour\n"
    "Bus Stops,<p>Every stop in the borough</p>,transport; buses,buses@example.org,red\n"
    "Car Parks,Spaces and prices,parking,parking@example.org,blue\n"
)
BAD_CSV = (
    "Name,Notes,Keywords,Maintainer Email\n"
    "Bus Stops,<p>Every stop</p>,transport,buses@example.org\n"
    "Car Parks,Spaces,parking,not-an-email\n"
    ",No title here,x,a@example.org\n"
)


@pytest.fixture
def catalogue(database: Database) -> dict[str, str]:
    """Three datasets: title -> id."""
    ids = {}
    with database.transaction() as session:
        for title in TITLES:
            ids[title] = datasets.create_dataset(session, make_record(title=title), author=AUTHOR)[
                "id"
            ]
    return ids


def dataset_count(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(Dataset)) or 0)


def click(qtbot: QtBot, widget: QtWidgets.QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.objectName() or widget
    qtbot.mouseClick(widget, LEFT)


def click_radio(qtbot: QtBot, radio: QtWidgets.QRadioButton) -> None:
    """Click the round indicator: a radio button's middle can be empty space past its text."""
    qtbot.mouseClick(radio, LEFT, pos=QtCore.QPoint(8, radio.height() // 2))


def open_wizard(qtbot: QtBot, window: MainWindow, path: Path) -> ImportWizard:
    wizard = window.import_file(path)
    assert wizard is not None and wizard.isVisible()
    return wizard


def to_preview(qtbot: QtBot, wizard: ImportWizard) -> None:
    with qtbot.waitSignal(wizard.planShown, timeout=10000):
        click(qtbot, wizard.next_button)
    assert wizard.step is Step.PREVIEW


def test_a_spreadsheet_through_mapping_and_preview_to_a_committed_import(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
    tmp_path: Path,
) -> None:
    path = tmp_path / "council.csv"
    path.write_text(COUNCIL_CSV, encoding="utf-8")
    wizard = main_window.import_file(path)
    assert wizard is not None
    qtbot.waitSignal(wizard.mappingShown, timeout=10000).wait()

    # The mapping step, pre-filled from the column names.
    assert wizard.step is Step.MAPPING
    assert wizard.format_label.text() == "CSV table"
    table = wizard.mapping_table
    shown = {c: table.combo_for(c).currentText() for c in table.columns}
    assert shown == {
        "Name": "title",
        "Notes": "description",
        "Keywords": "tags",
        "Maintainer Email": "contactEmail",
        "Colour": "(ignore this column)",
    }
    # Keep the colour, as a custom field.
    combo = table.combo_for("Colour")
    combo.setCurrentIndex(combo.findText("custom field “Colour”"))

    to_preview(qtbot, wizard)
    assert wizard.summary_label.text() == "2 new · 0 changed · 0 unchanged"
    assert wizard.errors_label.text() == "No errors. Import writes all of it in one go."
    assert not wizard.preview_tabs.isTabEnabled(0)
    assert wizard.preview_tabs.currentWidget() is wizard.items_view
    rows = wizard.item_rows()
    assert [(r[0], r[2], r[3]) for r in rows] == [(2, "Bus Stops", "new"), (3, "Car Parks", "new")]
    assert dataset_count(database) == 3  # a preview writes nothing

    with qtbot.waitSignal(wizard.imported, timeout=10000) as imported:
        click(qtbot, wizard.import_button)
    summary = imported.args[0]
    assert (summary.created, summary.updated) == (2, 0)
    assert not wizard.isVisible()
    assert main_window.statusBar().currentMessage() == "Imported: 2 created, 0 updated, 0 unchanged"
    qtbot.waitUntil(
        lambda: sorted(titles_shown(main_window)) == sorted([*TITLES, "Bus Stops", "Car Parks"])
    )
    with database.read() as session:
        record = datasets.get_record(session, rows[0][1])
    assert record["title"] == "Bus Stops"
    assert record["tags"] == ["transport", "buses"]
    assert record["contact"]["email"] == "buses@example.org"
    assert record["custom"] == {"Colour": "red"}


def test_an_import_with_errors_lists_them_and_writes_nothing(
    qtbot: QtBot,
    qtmodeltester: ModelTester,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    wizard = main_window.import_file(path)
    assert wizard is not None
    qtbot.waitSignal(wizard.mappingShown, timeout=10000).wait()
    to_preview(qtbot, wizard)

    assert wizard.summary_label.text() == "1 new · 0 changed · 0 unchanged"
    assert wizard.errors_label.text().startswith("2 errors — nothing can be imported")
    assert wizard.errors_label.property("role") == "error"
    assert not wizard.import_button.isEnabled()
    # Every error, with the row and the column to fix, in the tab shown first.
    assert wizard.preview_tabs.currentWidget() is wizard.errors_view
    assert wizard.preview_tabs.tabText(0) == "Errors (2)"
    view = wizard.errors_view
    model = view.model()
    shown = [
        tuple(model.data(model.index(row, column)) for column in range(3))
        for row in range(model.rowCount())
    ]
    assert shown == [
        ("3", "Maintainer Email", "is not an email address"),
        ("4", "Name", "a title is required"),
    ]
    for checked in (wizard.errors_model, wizard.items_model):
        qtmodeltester.check(checked, force_py=True)  # type: ignore[no-untyped-call, unused-ignore]
    # Pressing a disabled Import does nothing; Cancel closes; nothing was written.
    qtbot.mouseClick(wizard.import_button, LEFT)
    assert not wizard.running
    click(qtbot, wizard.cancel_button)
    assert not wizard.isVisible()
    assert dataset_count(database) == 3


def test_the_mapping_step_refuses_one_field_for_two_columns(
    qtbot: QtBot, catalogue: dict[str, str], main_window: MainWindow, tmp_path: Path
) -> None:
    path = tmp_path / "council.csv"
    path.write_text(COUNCIL_CSV, encoding="utf-8")
    wizard = main_window.import_file(path)
    assert wizard is not None
    qtbot.waitSignal(wizard.mappingShown, timeout=10000).wait()
    wizard.mapping_table.set_target("Notes", "title")
    assert not wizard.next_button.isEnabled()
    assert wizard.message_label.text() == (
        "“Name” and “Notes” both go to title: pick one, ignore the other."
    )
    wizard.mapping_table.set_target("Notes", "")
    assert wizard.next_button.isEnabled()
    assert wizard.message_label.text() == ""


def test_existing_ids_are_skipped_updated_or_copied_as_chosen(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
    tmp_path: Path,
) -> None:
    trees, fines = catalogue["Street Trees"], catalogue["Parking Fines"]
    path = tmp_path / "edited.csv"
    path.write_text(f"id,title\n{trees},Street Trees 2024\n{fines},Parking Fines\n", "utf-8")
    # The form shows Street Trees, unedited: it picks up the import.
    open_in_form(qtbot, main_window, trees)
    wizard = main_window.import_file(path)
    assert wizard is not None
    qtbot.waitSignal(wizard.mappingShown, timeout=10000).wait()
    to_preview(qtbot, wizard)

    assert wizard.on_existing is OnExisting.SKIP
    assert wizard.summary_label.text() == "0 new · 0 changed · 0 unchanged · 2 skipped"
    assert wizard.errors_label.text() == "Nothing to import: the catalogue already has all of it."
    assert not wizard.import_button.isEnabled()

    with qtbot.waitSignal(wizard.planShown, timeout=10000):
        click_radio(qtbot, wizard.on_existing_radios[OnExisting.COPY])
    assert wizard.summary_label.text() == "2 new · 0 changed · 0 unchanged"
    assert [r[3] for r in wizard.item_rows()] == ["new copy", "new copy"]

    with qtbot.waitSignal(wizard.planShown, timeout=10000):
        click_radio(qtbot, wizard.on_existing_radios[OnExisting.UPDATE])
    assert wizard.summary_label.text() == "0 new · 1 changed · 1 unchanged"
    assert [(r[1], r[3], r[4]) for r in wizard.item_rows()] == [
        (trees, "update", "title"),
        (fines, "unchanged", ""),
    ]
    with qtbot.waitSignal(wizard.imported, timeout=10000):
        click(qtbot, wizard.import_button)
    with database.read() as session:
        assert datasets.get_record(session, trees)["title"] == "Street Trees 2024"
    assert dataset_count(database) == 3
    qtbot.waitUntil(lambda: main_window.form.title_edit.text() == "Street Trees 2024")
    qtbot.waitUntil(lambda: "Street Trees 2024" in titles_shown(main_window))


def test_a_file_dropped_on_the_window_is_imported(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
    tmp_path: Path,
) -> None:
    # The catalogue's own DataPress export, brought back as copies.
    path = tmp_path / "export.json"
    export_catalogue(database, ExportRequest(format=ExportFormat.JSON, destination=path))
    drop_files(main_window.table.viewport(), [path])
    qtbot.waitUntil(lambda: main_window.import_wizard is not None)
    wizard = main_window.import_wizard
    assert wizard is not None and wizard.path == path
    # JSON needs no column mapping: straight to the preview.
    qtbot.waitUntil(lambda: wizard.current_plan is not None, timeout=10000)
    assert wizard.step is Step.PREVIEW
    assert wizard.format_label.text() == "DataPress export (JSON)"
    assert not wizard.back_button.isVisible()
    assert wizard.summary_label.text() == "0 new · 0 changed · 0 unchanged · 3 skipped"
    with qtbot.waitSignal(wizard.planShown, timeout=10000):
        click_radio(qtbot, wizard.on_existing_radios[OnExisting.COPY])
    with qtbot.waitSignal(wizard.imported, timeout=10000):
        click(qtbot, wizard.import_button)
    qtbot.waitUntil(lambda: sorted(titles_shown(main_window)) == sorted(TITLES * 2))
    assert dataset_count(database) == 6


def test_a_file_that_is_no_catalogue_says_so(
    qtbot: QtBot, catalogue: dict[str, str], main_window: MainWindow, tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n", encoding="utf-8")
    wizard = main_window.import_file(path)
    assert wizard is not None
    with qtbot.waitSignal(wizard.failed, timeout=10000) as failed:
        pass
    message = str(failed.args[0])
    assert message.startswith("This file cannot be imported: ")
    assert wizard.reading_label.text() == message
    assert not wizard.import_button.isEnabled() and not wizard.next_button.isEnabled()


def test_files_dropped_on_the_form_become_resources_not_an_import(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
    tmp_path: Path,
) -> None:
    trees = catalogue["Street Trees"]
    open_in_form(qtbot, main_window, trees)
    form = main_window.form
    form.tabs.setCurrentIndex(2)  # Files & links
    path = tmp_path / "tree_survey.csv"
    path.write_bytes(b"species,height\noak,12\n")
    with qtbot.waitSignal(form.resourceAdded, timeout=10000) as added:
        drop_files(form.resources.tree.viewport(), [path])
    assert main_window.import_wizard is None
    resource = form.record()["resources"][added.args[0]]
    assert (resource["filename"], resource["size"], resource["format"]) == (
        "tree_survey.csv",
        22,
        "csv",
    )
    click(qtbot, form.save_button)
    wait_for_writes(qtbot, main_window)
    with database.read() as session:
        saved = datasets.get_record(session, trees)["resources"][added.args[0]]
    assert saved["hash"] == hashlib.md5(path.read_bytes()).hexdigest()


def test_an_import_is_one_undo_step_and_undo_refuses_after_an_edit_elsewhere(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
    tmp_path: Path,
) -> None:
    window = main_window
    trees = catalogue["Street Trees"]
    path = tmp_path / "edited.csv"
    path.write_text(f"id,title\n{trees},Street Trees 2024\n,Bus Stops\n", "utf-8")
    wizard = open_wizard(qtbot, window, path)
    qtbot.waitSignal(wizard.mappingShown, timeout=10000).wait()
    to_preview(qtbot, wizard)
    with qtbot.waitSignal(wizard.planShown, timeout=10000):
        click_radio(qtbot, wizard.on_existing_radios[OnExisting.UPDATE])
    assert wizard.summary_label.text() == "1 new · 1 changed · 0 unchanged"
    with qtbot.waitSignal(wizard.imported, timeout=10000):
        click(qtbot, wizard.import_button)
    imported = [*TITLES[1:], "Street Trees 2024", "Bus Stops"]
    qtbot.waitUntil(lambda: sorted(titles_shown(window)) == sorted(imported))
    assert window.undo_action.text() == "Undo import of 2 datasets"
    assert window.undo_action.iconText() == "Undo"

    # Undo: the created dataset goes, the updated one gets its title back, as a new version.
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: sorted(titles_shown(window)) == sorted(TITLES))
    wait_for_writes(qtbot, window)
    assert dataset_count(database) == 3
    with database.read() as session:
        assert datasets.get_record(session, trees)["title"] == "Street Trees"
    assert window.redo_action.text() == "Redo import of 2 datasets"

    # Redo brings the import back, under the same ids.
    window.redo_action.trigger()
    qtbot.waitUntil(lambda: sorted(titles_shown(window)) == sorted(imported))
    wait_for_writes(qtbot, window)
    with database.read() as session:
        assert datasets.get_record(session, trees)["title"] == "Street Trees 2024"
        bus_stops = session.scalar(select(Dataset.id).where(Dataset.title == "Bus Stops"))
    assert bus_stops is not None

    # The imported dataset is edited elsewhere (a PATCH, a pull): undo refuses, says why and
    # changes nothing.
    other = Database(database.url)
    try:
        with other.transaction() as session:
            datasets.update_dataset(session, bus_stops, {"tags": ["theirs"]}, author="bob",
                                    action="patch")  # fmt: skip
    finally:
        other.dispose()
    with qtbot.waitSignal(window.undo.refused, timeout=10000) as refused:
        window.undo_action.trigger()
    message = str(refused.args[0])
    assert message.startswith("Cannot undo the import of 2 datasets: “Bus Stops” was changed")
    assert "patch (tags) by bob" in message and message.endswith("Nothing was changed.")
    assert dataset_count(database) == 4
    with database.read() as session:
        assert datasets.get_record(session, trees)["title"] == "Street Trees 2024"
        assert datasets.get_record(session, bus_stops)["tags"] == ["theirs"]
    assert window.undo_action.text() == "Undo import of 2 datasets"  # still there to try again
