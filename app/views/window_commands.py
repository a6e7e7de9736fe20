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

from app.services import datasets, undoable
from app.services.errors import ValidationFailed
from app.services.progress import Progress
from app.services.records import Record
from app.services.undoable import Step
from app.views.operations import Outcome, change_of

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

PAST = {"publish": "Published", "unpublish": "Unpublished", "delete": "Deleted"}


def how_many(count: int) -> str:
    return "1 dataset" if count == 1 else f"{count:,} datasets"


class WindowCommands:
    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self.saving = False

    def save(self, record: Record, then: Callable[[], None] | None = None) -> None:
        """Write the form's record: created, or replaced if unchanged since it was opened."""
        window = self._window
        if self.saving:
            window.statusBar().showMessage("Still saving the last change…", 4000)
            return
        is_new = window._current_is_new
        expected = window._current_version
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
            return False

        self.saving = True
        window._update_actions()
        window.statusBar().showMessage("Saving…")
        title = record.get("title") or record["id"]
        window.operations.write(f"save “{title}”", run, done, failed)

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
