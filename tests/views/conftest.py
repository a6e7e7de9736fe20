"""Helpers for the window-level tests of export, import, file drops and the link check."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot, WaitSignalsOrder
from pytestqt.wait_signal import CheckParamsCb, MultiSignalBlocker, SignalBlocker

from app.models.database import Database
from app.views.dataset_table_model import TITLE_COLUMN
from app.views.failures import LOG_ENV
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtGui, QtWidgets

# How long a wait may take before the test fails: work on threads (loads, saves, servers) runs
# many times slower on a loaded machine, and a wait ends as soon as its condition holds, so only
# a failing test waits this long.
WAIT_MS = 30_000


class PatientQtBot(QtBot):
    """qtbot whose waits give up after WAIT_MS by default, not pytest-qt's 5 seconds."""

    def waitSignal(
        self,
        signal: Any,
        *,
        timeout: int = WAIT_MS,
        raising: bool | None = None,
        check_params_cb: CheckParamsCb | None = None,
    ) -> SignalBlocker:
        return super().waitSignal(
            signal, timeout=timeout, raising=raising, check_params_cb=check_params_cb
        )

    def waitSignals(
        self,
        signals: list[Any],
        *,
        timeout: int = WAIT_MS,
        raising: bool | None = None,
        check_params_cbs: list[CheckParamsCb] | None = None,
        order: WaitSignalsOrder = "none",
    ) -> MultiSignalBlocker:
        return super().waitSignals(
            signals,
            timeout=timeout,
            raising=raising,
            check_params_cbs=check_params_cbs,
            order=order,
        )

    def waitUntil(self, callback: Callable[[], bool | None], *, timeout: int = WAIT_MS) -> None:
        super().waitUntil(callback, timeout=timeout)


@pytest.fixture(autouse=True)
def private_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every window test reads and writes its own settings file (views.window_settings), in a
    temporary folder: never the person's, and never another test's."""
    folder = tmp_path_factory.mktemp("settings")
    ini = QtCore.QSettings.Format.IniFormat
    user = QtCore.QSettings.Scope.UserScope
    QtCore.QSettings.setPath(ini, user, str(folder))
    yield folder
    QtCore.QSettings.setPath(ini, user, str(folder.parent / "unused-settings"))


@pytest.fixture(autouse=True)
def error_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the window logs a bug: the test's folder, never the person's log folder."""
    path = tmp_path / "errors.log"
    monkeypatch.setenv(LOG_ENV, str(path))
    return path


@pytest.fixture
def qtbot(qapp: QtWidgets.QApplication, request: pytest.FixtureRequest) -> QtBot:
    """pytest-qt's qtbot, patient enough for a loaded machine (see WAIT_MS)."""
    return PatientQtBot(request)


@pytest.fixture
def main_window(qtbot: QtBot, database: Database) -> Iterator[MainWindow]:
    """The whole window on `database` (fill it before asking for this), rows loaded."""
    main = MainWindow(database, author="archivist")
    main.ask_unsaved = lambda: QtWidgets.QMessageBox.StandardButton.Discard
    with qtbot.waitSignal(main.model.countChanged):
        main.show()
    qtbot.waitUntil(lambda: main.model.order_loaded)
    yield main
    main.close()
    main.tasks.wait_for_all()
    main.deleteLater()


def titles_shown(window: MainWindow) -> list[str]:
    model = window.model
    return [str(model.data(model.index(row, TITLE_COLUMN))) for row in range(model.rowCount())]


def drop_files(widget: QtWidgets.QWidget, paths: Sequence[Path]) -> None:
    """Drag local files over `widget` and drop them, as the window system delivers a drop: to
    the top-level window at a point, where Qt finds the widget that takes it."""
    top = widget.window()
    handle = top.windowHandle()
    assert handle is not None
    point = QtCore.QPointF(widget.mapTo(top, widget.rect().center()))
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path)) for path in paths])
    copy = QtCore.Qt.DropAction.CopyAction
    left = QtCore.Qt.MouseButton.LeftButton
    none = QtCore.Qt.KeyboardModifier.NoModifier
    enter = QtGui.QDragEnterEvent(point, copy, mime, left, none)
    QtWidgets.QApplication.sendEvent(handle, enter)
    assert enter.isAccepted(), "nothing under the point takes files"
    move = QtGui.QDragMoveEvent(point, copy, mime, left, none)
    QtWidgets.QApplication.sendEvent(handle, move)
    drop = QtGui.QDropEvent(point, copy, mime, left, none)
    QtWidgets.QApplication.sendEvent(handle, drop)
    assert drop.isAccepted()


def open_in_form(qtbot: QtBot, window: MainWindow, dataset_id: str) -> None:
    """Select `dataset_id`'s row and wait until the form shows it (it is read on a worker)."""
    window.select_dataset(dataset_id)
    qtbot.waitUntil(lambda: window.form.record().get("id") == dataset_id)


def wait_for_writes(qtbot: QtBot, window: MainWindow) -> None:
    """Wait until the window's writes (saves, deletes, undo...) have all finished."""
    qtbot.waitUntil(lambda: not window.operations.busy)


def saying_yes(asked: list[str]) -> Callable[[str, str], bool]:
    """A confirmation that answers yes and keeps each question's text."""

    def confirm(_title: str, text: str) -> bool:
        asked.append(text)
        return True

    return confirm


@contextmanager
def another_writer_holds_the_lock(database: Database) -> Iterator[list[int]]:
    """Another program holds the catalogue's write lock until the block ends. Yields the
    ticks of a 30 ms timer: they are counted only while the event loop answers, so 100 new
    ticks are 3 s of a responsive window, however busy the machine."""
    holder = sqlite3.connect(str(database.engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    pings: list[int] = []
    ping = QtCore.QTimer(interval=30)
    ping.timeout.connect(lambda: pings.append(len(pings)))
    try:
        ping.start()
        yield pings
    finally:
        holder.rollback()
        holder.close()
        ping.stop()
