"""The README's screenshots of the facet sidebar and of the batch edit preview, on the sample
catalogue, under Xvfb.

xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_facets.py \
    docs/facets.png docs/batch-edit.png

A facet value is clicked, as a person would; then the first rows are
highlighted and Dataset > Edit selected… opens with tags added, a team set and Publish chosen.
"""

from __future__ import annotations

import sys

from shot_window import close, grab_screen, sample_window

from app.views.batch_edit_dialog import BatchEditDialog
from app.views.facet_sidebar import FACET_ROLE
from app.views.qt import QtCore


def main(facets_out: str, batch_out: str) -> int:
    with sample_window() as (app, window):
        sidebar = window.facets

        def choose_facet() -> None:
            model = sidebar.model
            # the most frequent value of the topic facet, as a click on it
            tag = model.index(model.facet_keys().index("topic"), 0)
            pair = model.index(0, 0, tag).data(FACET_ROLE)
            sidebar.choose((pair,))
            QtCore.QTimer.singleShot(1500, shoot_facets)

        def shoot_facets() -> None:
            grab_screen(app, facets_out)
            batch()

        def batch() -> None:
            sidebar.choose(())
            window.search_box.clear()
            QtCore.QTimer.singleShot(1200, open_batch)

        def open_batch() -> None:
            flags = QtCore.QItemSelectionModel.SelectionFlag
            window.table.selectRow(0)
            window.table.selectionModel().select(
                QtCore.QItemSelection(window.model.index(1, 0), window.model.index(3, 0)),
                flags.Select | flags.Rows,
            )
            window.batch_edit_action.trigger()
            dialog = window.findChild(BatchEditDialog)
            assert dialog is not None
            dialog.move(260, 110)
            QtCore.QTimer.singleShot(1200, lambda: fill(dialog))

        def fill(dialog: BatchEditDialog) -> None:
            dialog.add_tags.setText("reviewed, 2026")
            dialog.state.setCurrentIndex(dialog.state.findData("publish"))
            dialog.set_embargo.setChecked(True)
            dialog.embargo.setText("2027-01-01")
            QtCore.QTimer.singleShot(1500, lambda: finish(dialog))

        def finish(dialog: BatchEditDialog) -> None:
            grab_screen(app, batch_out)
            dialog.reject()
            close(app, window)

        QtCore.QTimer.singleShot(2000, choose_facet)
        app.exec()
    return 0


if __name__ == "__main__":
    args = sys.argv[1:] or ["docs/facets.png", "docs/batch-edit.png"]
    sys.exit(main(args[0], args[1]))
