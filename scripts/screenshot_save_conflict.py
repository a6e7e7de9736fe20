"""The README's screenshot of a save over another person's change, on the sample catalogue.

xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_save_conflict.py \
    docs/save-conflict.png

The archivist edits the first dataset's title and description in the form; meanwhile Bob (a
second desktop: another connection to the catalogue) saves his own title, description and tags.
The archivist's save opens the conflict view: the two fields both changed, side by side; Bob's
tags are merged without asking.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shot_window import close, grab_screen, sample_window
from sqlalchemy import select

from app.models.database import Database
from app.models.dataset import Dataset
from app.services import access, datasets
from app.views.qt import QtCore, QtWidgets


def add_people(database: Database, _folder: Path) -> None:
    with database.transaction() as session:
        access.create_user(session, "archivist", display_name="Alice Archer")
        access.create_user(session, "bob", display_name="Bob Baker")


def main(out: str) -> int:
    with sample_window(add_people) as (app, window):
        database = window.database
        with database.read() as session:
            dataset_id = session.scalars(select(Dataset.id).order_by(Dataset.pk).limit(1)).one()
            record = datasets.get_record(session, dataset_id)
        title = str(record["title"])

        def open_first() -> None:
            window.select_dataset(dataset_id)
            QtCore.QTimer.singleShot(800, edit)

        def edit() -> None:
            form = window.form
            form.title_edit.setText(f"{title} (checked 2025)")
            form.description_edit.setPlainText(
                "<p>Checked against the 2025 survey; two columns renamed.</p>"
            )
            other = Database(database.url)  # Bob's desktop
            with other.transaction() as session:
                datasets.update_dataset(
                    session,
                    dataset_id,
                    {
                        "title": f"{title}, by ward",
                        "description": "<p>Now split by ward, one file a year.</p>",
                        "tags": [*record["tags"], "wards"],
                    },
                    author="bob",
                )
            other.dispose()
            QtCore.QTimer.singleShot(1500, save)

        def save() -> None:
            window.save_action.trigger()
            QtCore.QTimer.singleShot(1500, choose)

        def choose() -> None:
            dialog = window.commands.conflict_dialog
            assert dialog is not None
            dialog.move(120, 90)
            dialog.list.setCurrentRow(0)  # the description: kept as the archivist wrote it
            dialog.mine_radio.click()
            dialog.list.setCurrentRow(1)  # the title: both, by hand
            dialog.merged_radio.click()
            dialog.merged_edit.setPlainText(f"{title}, by ward (checked 2025)")
            QtCore.QTimer.singleShot(600, shoot)

        def shoot() -> None:
            grab_screen(app, out)
            dialog = window.commands.conflict_dialog
            if dialog is not None:
                dialog.reject()
            window.ask_unsaved = lambda: QtWidgets.QMessageBox.StandardButton.Discard
            close(app, window)

        QtCore.QTimer.singleShot(1200, open_first)
        app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/save-conflict.png"))
