"""Take the README's screenshot: the main window on the sample catalogue, under Xvfb.

xvfb-run -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot.py docs/screenshot.png
"""

from __future__ import annotations

import sys

from shot_window import close, grab_screen, sample_window

from app.views.qt import QtCore


def main(out: str) -> int:
    with sample_window() as (app, window):

        def pick_and_shoot() -> None:
            window.table.selectRow(1)
            QtCore.QTimer.singleShot(800, shoot)

        def shoot() -> None:
            grab_screen(app, out)
            close(app, window)

        QtCore.QTimer.singleShot(1200, pick_and_shoot)
        app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"))
