"""The README's screenshot of Tools > Find duplicates, on the sample catalogue, under Xvfb.

xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_duplicates.py \
    docs/duplicates.png

A few sample datasets are copied first as a careless import would: the title in capitals with
other punctuation, a typo, a copy of a file. The dialog opens over the window with the first
group's merge preview, one field picked from the older record.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shot_window import close, grab_screen, sample_window
from sqlalchemy import select

from app.models.database import Database
from app.models.dataset import Dataset
from app.services import datasets
from app.views.qt import QtCore


def _copy(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copied = {key: value for key, value in record.items() if key not in ("id", "createdAt")}
    copied.update(id="", updatedAt=None, **changes)
    return copied


def add_duplicates(database: Database, _folder: Path) -> None:
    with database.transaction() as session:
        ids = session.scalars(select(Dataset.id).order_by(Dataset.pk).limit(3)).all()
        first, second, third = (datasets.get_record(session, i) for i in ids)
        title = str(first["title"])
        copies = [
            _copy(first, title=f"{title.upper()}.", description="<p>Imported twice.</p>",
                  tags=[*first["tags"], "imported"]),
            _copy(first, title=title.replace("e", "a", 1), resources={}, links={}),
            _copy(second, title=f"{second['title']} (copy)", tags=["copy"]),
            _copy(third, title=f"  {str(third['title']).lower()}  "),
        ]  # fmt: skip
        for record in copies:
            datasets.create_dataset(session, record, author="importer")


def main(out: str) -> int:
    with sample_window(add_duplicates) as (app, window):

        def open_dialog() -> None:
            dialog = window.open_duplicates()
            dialog.move(160, 110)
            dialog.found.connect(lambda _n: QtCore.QTimer.singleShot(300, biggest))

        def biggest() -> None:
            dialog = window.duplicates_dialog
            assert dialog is not None
            sizes = [len(group.members) for group in dialog.groups.rows()]
            dialog.previewed.connect(lambda _plan: QtCore.QTimer.singleShot(400, pick))
            dialog.group_table.selectRow(sizes.index(max(sizes)))

        def pick() -> None:
            dialog = window.duplicates_dialog
            assert dialog is not None
            preview = dialog.preview
            plan = preview.plan
            assert plan is not None
            records = plan.records
            oldest = min(range(len(records)), key=lambda i: str(records[i].get("updatedAt")))
            # The title as first catalogued, the description of the newest import.
            picks = {"title": oldest, "description": 1 if plan.kept == 0 else 0}
            for key, column in picks.items():
                if key in preview.fields():
                    preview.setData(
                        preview.index(preview.row_of(key), column),
                        QtCore.Qt.CheckState.Checked,
                        QtCore.Qt.ItemDataRole.CheckStateRole,
                    )
            QtCore.QTimer.singleShot(600, shoot)

        def shoot() -> None:
            grab_screen(app, out)
            close(app, window)

        QtCore.QTimer.singleShot(1200, open_dialog)
        app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/duplicates.png"))
