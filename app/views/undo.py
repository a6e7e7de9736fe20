"""Undo and redo of saved dataset edits: each save is one command on a QUndoStack.

Undo writes the previous record back through the services (so it is itself a versioned,
transactional edit); redo writes the saved record again. Undoing a creation deletes the dataset.
"""

from __future__ import annotations

from collections.abc import Callable

from app.models.database import Database
from app.services import datasets
from app.services.record.fields import CATALOGUE_KEYS
from app.services.records import Record
from app.views.qt import QtGui


def _content(record: Record) -> Record:
    return {k: v for k, v in record.items() if k not in CATALOGUE_KEYS | {"updatedAt"}}


class SaveDatasetCommand(QtGui.QUndoCommand):
    def __init__(
        self,
        database: Database,
        author: str,
        before: Record | None,
        after: Record,
        on_applied: Callable[[str], None],
    ) -> None:
        title = after.get("title") or after["id"]
        super().__init__(f"{'Edit' if before else 'Create'} “{title}”")
        self._database = database
        self._author = author
        self._before = before
        self._after = after
        self._on_applied = on_applied
        self._first_redo = True  # the save itself already happened

    def redo(self) -> None:
        if self._first_redo:
            self._first_redo = False
            return
        with self._database.transaction() as session:
            if self._before is None:
                datasets.create_dataset(session, self._after, author=self._author, action="redo")
            else:
                datasets.update_dataset(
                    session,
                    self._after["id"],
                    _content(self._after),
                    author=self._author,
                    action="redo",
                )
        self._on_applied(self._after["id"])

    def undo(self) -> None:
        with self._database.transaction() as session:
            if self._before is None:
                datasets.delete_dataset(session, self._after["id"], author=self._author)
            else:
                datasets.update_dataset(
                    session,
                    self._after["id"],
                    _content(self._before),
                    author=self._author,
                    action="undo",
                )
        self._on_applied(self._after["id"])
