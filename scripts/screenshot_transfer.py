"""Screenshots of File > Export and of the import preview, on the sample catalogue, under Xvfb.

xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_transfer.py docs

Writes export-dialog.png and import-preview.png into the folder given. The import is a CSV of
the sample's datasets with one title edited, one new row and one row with a bad email, planned
with "Update them from the file", so the preview shows counts, an error and the choice.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

from app.services.exporting import ExportFormat, ExportRequest, export_catalogue
from app.services.importing import OnExisting
from app.services.sample_catalogue import open_catalogue
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets


def edited_csv(source: Path, target: Path) -> None:
    """A few columns of our CSV export, as a person would edit it in a spreadsheet."""
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keep = ["id", "title", "tags", "contactEmail", "sharing"]
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, keep, extrasaction="ignore")
        writer.writeheader()
        for number, row in enumerate(rows[:12]):
            if number == 2:
                row["title"] += " (revised 2025)"
            if number == 5:
                row["contactEmail"] = "records at barnet"
            writer.writerow(row)
        writer.writerow({"id": "", "title": "Allotment Waiting Lists", "tags": "allotments",
                         "contactEmail": "parks@example.org", "sharing": "public"})  # fmt: skip


def main(folder: str) -> int:
    out = Path(folder)
    app = QtWidgets.QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as work:
        database = open_catalogue(Path(work) / "sample.sqlite", with_sample=True)
        exported = Path(work) / "sample.csv"
        export_catalogue(database, ExportRequest(format=ExportFormat.CSV, destination=exported))
        edited = Path(work) / "barnet-datasets-edited.csv"
        edited_csv(exported, edited)
        window = MainWindow(database, author="archivist")
        window._export_folder = Path.home() / "Documents"
        window.resize(1400, 860)
        window.show()
        window.move(0, 0)
        shots: list[tuple[QtWidgets.QWidget, Path]] = []

        def grab(widget: QtWidgets.QWidget, name: str) -> None:
            QtWidgets.QApplication.processEvents()
            widget.grab().save(str(out / name))
            shots.append((widget, out / name))

        def export_step() -> None:
            window.search_box.setText("ward")
            QtCore.QTimer.singleShot(700, show_export)

        def show_export() -> None:
            window.table.selectRow(0)
            window.table.selectionModel().select(
                window.model.index(2, 0),
                QtCore.QItemSelectionModel.SelectionFlag.Select
                | QtCore.QItemSelectionModel.SelectionFlag.Rows,
            )
            dialog = window.open_export()
            dialog.set_format(ExportFormat.XLSX)
            QtCore.QTimer.singleShot(500, lambda: shoot_export(dialog))

        def shoot_export(dialog: QtWidgets.QDialog) -> None:
            grab(dialog, "export-dialog.png")
            dialog.reject()
            window.search_box.clear()
            QtCore.QTimer.singleShot(500, import_step)

        def import_step() -> None:
            wizard = window.import_file(edited)
            assert wizard is not None
            wizard.mappingShown.connect(lambda: QtCore.QTimer.singleShot(300, wizard.plan))
            wizard.planShown.connect(lambda _plan: after_plan(wizard))

        def after_plan(wizard: QtWidgets.QDialog) -> None:
            from app.views.import_wizard import ImportWizard

            assert isinstance(wizard, ImportWizard)
            if wizard.on_existing is OnExisting.SKIP:
                wizard.set_on_existing(OnExisting.UPDATE)  # plans again
                return
            QtCore.QTimer.singleShot(500, lambda: shoot_import(wizard))

        def shoot_import(wizard: QtWidgets.QDialog) -> None:
            grab(wizard, "import-preview.png")
            wizard.reject()
            window.close()
            app.quit()

        QtCore.QTimer.singleShot(1200, export_step)
        app.exec()
        window.tasks.wait_for_all()
        database.dispose()
    for _widget, path in shots:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs"))
