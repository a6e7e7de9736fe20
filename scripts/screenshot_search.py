"""A screenshot of the search box with a query that cannot be read: the error under the box,
and the table showing what the query's words alone find. On the sample catalogue, under Xvfb.

xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_search.py /tmp/desk.png
"""

from __future__ import annotations

import sys

from shot_window import close, grab_screen, sample_window

from app.views.qt import QtCore

QUERY = 'planning "conservation'  # a phrase whose closing quote is missing


def main(out: str) -> int:
    with sample_window() as (app, window):

        def type_query() -> None:
            window.search_box.setFocus()
            window.search_box.setText(QUERY)
            QtCore.QTimer.singleShot(1500, shoot)

        def shoot() -> None:
            grab_screen(app, out)
            close(app, window)

        QtCore.QTimer.singleShot(1500, type_query)
        app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/search-error.png"))
