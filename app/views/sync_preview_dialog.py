"""The preview of a pull or a push: what will be created, updated and deleted on each side, and
the conflicts, before anything is written anywhere.

It shows a `plan.SyncPlan` (engine.plan_pull / plan_push wrote nothing to make it): counts per
side, one row per dataset with what happens here and on the remote (expand a row for the fields
and their new values), the conflicts, and whatever a portal cannot carry. *Resolve conflicts…*
opens the ConflictDialog; *Pull* / *Push* accepts, and the controller applies the plan with the
resolutions gathered here. Cancel (or closing) writes nothing.
"""

from __future__ import annotations

from typing import Any

from app.services.sync.adapter import MappingReport
from app.services.sync.plan import PlanItem, Resolution, SyncPlan
from app.views.conflict_dialog import (
    BASE_COLOUR,
    MINE_COLOUR,
    THEIRS_COLOUR,
    ConflictDialog,
    resolved_count,
    short_value,
    unit_label,
)
from app.views.form_widgets import STYLE_SHEET
from app.views.qt import QtCore, QtGui, QtWidgets

KIND_NAMES = {"datapress": "DataPress", "opendatasoft": "Opendatasoft", "ckan": "CKAN"}
ACTION_WORDS = {"create": "create", "update": "update", "delete": "delete", "unlink": "unlink"}
ACTION_COLOURS = {"create": "#2e7d32", "update": MINE_COLOUR, "delete": "#c62828"}
CONFLICT_BACKGROUND = "#fff3cd"
COLUMN_DATASET, COLUMN_HERE, COLUMN_REMOTE, COLUMN_CONFLICTS, COLUMN_NOTES = range(5)


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def shown_items(plan: SyncPlan) -> list[PlanItem]:
    """The items with something to show (the CLI's rule): an action, a conflict or a note."""
    return [i for i in plan.items if i.local or i.remote or i.conflicts or i.notes]


