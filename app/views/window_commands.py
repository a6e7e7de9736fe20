"""The main window's writes: save, delete, publish and unpublish, each one operation
(views.operations) off the GUI thread that gives one undo step (views.undo).

Delete, publish and unpublish act on the highlighted rows, however many, and say how many;
the form's unsaved edit is saved or dropped first. The rows' ids are resolved on the writer
thread (a selection can span a million rows), in the write's own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from app.services import datasets, save_conflict, undoable
from app.services.errors import StaleEdit, ValidationFailed
from app.services.progress import Progress
from app.services.records import Record
from app.services.save_conflict import SaveConflict
from app.services.undoable import Step
from app.views.conflict_dialog import ConflictDialog, unit_label
from app.views.operations import Outcome, change_of
from app.views.save_conflict_view import chosen, conflict_dialog, who_changed

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

PAST = {"publish": "Published", "unpublish": "Unpublished", "delete": "Deleted"}


def how_many(count: int) -> str:
    return "1 dataset" if count == 1 else f"{count:,} datasets"


class WindowCommands:
    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self.saving = False
        # The open save conflict's dialog (tests answer it through this).
        self.conflict_dialog: ConflictDialog | None = None

    def save(self, record: Record, then: Callable[[], None] | None = None) -> None:
        """Write the form's record: created, or replaced if unchanged since it was opened."""
        window = self._window
        if self.saving:
            window.statusBar().showMessage("Still saving the last change…", 4000)
            return
        is_new = window._current_is_new
        expected = window._current_version
        base = window._current  # the record as opened: a conflict's base
        author = window.author

        def run(session: Session) -> Outcome[tuple[Step | None, Record, int]]:
            step = undoable.save(
                session, record, author=author, is_new=is_new, expected_version=expected
            )
            dataset = datasets.get_dataset(session, record["id"])
            saved = datasets.get_record(session, record["id"])
            return Outcome(
                (step, saved, dataset.version), change_of([record["id"]] if step else [])
            )

        def done(result: tuple[Step | None, Record, int]) -> None:
            self.saving = False
            step, saved, version = result
            if step is not None:
                window.undo.push(step)
            current = window._current
            if current is not None and current.get("id") == saved["id"]:
                unchanged = window.form.record() == record
                window._current, window._current_version = saved, version
                window._current_is_new = False
                if unchanged:  # no typing since the save began: show what was stored
                    window.form.clear_errors()
                    window.form.load(saved)
            window.statusBar().showMessage(f"Saved “{saved['title']}”", 4000)
            window._update_actions()
            if then is not None:
                then()

        def failed(error: Exception) -> bool:
            self.saving = False
            window._update_actions()
            if isinstance(error, ValidationFailed):
                window.form.show_errors(error.errors)
                window.statusBar().showMessage("Not saved: " + error.message, 8000)
                return True
            if isinstance(error, StaleEdit) and base is not None and expected is not None:
                self._compare(record, base, expected, then)  # never a lost update
                return True
            return False

        self.saving = True
        window._update_actions()
        window.statusBar().showMessage("Saving…")
        title = record.get("title") or record["id"]
        window.operations.write(f"save “{title}”", run, done, failed)

    def _compare(
        self, record: Record, base: Record, opened: int, then: Callable[[], None] | None
    ) -> None:
        """The save was refused: the dataset changed since it was opened. Merge what only one
        side changed; ask about what both did (services.save_conflict)."""
        window = self._window
        window.statusBar().showMessage("Changed by someone else meanwhile: comparing…")

        def compared(conflict: SaveConflict) -> None:
            current = window._current
            who = who_changed(conflict)
            if current is None or current.get("id") != conflict.dataset_id:
                # The form moved on meanwhile (its edit saved or dropped): nothing to save into.
                window.statusBar().showMessage(f"Not saved: {who} changed it meanwhile.", 15000)
                return
            if not conflict.conflicts:
                taken = ", ".join(unit_label(unit) for unit in conflict.taken)
                note = f": kept {who}'s change to {taken}" if taken else ""
                self._save_again(conflict, conflict.merged, then, f"Merged with {who}{note}")
                return
            dialog = conflict_dialog(conflict, window)
            self.conflict_dialog = dialog
            window.statusBar().showMessage(f"{who} changed it meanwhile: choose what to save")
            merged = f"Merged with {who}"
            dialog.accepted.connect(
                lambda: self._save_again(
                    conflict, conflict.resolved(chosen(conflict, dialog)), then, merged
                )
            )
            dialog.rejected.connect(
                lambda: window.statusBar().showMessage(
                    f"Not saved: {who} changed it meanwhile. Your edit is still in the form.",
                    15000,
                )
            )
            dialog.finished.connect(lambda _result: self._forget(dialog))
            dialog.open()

        window.operations.read(
            "compare your edit with the one stored",
            lambda session: save_conflict.read(session, base, record, opened),
            compared,
        )

    def _forget(self, dialog: ConflictDialog) -> None:
        if self.conflict_dialog is dialog:
            self.conflict_dialog = None
        dialog.deleteLater()

    def _save_again(
        self,
        conflict: SaveConflict,
        record: Record,
        then: Callable[[], None] | None,
        message: str,
    ) -> None:
        """Save the merged record over the version stored now (a newer one conflicts again)."""
        window = self._window
        window._current, window._current_version = conflict.theirs, conflict.version
        window.form.load_edit(record, conflict.theirs)

        def saved() -> None:
            window.statusBar().showMessage(message, 8000)
            if then is not None:
                then()

        self.save(record, then=saved)

    def delete_selected(self) -> None:
        """Delete the highlighted datasets, after asking; Undo or the trash brings them back."""
        window = self._window
        ranges = window.selected_ranges()
        count = sum(last - first + 1 for first, last in ranges)
        if not count:
            return
        first_id = window.model.dataset_id_at(ranges[0][0])
        what = (
            f"“{window.model.data(window.model.index(ranges[0][0], 1))}”"
            if count == 1 and first_id
            else how_many(count)
        )
        if not window.confirm(
            "Delete datasets" if count > 1 else "Delete dataset",
            f"Delete {what}?\n\nDeleted datasets are listed in View › Deleted datasets, "
            "from where they can be restored; Undo also brings them back.",
        ):
            return
        self._on_rows("delete", ranges, count)

    def transition(self, action: str) -> None:
        """Publish or unpublish the highlighted datasets (those that can be)."""
        window = self._window
        ranges = window.selected_ranges()
        count = sum(last - first + 1 for first, last in ranges)
        if not count or not window.confirm_discard(then=lambda: self.transition(action)):
            return
        self._on_rows(action, ranges, count)

    def _on_rows(self, action: str, ranges: list[tuple[int, int]], count: int) -> None:
        window = self._window
        resolve = window.model.resolve_rows(ranges)
        author = window.author
        first_row = ranges[0][0]

        def run(session: Session) -> Outcome[Step]:
            ids = list(resolve(Progress()))
            if action == "delete":
                step = undoable.delete(session, ids, author=author)
            else:
                step = undoable.transition(session, ids, action, author=author)
            return Outcome(step, change_of(step.dataset_ids))

        def done(step: Step) -> None:
            window.undo.push(step)
            message = f"{PAST[action]} {how_many(len(step.edits))}"
            if action == "delete":
                message += ": Undo, or View › Deleted datasets, brings them back"
                current = window._current
                if current is not None and current.get("id") in step.dataset_ids:
                    # The row that takes the deleted one's place is selected once re-queried.
                    window.selection.row_after_query = first_row
                    window._show_record(None, None)
            elif len(step.edits) < count:
                message += f" ({how_many(count - len(step.edits))} already were)"
            window.statusBar().showMessage(message, 8000)

        window.operations.write(f"{action} {how_many(count)}", run, done)

    def step_applied(self, step: Step) -> None:
        """An undo or redo was written: say so, and show the dataset it wrote."""
        window = self._window
        window.statusBar().showMessage(f"Done: {step.describe()}", 8000)
        shown = window._current["id"] if window._current is not None else None
        if len(step.edits) != 1 or window.form.is_dirty():
            return
        edit = step.edits[0]
        if edit.after is None:  # the undo deleted it (of a creation) or redid a delete
            if shown == edit.dataset_id:
                window._show_record(None, None)
        elif shown != edit.dataset_id:
            window.open_dataset(edit.dataset_id)  # and its row is selected once it shows
