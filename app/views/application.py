"""Starting the desktop application: the Qt application, the asyncio loop, the main window."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import qasync

from app.services.sample_catalogue import open_catalogue
from app.views.failures import install_excepthook
from app.views.main_window import MainWindow
from app.views.qt import QtWidgets


def run_gui(db: str | Path | None) -> int:
    """Open the catalogue (a new one starts with the sample) and run until the window closes."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    assert isinstance(app, QtWidgets.QApplication)
    app.setApplicationName("Catalogue Desk")
    app.setOrganizationName("Catalogue Desk")
    database = open_catalogue(db, with_sample=True)
    # qasync: asyncio runs on Qt's event loop, so network work (sync) never blocks the window.
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(database)
    install_excepthook(window.failures)  # a bug in a slot: the one dialog, not the terminal
    window.show()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    try:
        with loop:
            loop.run_until_complete(closed.wait())
    finally:
        window.tasks.wait_for_all()
        database.dispose()
    return 0
