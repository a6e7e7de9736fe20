"""Undo and redo of this window's operations: save, create, delete, publish, unpublish, restore.

Each operation that wrote datasets gives a `Step` (services.undoable); the steps are kept here
in order. Undo reverts the newest step through the operation API (views.operations) as new
versions, each with the version the step left the dataset at: if the dataset changed since (a
PATCH from the server, a pull), the service refuses, nothing is changed, and the window says
why. Only then does the position move, so a refused undo can be tried again or left. Redo
reverts the revert. Writes are queued one at a time, so an undo asked for during a save runs
after it, on what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.services.undoable import Step, revert
from app.views.operations import Operations, Outcome, change_of
from app.views.qt import QtCore, QtGui, Signal

LIMIT = 100  # steps kept; the oldest go first


class UndoHistory(QtCore.QObject):
    changed = Signal()  # what can be undone or redone changed
    applied = Signal(object)  # the Step written by an undo or a redo
    refused = Signal(str)  # an undo or redo changed nothing: why

    def __init__(
        self, operations: Operations, author: Callable[[], str], parent: QtCore.QObject
    ) -> None:
        super().__init__(parent)
        self._operations = operations
        self._author = author
        self._done: list[Step] = []  # undo takes the last
        self._undone: list[Step] = []  # redo takes the last
        self._running = False

    def push(self, step: Step) -> None:
        """An operation of this window wrote `step`: it is the next to undo; redo is gone."""
        self._done.append(step)
        del self._done[:-LIMIT]
        self._undone.clear()
        self.changed.emit()

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self.changed.emit()

    def can_undo(self) -> bool:
        return bool(self._done) and not self._running

    def can_redo(self) -> bool:
        return bool(self._undone) and not self._running

    def undo_text(self) -> str:
        return f"Undo {self._done[-1].label()}" if self._done else "Undo"

    def redo_text(self) -> str:
        return f"Redo {self._undone[-1].label()}" if self._undone else "Redo"

    def undo_tip(self) -> str:
        return self._done[-1].describe() if self._done else ""

    def redo_tip(self) -> str:
        return self._undone[-1].describe() if self._undone else ""

    def undo(self) -> None:
        if self.can_undo():
            self._apply(self._done, self._undone, "undo")

    def redo(self) -> None:
        if self.can_redo():
            self._apply(self._undone, self._done, "redo")

    def _apply(self, source: list[Step], target: list[Step], verb: str) -> None:
        step = source[-1]
        author = self._author()

        def run(session: Session) -> Outcome[Step]:
            back = revert(session, step, author=author, action=verb)
            return Outcome(back, change_of(back.dataset_ids))

        def done(back: Step) -> None:
            self._running = False
            source.pop()
            target.append(back)
            self.changed.emit()
            self.applied.emit(back)

        def failed(error: Exception) -> bool:
            self._running = False
            self.changed.emit()
            message = self._operations.expected_message(error)
            if message is None:
                return False  # a bug: the one handler shows it
            self.refused.emit(message)
            return True

        self._running = True
        self.changed.emit()
        self._operations.write(f"{verb} the {step.label()}", run, done, failed)

    def make_actions(self, parent: QtCore.QObject) -> tuple[QtGui.QAction, QtGui.QAction]:
        """The Undo and Redo actions, their text and state kept up to date."""
        keys = QtGui.QKeySequence.StandardKey
        undo = QtGui.QAction("&Undo", parent)
        undo.setShortcut(QtGui.QKeySequence(keys.Undo))
        undo.triggered.connect(lambda _checked=False: self.undo())
        redo = QtGui.QAction("&Redo", parent)
        redo.setShortcut(QtGui.QKeySequence(keys.Redo))
        redo.triggered.connect(lambda _checked=False: self.redo())

        def update() -> None:
            undo.setEnabled(self.can_undo())
            undo.setText(self.undo_text())
            undo.setToolTip(self.undo_tip() or "Nothing to undo")
            # The toolbar shows the icon-less button's text: short, so it never pushes the
            # other buttons into the overflow.
            undo.setIconText("Undo")
            redo.setEnabled(self.can_redo())
            redo.setText(self.redo_text())
            redo.setToolTip(self.redo_tip() or "Nothing to redo")
            redo.setIconText("Redo")

        self.changed.connect(update)
        update()
        return undo, redo
