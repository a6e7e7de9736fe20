"""Take the README's screenshot: the main window on the sample catalogue, under Xvfb.

xvfb-run -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot.py docs/screenshot.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# The checkout this script is in, ahead of any installed copy (an editable install of another
# worktree would otherwise be what is photographed).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.sample_catalogue import open_catalogue
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets


def main(out: str) -> int:
    app = QtWidgets.QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        # The window's remembered layout (QSettings) from a fresh folder: the same picture on
        # every machine, and the person's own settings untouched.
        QtCore.QSettings.setPath(
            QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, folder
        )
        database = open_catalogue(Path(folder) / "sample.sqlite", with_sample=True)
        window = MainWindow(database, author="archivist")
        window.resize(1400, 860)
        window.show()
        window.move(0, 0)

        def pick_and_shoot() -> None:
            window.table.selectRow(1)
            QtCore.QTimer.singleShot(800, shoot)

        def shoot() -> None:
            screen = app.primaryScreen()
            screen.grabWindow(0, 0, 0, 1400, 860).save(out)
            window.close()
            app.quit()

        QtCore.QTimer.singleShot(1200, pick_and_shoot)
        app.exec()
        window.tasks.wait_for_all()
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"))
