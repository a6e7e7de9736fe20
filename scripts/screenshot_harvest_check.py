"""Take the README's picture of Check harvesters: the server started on the sample catalogue,
the check run, its report shown over the window, under Xvfb.

xvfb-run -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_harvest_check.py \\
    docs/check-harvesters.png
"""

from __future__ import annotations

import sys

from shot_window import close, grab_screen, sample_window

from app.views.qt import QtCore

POLL_MS = 200


def main(out: str) -> int:
    with sample_window() as (app, window):
        panel = window.server_panel
        panel.ask_stop = lambda: True  # the window closes without asking, server and all

        def start() -> None:
            window.side_tabs.setCurrentWidget(panel)
            panel.port_spin.setValue(0)
            panel.started.connect(lambda _url: panel.check_button.click())
            panel.start()
            QtCore.QTimer.singleShot(POLL_MS, wait_for_report)

        def wait_for_report() -> None:
            dialog = panel.harvest_check
            if dialog is None or dialog.report is None:
                QtCore.QTimer.singleShot(POLL_MS, wait_for_report)
                return
            dialog.move(300, 110)
            QtCore.QTimer.singleShot(600, shoot)

        def shoot() -> None:
            grab_screen(app, out)
            if panel.harvest_check is not None:
                panel.harvest_check.close()
            close(app, window)

        QtCore.QTimer.singleShot(1200, start)
        app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/check-harvesters.png"))
