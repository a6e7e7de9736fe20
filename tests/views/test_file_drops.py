"""The one drag-and-drop test the main window and the dataset form share."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.views.file_drops import accept_local_files
from app.views.qt import QtCore, QtGui


def drag_enter(mime: QtCore.QMimeData, *urls: QtCore.QUrl) -> QtGui.QDragEnterEvent:
    """A drag of `urls` entering; the event points at `mime`, which the caller keeps alive."""
    mime.setUrls(list(urls))
    return QtGui.QDragEnterEvent(
        QtCore.QPointF(1, 1),
        QtCore.Qt.DropAction.CopyAction,
        mime,
        QtCore.Qt.MouseButton.LeftButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )


def test_a_drag_of_local_files_is_accepted_with_its_paths(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "trees.csv"
    mime = QtCore.QMimeData()
    remote = QtCore.QUrl("https://example.org/remote.csv")
    event = drag_enter(mime, remote, QtCore.QUrl.fromLocalFile(str(path)))
    event.ignore()
    assert accept_local_files(event) == [path]  # the web address is not a local file
    assert event.isAccepted()


def test_a_drag_of_web_addresses_only_is_left_alone(qtbot: QtBot) -> None:
    mime = QtCore.QMimeData()
    event = drag_enter(mime, QtCore.QUrl("https://example.org/remote.csv"))
    event.ignore()
    assert accept_local_files(event) == []
    assert not event.isAccepted()
