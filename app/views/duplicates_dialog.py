"""Tools > Find duplicates: groups of likely duplicate datasets (services.duplicates), found off
the GUI thread, and their merge.

Highlighting a group reads its records (off the thread) into the merge preview: a row per field
where the records differ, a column per dataset, the checked cell the value kept; by default the
most recently modified record's. "Merge" writes that one group, "Merge all groups with
defaults" every group listed, each as ONE operation (views.operations) that one Undo reverses:
the kept dataset updated with the version read, the others deleted (View > Deleted datasets
brings them back). If a dataset changed since it was read, nothing is merged and the dialog
says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from app.services import duplicates
from app.services.duplicates import Group, MergePlan
from app.services.undoable import Step
from app.views.duplicate_models import GroupsModel, MergeModel
from app.views.operations import Operations, Outcome, change_of
from app.views.qt import QtCore, QtWidgets, Signal
from app.views.undo import UndoHistory

Qt = QtCore.Qt

# Asked before merging every group: (title, text) -> go ahead or not.
Confirm = Callable[[str, str], bool]


class DuplicatesDialog(QtWidgets.QDialog):
    found = Signal(int)  # the groups were (re)found: how many
    previewed = Signal(object)  # the MergePlan now in the preview
    merged = Signal(object)  # the Step a merge wrote
    refused = Signal(str)  # a merge wrote nothing: why

    def __init__(
        self,
        operations: Operations,
        undo: UndoHistory,
        author: str,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find duplicates")
        self.resize(1080, 640)
        self._operations = operations
        self._undo = undo
        self._author = author
        self._finding = 0  # only the newest search's and preview's answers are shown
        self._previewing = 0
        # Asked before merging every group; replace it to answer without a dialog (tests).
        self.confirm: Confirm = self._confirm

        self.groups = GroupsModel(self)
        self.group_table = _table(self.groups)
        self.group_table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        header = self.group_table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.resizeSection(1, 80)
        header.resizeSection(2, 220)
        self.group_table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._preview(current.row())
        )
        self.preview = MergeModel(self)
        self.preview.planChanged.connect(self._update)
        self.preview_table = _table(self.preview)
        self.preview_table.verticalHeader().setVisible(True)
        self.preview_table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.preview_table.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.Stretch
        )
        self.summary = QtWidgets.QLabel("Looking for duplicates…")
        self.summary.setWordWrap(True)
        self.preview_note = QtWidgets.QLabel()
        self.preview_note.setWordWrap(True)

        self.find_button = QtWidgets.QPushButton("Find &again")
        self.find_button.clicked.connect(self.refresh)
        self.merge_button = QtWidgets.QPushButton("&Merge this group")
        self.merge_button.setDefault(True)
        self.merge_button.clicked.connect(self.merge_previewed)
        self.merge_all_button = QtWidgets.QPushButton("Merge &all groups with defaults…")
        self.merge_all_button.clicked.connect(self.merge_all)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.find_button)
        buttons.addStretch(1)
        buttons.addWidget(self.merge_button)
        buttons.addWidget(self.merge_all_button)
        buttons.addWidget(close)

        lower = QtWidgets.QWidget()
        lower_layout = QtWidgets.QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.preview_note)
        lower_layout.addWidget(self.preview_table, 1)
        splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.group_table)
        splitter.addWidget(lower)
        splitter.setSizes([220, 380])
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self._update()

    # -- finding and previewing -----------------------------------------------------------------

    def refresh(self, note: str = "") -> None:
        """Look for duplicates again (off the GUI thread). note: said first (why a merge was
        refused), kept above what is found."""
        self._finding += 1
        finding = self._finding
        lead = f"{note}\n" if note else ""
        self.summary.setText(f"{lead}Looking for duplicates…")

        def done(groups: list[Group]) -> None:
            if finding != self._finding:
                return
            self.groups.set_rows(groups)
            count = sum(len(group.members) for group in groups)
            self.summary.setText(lead + (
                "No duplicates found: no two datasets share a title, a very similar title or a "
                "file." if not groups else
                f"{len(groups):,} group{'s' if len(groups) != 1 else ''} of possible duplicates "
                f"({count:,} datasets): the same or a very similar title, or the same file (MD5). "
                "Check, in each row below, the value the merged dataset keeps."
            ))  # fmt: skip
            if groups:
                self.group_table.selectRow(0)
            else:
                self.preview.set_plan(None)
            self.found.emit(len(groups))

        self._operations.read(
            "look for duplicates", lambda session: duplicates.find_duplicates(session), done
        )

    def _preview(self, row: int) -> None:
        self._previewing += 1
        previewing = self._previewing
        if not 0 <= row < self.groups.rowCount():
            self.preview.set_plan(None)
            return
        ids = self.groups.row(row).dataset_ids

        def done(plan: MergePlan) -> None:
            if previewing == self._previewing:
                self.preview.set_plan(plan)
                self.previewed.emit(plan)

        self._operations.read(
            "read the duplicates", lambda session: duplicates.read_plan(session, ids), done
        )

    def _update(self) -> None:
        plan = self.preview.plan
        self.merge_button.setEnabled(plan is not None)
        self.merge_all_button.setEnabled(self.groups.rowCount() > 0)
        if plan is None:
            self.preview_note.setText("")
            return
        merged = self.preview.merged()
        others = len(plan.records) - 1
        files, links = len(merged.get("resources") or {}), len(merged.get("links") or {})
        same = "" if self.preview.fields() else " They hold the same values."
        self.preview_note.setText(
            f"Merging keeps “{merged.get('title')}” ({plan.records[plan.kept]['id']}) with the "
            f"checked values, and all their files and links without repeats ({files} file"
            f"{'s' if files != 1 else ''}, {links} link{'s' if links != 1 else ''}); the other "
            f"{others} go{'es' if others == 1 else ''} to Deleted datasets.{same}"
        )

    # -- merging --------------------------------------------------------------------------------

    def merge_previewed(self) -> None:
        plan = self.preview.plan
        if plan is None:
            return
        author = self._author
        ids = [record["id"] for record in plan.records]

        def run(session: Session) -> Outcome[Step]:
            return Outcome(duplicates.merge(session, plan, author=author), change_of(ids))

        self._write(f"merge {len(ids)} datasets", run)

    def merge_all(self) -> None:
        groups = self.groups.rows()
        if not groups:
            return
        count = sum(len(group.members) for group in groups)
        if not self.confirm(
            "Merge all groups",
            f"Merge all {len(groups):,} groups ({count:,} datasets)? In each, the most recently "
            "modified dataset is kept with its own values and every file and link of the "
            "group; the others go to Deleted datasets. One Undo reverses it all.",
        ):
            return
        author = self._author
        ids = [dataset_id for group in groups for dataset_id in group.dataset_ids]

        def run(session: Session) -> Outcome[Step]:
            plans = [duplicates.read_plan(session, group.dataset_ids) for group in groups]
            step = duplicates.merge_groups(session, plans, author=author)
            return Outcome(step, change_of(ids))

        self._write(f"merge {len(groups):,} groups of duplicates", run)

    def _write(self, doing: str, run: Callable[[Session], Outcome[Step]]) -> None:
        def done(step: Step) -> None:
            self._undo.push(step)
            self.merged.emit(step)
            self.refresh()

        def failed(error: Exception) -> bool:
            message = self._operations.expected_message(error)
            if message is None:
                return False  # a bug: the one handler shows it
            self.refused.emit(message)
            self.refresh(note=f"Nothing was merged: {message}")
            return True

        self.merge_button.setEnabled(False)
        self.merge_all_button.setEnabled(False)
        self._operations.write(doing, run, done, failed)

    def _confirm(self, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(
            self,
            title,
            text,
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.Cancel,
            QtWidgets.QMessageBox.StandardButton.Cancel,
        )
        return answer == QtWidgets.QMessageBox.StandardButton.Yes


def _table(model: Any) -> QtWidgets.QTableView:
    table = QtWidgets.QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    return table
