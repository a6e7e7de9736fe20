"""Starting the desktop application: the Qt application, the asyncio loop, the main window."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import qasync

from app.resources import ICON, resource
from app.services.errors import CatalogueError
from app.services.sample_catalogue import open_catalogue
from app.views.catalogue_switch import CatalogueWindows, cannot_open_box
from app.views.failures import install_excepthook
from app.views.qt import QtGui, QtWidgets


def run_gui(db: str | Path | None) -> int:
    """Open the catalogue (a new one starts with the sample) and run until the window closes.

    A catalogue that cannot be opened is said in a message box, and raised on to the command
    line (which prints it and exits with status 2): never a traceback."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    assert isinstance(app, QtWidgets.QApplication)
    app.setApplicationName("Catalogue Desk")
    app.setOrganizationName("Catalogue Desk")
    # The desktop entry's name (resources/catalogue-desk.desktop): docks group the window
    # under its icon.
    app.setDesktopFileName("catalogue-desk")
    app.setWindowIcon(QtGui.QIcon(str(resource(ICON))))
    try:
        database = open_catalogue(db, with_sample=True)
    except CatalogueError as error:
        cannot_open_box(None, error.message).exec()
        raise
    # qasync: asyncio runs on Qt's event loop, so network work (sync) never blocks the window.
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    windows = CatalogueWindows(database)
    # A bug in a slot: the current window's one dialog, not the terminal.
    install_excepthook(lambda: windows.window.failures)
    windows.window.show()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    try:
        with loop:
            loop.run_until_complete(closed.wait())
    finally:
        windows.dispose()
    return 0