def report_lines(report: MappingReport) -> list[str]:
    """What cannot be carried over, one line per field and reason with the datasets it hits
    (a portal that keeps no teams says so once, not once per dataset)."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for issue in report.issues:
        field = issue.field.split("/")[0] if issue.field != "*" else "*"
        grouped.setdefault((field, issue.direction, issue.reason), []).append(issue.dataset)
    lines = []
    for (field, direction, reason), who in grouped.items():
        what = "the dataset" if field == "*" else unit_label(field).lower()
        names = ", ".join(who[:6]) + (f" and {len(who) - 6:,} more" if len(who) > 6 else "")
        lines.append(f"{what} ({direction}): {reason} — {names}")
    return lines


def _side_text(action: str | None, units: dict[str, Any]) -> str:
    if not action:
        return ""
    if action == "update" and units:
        fields = sorted({unit_label(u) for u in units})
        shown = ", ".join(fields[:4]) + (f" +{len(fields) - 4}" if len(fields) > 4 else "")
        return f"update: {shown}"
    return ACTION_WORDS.get(action, action)


class SyncPreviewDialog(QtWidgets.QDialog):
    """Accepted: apply `plan` with `resolutions`. Rejected: nothing happens anywhere."""

    def __init__(
        self, plan: SyncPlan, base_url: str = "", parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.plan = plan
        self.resolutions: dict[tuple[str, str], Resolution] = {}
        self.conflict_dialog: ConflictDialog | None = None
        pull = plan.direction == "pull"
        self.setWindowTitle(f"{'Pull from' if pull else 'Push to'} {plan.remote} — preview")
        self.setStyleSheet(STYLE_SHEET)
        self.resize(1040, 640)

        kind = KIND_NAMES.get(plan.kind, plan.kind)
        heading = QtWidgets.QLabel(
            f"{'Pull from' if pull else 'Push to'} {plan.remote}"
            + (f"  ·  {kind}  ·  {base_url}" if base_url else f"  ·  {kind}")
        )
        heading.setProperty("role", "heading")
        self.nothing_written = QtWidgets.QLabel(
            "Nothing has been written yet, here or on the remote. Check what will happen, "
            f"then press {'Pull' if pull else 'Push'}."
        )
        self.nothing_written.setProperty("role", "hint")

        self.counts = self._counts_box()
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["Dataset", "Here", f"On {plan.remote}", "Conflicts", "Notes"])
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setRootIsDecorated(True)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column, width in ((0, 300), (1, 190), (2, 190), (3, 150)):
            header.resizeSection(column, width)
        self._fill_tree()
        self.tree.setCurrentIndex(QtCore.QModelIndex())  # no row looks picked before one is

        self.report_box = QtWidgets.QPlainTextEdit()
        self.report_box.setReadOnly(True)
        lines = report_lines(plan.report)
        self.report_box.setPlainText("\n".join(lines))
        # As tall as its lines, up to five; it scrolls beyond.
        line_height = self.report_box.fontMetrics().lineSpacing()
        self.report_box.setFixedHeight(line_height * min(5, max(1, len(lines))) + 14)
        self.report_label = QtWidgets.QLabel(
            f"Not carried over ({len(plan.report.issues)}): what this portal and this catalogue "
            "cannot hold for each other"
        )
        self.report_label.setProperty("role", "hint")
        for widget in (self.report_box, self.report_label):
            widget.setVisible(bool(plan.report))

        self.conflict_label = QtWidgets.QLabel()
        self.conflict_label.setWordWrap(True)
        self.resolve_button = QtWidgets.QPushButton("&Resolve conflicts…")
        self.resolve_button.clicked.connect(self.open_conflicts)
        self.resolve_button.setVisible(bool(plan.conflicts))
        self.buttons = QtWidgets.QDialogButtonBox()
        self.apply_button = self.buttons.addButton(
            "&Pull" if pull else "P&ush", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button = self.buttons.addButton(
            QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.apply_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.conflict_label, 1)
        bottom.addWidget(self.resolve_button)
        bottom.addWidget(self.buttons)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.nothing_written)
        layout.addWidget(self.counts)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.report_label)
        layout.addWidget(self.report_box)
        layout.addLayout(bottom)
        self._update_conflicts()

    # -- content ------------------------------------------------------------------------------

    def _counts_box(self) -> QtWidgets.QWidget:
        plan = self.plan
        box = QtWidgets.QFrame()
        box.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        grid = QtWidgets.QGridLayout(box)
        grid.setHorizontalSpacing(24)
        sides = (("Here", "local", MINE_COLOUR), (f"On {plan.remote}", "remote", THEIRS_COLOUR))
        self.count_labels: dict[str, QtWidgets.QLabel] = {}
        for row, (name, side, colour) in enumerate(sides):
            caption = QtWidgets.QLabel(name)
            caption.setStyleSheet(f"font-weight: 600; color: {colour};")
            grid.addWidget(caption, row, 0)
            for column, action in enumerate(("create", "update", "delete"), start=1):
                count = plan.count(side, action)  # type: ignore[arg-type]
                label = QtWidgets.QLabel(f"{count:,} to {action}")
                if not count:
                    label.setStyleSheet(f"color: {BASE_COLOUR};")
                self.count_labels[f"{side}.{action}"] = label
                grid.addWidget(label, row, column)
        other = "push" if plan.direction == "pull" else "pull"
        facts = [f"{len(plan.conflicts):,} in conflict", f"{plan.unchanged:,} unchanged"]
        facts.append(f"{plan.fetched:,} of {plan.listed:,} listed read in full")
        if plan.pending:
            facts.append(
                f"{plural(plan.pending, 'dataset')} with changes for a {other}, left for it"
            )
        self.facts_label = QtWidgets.QLabel(" · ".join(facts))
        self.facts_label.setProperty("role", "hint")
        grid.addWidget(self.facts_label, 2, 0, 1, 4)
        grid.setColumnStretch(4, 1)
        return box

    def _fill_tree(self) -> None:
        items = shown_items(self.plan)
        bold = QtGui.QFont(self.tree.font())
        bold.setBold(True)
        for plan_item in items:
            row = QtWidgets.QTreeWidgetItem(
                [
                    f"{plan_item.title or '(untitled)'}  ({plan_item.dataset_id or 'new'})",
                    _side_text(plan_item.local, plan_item.to_local),
                    _side_text(plan_item.remote, plan_item.to_remote),
                    ", ".join(unit_label(c.unit) for c in plan_item.conflicts),
                    "; ".join(plan_item.notes),
                ]
            )
            row.setData(COLUMN_DATASET, QtCore.Qt.ItemDataRole.UserRole, plan_item.key)
            row.setToolTip(COLUMN_NOTES, "\n".join(plan_item.notes))
            for column, action in (
                (COLUMN_HERE, plan_item.local),
                (COLUMN_REMOTE, plan_item.remote),
            ):
                if action in ACTION_COLOURS:
                    row.setForeground(column, QtGui.QBrush(QtGui.QColor(ACTION_COLOURS[action])))
            if plan_item.conflicts:
                row.setFont(COLUMN_CONFLICTS, bold)
                for column in range(self.tree.columnCount()):
                    row.setBackground(column, QtGui.QBrush(QtGui.QColor(CONFLICT_BACKGROUND)))
            self._add_children(row, plan_item)
            self.tree.addTopLevelItem(row)
        if len(items) <= 40:  # a small plan reads best fully open
            self.tree.expandAll()
        if not items:
            empty = QtWidgets.QTreeWidgetItem(["Nothing to change: both sides agree."])
            empty.setFlags(QtCore.Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(empty)

    def _add_children(self, row: QtWidgets.QTreeWidgetItem, plan_item: PlanItem) -> None:
        # A dataset created on one side brings every field: listing them all says nothing.
        creating = "create" in (plan_item.local, plan_item.remote)
        for unit, value in sorted(plan_item.to_local.items()) if not creating else []:
            child = QtWidgets.QTreeWidgetItem([unit_label(unit), short_value(unit, value, 60)])
            row.addChild(child)
        for unit, value in sorted(plan_item.to_remote.items()) if not creating else []:
            child = QtWidgets.QTreeWidgetItem([unit_label(unit), "", short_value(unit, value, 60)])
            row.addChild(child)
        for conflict in plan_item.conflicts:
            child = QtWidgets.QTreeWidgetItem(
                [
                    unit_label(conflict.unit),
                    f"mine: {short_value(conflict.unit, conflict.local, 40)}",
                    f"theirs: {short_value(conflict.unit, conflict.remote, 40)}",
                    "conflict",
                ]
            )
            child.setData(COLUMN_DATASET, QtCore.Qt.ItemDataRole.UserRole, plan_item.key)
            child.setData(COLUMN_CONFLICTS, QtCore.Qt.ItemDataRole.UserRole, conflict.unit)
            child.setForeground(COLUMN_CONFLICTS, QtGui.QBrush(QtGui.QColor("#c62828")))
            row.addChild(child)

    def rows(self) -> list[list[str]]:
        """The top-level rows as text, as the person reads them (tests read this too)."""
        return [
            [top.text(c) for c in range(self.tree.columnCount())]
            for top in (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
            if top is not None
        ]

    # -- conflicts ----------------------------------------------------------------------------

    def _update_conflicts(self) -> None:
        conflicts = self.plan.conflicts
        if not conflicts:
            self.conflict_label.setText("No conflicts.")
            self.conflict_label.setStyleSheet("")
            return
        done = resolved_count(conflicts, self.resolutions)
        text = f"{plural(len(conflicts), 'conflict')}: {done:,} resolved."
        if done < len(conflicts):
            text += " Unresolved ones are left alone on both sides and shown again next time."
            self.conflict_label.setStyleSheet("color: #8a4b00; font-weight: 600;")
        else:
            self.conflict_label.setStyleSheet("color: #2e7d32; font-weight: 600;")
        self.conflict_label.setText(text)

    def open_conflicts(self, dataset_key: str | None = None, unit: str | None = None) -> None:
        """Resolve conflicts… (window-modal; the choices come back when it is accepted)."""
        dialog = ConflictDialog(
            self.plan.conflicts, self.resolutions, remote=self.plan.remote, parent=self
        )
        if dataset_key is not None and unit is not None:
            dialog.select(dataset_key, unit)
        dialog.accepted.connect(lambda: self._take_resolutions(dialog))
        dialog.finished.connect(lambda _result: self._conflicts_closed(dialog))
        self.conflict_dialog = dialog
        dialog.open()

    def _take_resolutions(self, dialog: ConflictDialog) -> None:
        self.resolutions = dialog.resolutions()
        self._update_conflicts()

    def _conflicts_closed(self, dialog: ConflictDialog) -> None:
        if self.conflict_dialog is dialog:
            self.conflict_dialog = None
        dialog.deleteLater()

    def _on_double_click(self, item: QtWidgets.QTreeWidgetItem, _column: int) -> None:
        unit = item.data(COLUMN_CONFLICTS, QtCore.Qt.ItemDataRole.UserRole)
        key = item.data(COLUMN_DATASET, QtCore.Qt.ItemDataRole.UserRole)
        if isinstance(unit, str) and isinstance(key, str):
            self.open_conflicts(key, unit)
