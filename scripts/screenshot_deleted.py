"""The README's screenshot of View > Deleted datasets, on the sample catalogue, under Xvfb.

xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_deleted.py \
    docs/deleted-view.png

Three datasets are deleted through the window (one operation, as a person would: highlighted
rows, Delete), the Deleted view opens over the window and one of them is highlighted.
"""

from __future__ import annotations

import sys

from shot_window import close, grab_screen, sample_window

from app.views.qt import QtCore


def main(out: str) -> int:
    with sample_window() as (app, window):
        window.confirm = lambda _title, _text: True

        def delete_three() -> None:
            flags = QtCore.QItemSelectionModel.SelectionFlag
            window.table.selectRow(2)
            window.table.selectionModel().select(
                QtCore.QItemSelection(window.model.index(3, 0), window.model.index(4, 0)),
                flags.Select | flags.Rows,
            )
            window.delete_action.trigger()
            QtCore.QTimer.singleShot(1500, open_view)

        def open_view() -> None:
            dialog = window.open_deleted()
            dialog.move(300, 180)
            dialog.loaded.connect(lambda _n: QtCore.QTimer.singleShot(600, pick))

        def pick() -> None:
            dialog = window.deleted_dialog
            assert dialog is not None
            dialog.table.selectRow(0)
            QtCore.QTimer.singleShot(600, shoot)

        def shoot() -> None:
            grab_screen(app, out)
            close(app, window)

        QtCore.QTimer.singleShot(1200, delete_three)
        app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/deleted-view.png"))
