"""Check harvesters (the server panel): the harvest self-test (services.harvest_check) of
the running server, off the GUI thread, and its report.

The dialog opens at once with a progress bar, the name of the check under way (the service
reports its progress before each request, run.STEP units a check) and Cancel; the checks run
on the dialog's own TaskRunner (docs/ARCHITECTURE.md: off the GUI thread). Then it lists the
findings grouped by check, each with its level as an icon, a word and a colour; the pane below
shows the chosen finding whole (its detail and what to do, wrapped: a tree's rows would cut
them short), the worst one first. Copy report puts the plain-text report (the CLI's
`check-harvest` prints the same) on the clipboard.
"""

from __future__ import annotations

import html

from app.services.harvest_check.findings import Finding, Level, Report
from app.services.harvest_check.http import DEFAULT_LIMITS, Limits
from app.services.harvest_check.run import STEP, STEPS, run_checks
from app.services.progress import Progress
from app.views.qt import QtCore, QtGui, QtWidgets
from app.views.task_progress import TaskProgressBar, error_text
from app.views.tasks import Task, TaskRunner

LEVEL_WORDS = {Level.OK: "OK", Level.WARNING: "Warning", Level.ERROR: "Error"}
LEVEL_COLOURS = {Level.OK: "#1e7b34", Level.WARNING: "#8a5a00", Level.ERROR: "#b02a37"}
_ICONS = {
    Level.OK: QtWidgets.QStyle.StandardPixmap.SP_DialogApplyButton,
    Level.WARNING: QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning,
    Level.ERROR: QtWidgets.QStyle.StandardPixmap.SP_MessageBoxCritical,
}
DETAIL_COLOUR = "#555555"


class HarvestCheckDialog(QtWidgets.QDialog):
    """Checks the server at `url` as harvesters read it; `report` holds the last report."""

    def __init__(
        self, url: str, parent: QtWidgets.QWidget | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        super().__init__(parent)
        self.setObjectName("harvest-check")
        self.setWindowTitle("Check harvesters")
        self.resize(820, 640)
        self.url = url
        self.limits = limits
        self.report: Report | None = None
        self._task: Task | None = None
        self._tasks = TaskRunner(self)

        self.status_label = QtWidgets.QLabel()
        self.status_label.setWordWrap(True)
        self.progress_bar = TaskProgressBar()
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setObjectName("findings")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Finding", "Level"])
        self.tree.currentItemChanged.connect(lambda item, _previous: self._show(item))
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.details = QtWidgets.QTextBrowser()
        self.details.setObjectName("finding-details")
        self.details.setOpenLinks(False)
        self.details.setPlaceholderText("Choose a finding to read it whole.")
        self.copy_button = QtWidgets.QPushButton("Copy report")
        self.copy_button.setToolTip("Copy the report as plain text")
        self.copy_button.clicked.connect(self.copy_report)
        self.again_button = QtWidgets.QPushButton("Check again")
        self.again_button.clicked.connect(self.start)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QtWidgets.QPushButton("Close")
        self.close_button.clicked.connect(self.close)

        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.again_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.progress_bar)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self._set_running(False)

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the checks (again); the previous report stays until the new one arrives."""
        if self._task is not None:
            return
        url, limits = self.url, self.limits
        self.progress_bar.restart()
        self.status_label.setText(f"Checking {url}: {STEPS[0]}…")
        self._set_running(True)
        self._task = self._tasks.run(
            lambda progress: _run(url, progress, limits),
            on_done=self._on_done,
            on_error=self._on_error,
            on_progress=self._on_progress,
            on_cancelled=self._on_cancelled,
        )

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.status_label.setText("Cancelling after the request under way…")

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.cancel()  # the answer of a closed dialog is dropped (TaskRunner's relay)
        super().closeEvent(event)

    def _set_running(self, running: bool) -> None:
        self.progress_bar.setVisible(running)
        self.cancel_button.setVisible(running)
        self.again_button.setEnabled(not running)
        self.copy_button.setEnabled(not running and self.report is not None)

    def _on_progress(self, done: object, total: object) -> None:
        self.progress_bar.report(done, total)
        if isinstance(done, int) and 0 <= done // STEP < len(STEPS):
            self.status_label.setText(f"Checking {self.url}: {STEPS[done // STEP]}…")

    def _on_done(self, report: object) -> None:
        assert isinstance(report, Report)
        self._task = None
        self.report = report
        self._set_running(False)
        self.status_label.setText(report.summary())
        self._fill(report)

    def _on_cancelled(self) -> None:
        self._task = None
        self._set_running(False)
        self.status_label.setText("Check cancelled.")

    def _on_error(self, error: Exception) -> None:  # a bug: the service turns failures to findings
        self._task = None
        self._set_running(False)
        self.status_label.setText(f"The check failed: {error_text(error)}")

    # -- the report ----------------------------------------------------------------------------

    def _fill(self, report: Report) -> None:
        self.tree.clear()
        self.details.clear()
        bold = QtGui.QFont(self.tree.font())
        bold.setBold(True)
        worst: QtWidgets.QTreeWidgetItem | None = None
        worst_rank = -1
        for check in report.checks:
            group = QtWidgets.QTreeWidgetItem([check.name, ""])
            group.setFont(0, bold)
            self._mark(group, check.level)
            self.tree.addTopLevelItem(group)
            for finding in check.findings:
                item = QtWidgets.QTreeWidgetItem([finding.title, ""])
                self._mark(item, finding.level)
                item.setToolTip(0, finding.title)
                item.setData(0, QtCore.Qt.ItemDataRole.UserRole, finding)
                group.addChild(item)
                if finding.level.rank > worst_rank:
                    worst, worst_rank = item, finding.level.rank
        self.tree.expandAll()
        if worst is not None:
            self.tree.setCurrentItem(worst)

    def _show(self, item: QtWidgets.QTreeWidgetItem | None) -> None:
        finding = None if item is None else item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        if not isinstance(finding, Finding):
            self.details.clear()
            return
        colour = LEVEL_COLOURS[finding.level]
        parts = [
            f'<p><b style="color:{colour}">{LEVEL_WORDS[finding.level]}</b>: '
            f"<b>{html.escape(finding.title)}</b></p>"
        ]
        if finding.detail:
            lines = "<br>".join(html.escape(line) for line in finding.detail.splitlines())
            parts.append(f'<p style="color:{DETAIL_COLOUR}">{lines}</p>')
        if finding.action:
            parts.append(f"<p><b>What to do:</b> {html.escape(finding.action)}</p>")
        self.details.setHtml("".join(parts))

    def _mark(self, item: QtWidgets.QTreeWidgetItem, level: Level) -> None:
        item.setText(1, LEVEL_WORDS[level])
        item.setIcon(1, self.style().standardIcon(_ICONS[level]))
        item.setForeground(1, QtGui.QBrush(QtGui.QColor(LEVEL_COLOURS[level])))
        item.setData(1, QtCore.Qt.ItemDataRole.UserRole, level.value)

    def copy_report(self) -> None:
        if self.report is not None:
            QtGui.QGuiApplication.clipboard().setText(self.report.text())


def _run(url: str, progress: Progress, limits: Limits) -> Report:
    return run_checks(url, progress, limits)
