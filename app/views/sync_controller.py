"""The Sync menu and the flow of a pull or a push, on the Qt event loop through qasync.

Off the GUI thread (docs/ARCHITECTURE.md): sync is async code (services.sync over httpx). The
application runs asyncio on Qt's event loop (qasync, see application.py), so a coroutine started
here runs on the GUI thread between events: the window keeps painting and answering while a
portal is slow, and the results come back where widgets may be touched. The service itself puts
its database work on threads (asyncio.to_thread); listing, adding and removing remotes go
through the TaskRunner like every other database job of the views.

A pull or a push, step by step (one at a time):

1. plan: `engine.plan_pull` / `plan_push` with a progress dialog and Cancel (which stops the
   planning task at once: nothing has been written anywhere);
2. preview: SyncPreviewDialog shows the plan; conflicts are resolved in the ConflictDialog;
   nothing is written before the person presses Pull / Push;
3. apply: `engine.apply(plan, resolutions)` with progress and Cancel (which stops between
   datasets; what was written is recorded in the sync links and the next sync carries on);
4. summary: a message box; after a pull that wrote here, `catalogueChanged` (the table reloads).

Errors (a portal down, a key refused, a 429 storm the client gave up on, a malformed answer) are
shown as the service words them: they name the remote, the request and the dataset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from app.models.database import Database
from app.services.progress import Cancelled, Progress
from app.views.operations import Operations
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.task_progress import TaskProgressBar, error_text
from app.views.tasks import TaskRunner

if TYPE_CHECKING:  # the sync service imports httpx: loaded on first use, not at every start
    from app.services.sync.adapter import Access
    from app.services.sync.context import SyncOptions
    from app.services.sync.plan import Resolution, SyncPlan, SyncResult
    from app.services.sync.remotes import RemoteInfo
    from app.views.remotes_dialog import RemotesDialog
    from app.views.sync_preview_dialog import SyncPreviewDialog

T = TypeVar("T")
Direction = Literal["pull", "push"]
Phase = Literal["plan", "apply"]


# -- coroutines on the GUI's loop --------------------------------------------------------------


class CoroutineRunner(QtCore.QObject):
    """Starts coroutines on the running asyncio loop (qasync's, on the GUI thread) and keeps a
    reference to each task until it ends, so none is garbage-collected mid-flight. Its outcome
    goes to exactly one of on_done / on_error / on_cancelled (Cancelled counts as cancelled)."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(
        self,
        coroutine: Coroutine[Any, Any, T],
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None],
        on_cancelled: Callable[[], None] | None = None,
    ) -> asyncio.Task[T]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coroutine.close()
            raise RuntimeError(
                "No asyncio loop runs on the Qt event loop: start the application through "
                "app.views.application (qasync)"
            ) from None
        task = loop.create_task(coroutine)
        self._tasks.add(task)

        def finished(done: asyncio.Task[T]) -> None:
            self._tasks.discard(done)
            if done.cancelled():
                if on_cancelled is not None:
                    on_cancelled()
                return
            error = done.exception()
            if isinstance(error, Cancelled):
                if on_cancelled is not None:
                    on_cancelled()
            elif isinstance(error, Exception):
                on_error(error)
            elif error is not None:
                raise error
            else:
                on_done(done.result())

        task.add_done_callback(finished)
        return task

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class _ProgressBridge(QtCore.QObject):
    """services.progress reports as a Qt signal (queued if a report ever comes from a thread)."""

    reported = Signal(object, object)


# -- the progress dialog -----------------------------------------------------------------------


class SyncProgressDialog(QtWidgets.QDialog):
    """What a running sync is doing, with Cancel. Closing it (Esc, the title bar) cancels."""

    cancelRequested = Signal()

    def __init__(self, title: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.label = QtWidgets.QLabel()
        self.label.setWordWrap(True)
        self.bar = TaskProgressBar()
        self.bar.setMaximumHeight(18)
        self.count_label = QtWidgets.QLabel()
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.count_label, 1)
        row.addWidget(self.cancel_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addLayout(row)

    def show_step(self, text: str) -> None:
        self.label.setText(text)
        self.bar.report(0, 0)
        self.count_label.setText("")

    def report(self, done: object, total: object) -> None:
        self.bar.report(done, total)
        if isinstance(done, int) and isinstance(total, int) and total:
            self.count_label.setText(f"{done:,} of {total:,} datasets")

    def cancelling(self) -> None:
        self.label.setText(self.label.text() + "\nCancelling…")
        self.cancel_button.setEnabled(False)

    def reject(self) -> None:
        # Esc or the window's close button: ask for a cancel, close when the sync has stopped.
        self.cancelRequested.emit()


# -- words -------------------------------------------------------------------------------------


def _titles(plan: SyncPlan) -> dict[str, str]:
    return {item.key: item.title or item.dataset_id or item.key for item in plan.items}


def result_message(
    plan: SyncPlan, result: SyncResult, resolutions: Mapping[tuple[str, str], Resolution]
) -> tuple[str, str, str]:
    """(headline, what else to know, details) after an apply."""
    pull = plan.direction == "pull"
    here = (len(result.local_created), len(result.local_updated), len(result.local_deleted))
    there = (len(result.remote_created), len(result.remote_updated), len(result.remote_deleted))

    def counts(numbers: tuple[int, int, int]) -> str:
        words = zip(numbers, ("created", "updated", "deleted"), strict=True)
        return ", ".join(f"{n:,} {word}" for n, word in words if n) or "nothing changed"

    if pull:
        headline = f"Pulled from {plan.remote}: {counts(here)} here."
    else:
        headline = f"Pushed to {plan.remote}: {counts(there)} on the remote."
    lines: list[str] = []
    other = "push to" if pull else "pull from"
    later = [r for r in resolutions.values() if r.choice in (("mine",) if pull else ("theirs",))]
    merged = [r for r in resolutions.values() if r.choice == "merged"]
    if later:
        whose = "your" if pull else "their"
        lines.append(
            f"You chose {whose} value for {len(later):,} field(s): {other} {plan.remote} "
            "to carry it to the other side."
        )
    if merged:
        lines.append(
            f"{len(merged):,} merged value(s) written {'here' if pull else 'on the remote'}: "
            f"{other} {plan.remote} to carry them to the other side."
        )
    if result.unresolved:
        lines.append(
            f"{len(result.unresolved):,} conflict(s) left alone on both sides; "
            "they come back at the next sync."
        )
    titles = _titles(plan)
    details: list[str] = []
    if result.failures:
        lines.append(f"{len(result.failures):,} dataset(s) failed:")
        for failure in result.failures[:3]:
            lines.append(f"• {titles.get(failure.key, failure.key)}: {failure.message}")
        details += [f"failed: {titles.get(f.key, f.key)}: {f.message}" for f in result.failures]
    if plan.pending:
        lines.append(
            f"{plan.pending:,} dataset(s) have changes for a {'push' if pull else 'pull'}."
        )
    if result.report:
        lines.append(f"{len(result.report.issues):,} thing(s) could not be carried over.")
        details += [f"not carried: {line}" for line in result.report.lines()]
    return headline, "\n".join(lines), "\n".join(details)


# -- the controller ----------------------------------------------------------------------------


@dataclass(slots=True)
class ConnectionCheck:
    """The last test of a remote's connection in this session."""

    running: bool = False
    access: Access | None = None
    error: str | None = None


@dataclass(slots=True)
class _Sync:
    direction: Direction
    remote: str
    progress: Progress
    phase: Phase = "plan"
    task: asyncio.Task[Any] | None = None
    plan: SyncPlan | None = None
    resolutions: dict[tuple[str, str], Resolution] = field(default_factory=dict)
    cancelling: bool = False


class SyncController(QtCore.QObject):
    """Owns the Sync menu, the remotes list and at most one running pull or push."""

    remotesChanged = Signal(object)  # list[RemoteInfo]
    accessChanged = Signal(str)  # a remote's connection check started or ended
    busyChanged = Signal(bool)
    previewShown = Signal(object)  # SyncPreviewDialog
    finished = Signal(object)  # SyncResult
    failed = Signal(str)
    cancelled = Signal(str)
    catalogueChanged = Signal()  # a pull wrote datasets here

    def __init__(
        self,
        database: Database,
        tasks: TaskRunner,
        window: QtWidgets.QMainWindow,
        operations: Operations,
        options: SyncOptions | None = None,
        before_start: Callable[[], bool] | None = None,
    ) -> None:
        """`before_start` is asked before a sync starts (the window's "save unsaved edits?");
        False: the sync does not start. `operations`: the window's, which the remotes' own
        settings are written through."""
        super().__init__(window)
        self._before_start = before_start
        self.database = database
        self.tasks = tasks
        self.operations = operations
        self.window = window
        self._options = options
        self.coroutines = CoroutineRunner(self)
        self.remotes: list[RemoteInfo] = []
        self.checks: dict[str, ConnectionCheck] = {}
        self.running: _Sync | None = None
        self.progress_dialog: SyncProgressDialog | None = None
        self.preview_dialog: SyncPreviewDialog | None = None
        self.remotes_dialog: RemotesDialog | None = None
        self.message_box: QtWidgets.QMessageBox | None = None
        self._close_when_idle = False
        self._bridge = _ProgressBridge(self)
        self._bridge.reported.connect(self._on_progress)
        self.pull_menu: QtWidgets.QMenu | None = None
        self.push_menu: QtWidgets.QMenu | None = None
        self.refresh_remotes()

    @property
    def options(self) -> SyncOptions:
        if self._options is None:
            from app.services.sync.context import SyncOptions

            self._options = SyncOptions()
        return self._options

    @options.setter
    def options(self, options: SyncOptions) -> None:
        self._options = options

    # -- the menu -----------------------------------------------------------------------------

    def build_menu(self, menu_bar: QtWidgets.QMenuBar) -> QtWidgets.QMenu:
        """Sync > Remotes…, Pull from > NAME, Push to > NAME."""
        menu = menu_bar.addMenu("S&ync")
        self.remotes_action = menu.addAction("&Remotes…")
        self.remotes_action.setStatusTip(
            "Add, test and remove the portals this catalogue syncs with"
        )
        self.remotes_action.triggered.connect(lambda _checked=False: self.open_remotes())
        menu.addSeparator()
        self.pull_menu = menu.addMenu("&Pull from")
        self.push_menu = menu.addMenu("P&ush to")
        self._fill_remote_menus()
        # Enabled, not rebuilt: the entry that started a sync is still emitting `triggered`.
        self.busyChanged.connect(self._enable_remote_menus)
        return menu

    def _fill_remote_menus(self) -> None:
        for menu, direction in ((self.pull_menu, "pull"), (self.push_menu, "push")):
            if menu is None:
                continue
            menu.clear()
            if not self.remotes:
                empty = menu.addAction("No remotes: add one in Sync › Remotes…")
                empty.setEnabled(False)
                continue
            for info in self.remotes:
                action = menu.addAction(info.name)
                action.setStatusTip(f"{info.kind} · {info.base_url}")
                action.setEnabled(self.running is None)
                action.triggered.connect(
                    lambda _checked=False, n=info.name, d=direction: self.start(d, n)
                )

    def _enable_remote_menus(self, busy: bool) -> None:
        for menu in (self.pull_menu, self.push_menu):
            for action in menu.actions() if menu is not None else []:
                action.setEnabled(not busy and bool(self.remotes))

    def menu_action(self, direction: Direction, name: str) -> QtGui.QAction:
        """The Pull from / Push to entry for a remote (what a click in the menu triggers)."""
        menu = self.pull_menu if direction == "pull" else self.push_menu
        assert menu is not None, "build_menu first"
        for action in menu.actions():
            if action.text() == name:
                return action
        raise KeyError(name)

    # -- remotes ------------------------------------------------------------------------------

    def refresh_remotes(self) -> None:
        database = self.database

        def read(_progress: Progress) -> list[RemoteInfo]:
            from app.services.sync import remotes

            with database.read() as session:
                return remotes.list_remotes(session)

        self.tasks.run(read, on_done=self._on_remotes, on_error=self._on_remotes_error)

    def _on_remotes(self, infos: list[RemoteInfo]) -> None:
        self.remotes = infos
        names = {info.name for info in infos}
        self.checks = {name: check for name, check in self.checks.items() if name in names}
        self._fill_remote_menus()
        self.remotesChanged.emit(infos)

    def _on_remotes_error(self, error: Exception) -> None:
        self._show_message(
            "Remotes", "The remotes could not be read.", error_text(error), error=True
        )

    def open_remotes(self) -> RemotesDialog:
        from app.views.remotes_dialog import RemotesDialog

        if self.remotes_dialog is not None and self.remotes_dialog.isVisible():
            self.remotes_dialog.raise_()
            return self.remotes_dialog
        dialog = RemotesDialog(self, self.window)
        dialog.finished.connect(lambda _result: self._remotes_closed(dialog))
        self.remotes_dialog = dialog
        dialog.open()
        self.refresh_remotes()
        return dialog

    def _remotes_closed(self, dialog: RemotesDialog) -> None:
        if self.remotes_dialog is dialog:
            self.remotes_dialog = None
        dialog.deleteLater()

    def test_connection(self, name: str) -> None:
        """Reach the remote and find out what its key may do (accessChanged when known)."""
        from app.services.sync import remotes

        check = self.checks.setdefault(name, ConnectionCheck())
        if check.running:
            return
        check.running = True
        self.accessChanged.emit(name)

        def done(access: Access) -> None:
            self.checks[name] = ConnectionCheck(access=access)
            self.accessChanged.emit(name)

        def failed(error: Exception) -> None:
            self.checks[name] = ConnectionCheck(error=error_text(error))
            self.accessChanged.emit(name)

        def cancelled() -> None:
            self.checks[name] = ConnectionCheck(error="The test was cancelled.")
            self.accessChanged.emit(name)

        options = self.options
        self.coroutines.start(
            remotes.test_connection(
                self.database, name, options=options.http, environ=options.environ
            ),
            done,
            failed,
            cancelled,
        )

    # -- pull and push ------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.running is not None

    def start(self, direction: Direction, remote: str) -> bool:
        """Plan a pull or push from `remote` and show its preview; False if one is running."""
        from app.services.sync import engine

        if self.running is not None:
            return False
        if self._before_start is not None and not self._before_start():
            return False  # unsaved edits in the form: a push would miss them, a pull race them
        self._close_message()
        sync = _Sync(direction, remote, Progress(on_report=self._bridge.reported.emit))
        self.running = sync
        verb = "Pull from" if direction == "pull" else "Push to"
        dialog = SyncProgressDialog(f"{verb} {remote}", self.window)
        dialog.cancelRequested.connect(self.cancel)
        dialog.show_step(
            f"Asking {remote} what changed and comparing it with this catalogue…\n"
            "Nothing is written until you have seen the preview."
        )
        self.progress_dialog = dialog
        dialog.open()
        planner = engine.plan_pull if direction == "pull" else engine.plan_push
        sync.task = self.coroutines.start(
            planner(self.database, remote, progress=sync.progress, options=self.options),
            lambda plan: self._on_planned(sync, plan),
            lambda error: self._on_failed(sync, error),
            lambda: self._on_cancelled(sync),
        )
        self.busyChanged.emit(True)
        return True

    def cancel(self) -> None:
        """Stop the running sync: at once while planning, between datasets while applying."""
        sync = self.running
        if sync is None or sync.cancelling:
            return
        sync.cancelling = True
        sync.progress.cancel()
        if sync.phase == "plan" and sync.task is not None:
            # Planning writes nothing: stop it now, even mid-request to a slow portal.
            sync.task.cancel()
        if self.progress_dialog is not None:
            self.progress_dialog.cancelling()

    def _on_progress(self, done: object, total: object) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.report(done, total)

    def _on_planned(self, sync: _Sync, plan: SyncPlan) -> None:
        from app.views.sync_preview_dialog import SyncPreviewDialog

        self._close_progress()
        if sync.cancelling:  # Cancel pressed as the plan arrived: honour it
            self._on_cancelled(sync)
            return
        sync.plan = plan
        base_url = next((r.base_url for r in self.remotes if r.name == plan.remote), "")
        dialog = SyncPreviewDialog(plan, base_url, self.window)
        dialog.accepted.connect(lambda: self._apply(sync, dialog))
        dialog.rejected.connect(lambda: self._on_preview_rejected(sync))
        dialog.finished.connect(lambda _result: self._preview_closed(dialog))
        self.preview_dialog = dialog
        dialog.open()
        self.previewShown.emit(dialog)

    def _preview_closed(self, dialog: SyncPreviewDialog) -> None:
        if self.preview_dialog is dialog:
            self.preview_dialog = None
        dialog.deleteLater()

    def _on_preview_rejected(self, sync: _Sync) -> None:
        self._stop(sync)
        message = f"{self._verb(sync)} {sync.remote} cancelled: nothing was written."
        self._status(message)
        self.cancelled.emit(message)

    def _apply(self, sync: _Sync, preview: SyncPreviewDialog) -> None:
        from app.services.sync import engine

        assert sync.plan is not None
        sync.phase = "apply"
        sync.resolutions = dict(preview.resolutions)
        sync.progress = Progress(on_report=self._bridge.reported.emit)
        target = "here" if sync.direction == "pull" else f"to {sync.remote}"
        dialog = SyncProgressDialog(f"{self._verb(sync)} {sync.remote}", self.window)
        dialog.cancelRequested.connect(self.cancel)
        dialog.show_step(f"Writing the changes {target}…")
        self.progress_dialog = dialog
        dialog.open()
        sync.task = self.coroutines.start(
            engine.apply(
                self.database,
                sync.plan,
                sync.resolutions,
                progress=sync.progress,
                options=self.options,
            ),
            lambda result: self._on_applied(sync, result),
            lambda error: self._on_failed(sync, error),
            lambda: self._on_cancelled(sync),
        )

    def _on_applied(self, sync: _Sync, result: SyncResult) -> None:
        assert sync.plan is not None
        self._stop(sync)
        headline, more, details = result_message(sync.plan, result, sync.resolutions)
        self._show_message(
            f"{self._verb(sync)} {sync.remote}", headline, more, details, error=not result.ok
        )
        self._status(headline)
        if result.local_created or result.local_updated or result.local_deleted:
            self.catalogueChanged.emit()
        self.finished.emit(result)

    def _on_failed(self, sync: _Sync, error: Exception) -> None:
        self._stop(sync)
        wrote = sync.phase == "apply"
        what = (
            "What was written before the error is recorded; the next sync carries on from there."
            if wrote
            else "Nothing was written, here or on the remote."
        )
        headline = f"{self._verb(sync)} {sync.remote} failed."
        self._show_message(headline, headline, f"{error_text(error)}\n\n{what}", error=True)
        self._status(f"{headline} {error_text(error)}")
        if wrote and sync.direction == "pull":
            self.catalogueChanged.emit()
        self.failed.emit(error_text(error))

    def _on_cancelled(self, sync: _Sync) -> None:
        if self.running is not sync:
            return
        self._stop(sync)
        wrote = sync.phase == "apply"
        headline = f"{self._verb(sync)} {sync.remote} cancelled."
        what = (
            "What was written before you cancelled is recorded; the next sync carries on "
            "from there."
            if wrote
            else "Nothing was written, here or on the remote."
        )
        self._show_message(headline, headline, what)
        self._status(f"{headline} {what}")
        if wrote and sync.direction == "pull":
            self.catalogueChanged.emit()
        self.cancelled.emit(f"{headline} {what}")

    def _stop(self, sync: _Sync) -> None:
        self._close_progress()
        if self.running is sync:
            self.running = None
            self.refresh_remotes()  # linked counts, last synced
            self.busyChanged.emit(False)
        if self._close_when_idle:
            # The window asked to close while this ran: close now (queued: not from within
            # the task's callback), without a message box on a closing window.
            QtCore.QTimer.singleShot(0, self._close_window)

    def _close_window(self) -> None:
        self._close_when_idle = False
        self.window.close()

    def ready_to_close(self) -> bool:
        """For the window's closeEvent: True if nothing runs; else cancel, close when stopped."""
        sync = self.running
        if sync is None:
            self.coroutines.cancel_all()  # connection tests: nothing to keep
            return True
        if self.preview_dialog is not None and sync.phase == "plan":
            self.preview_dialog.reject()  # previewed, not applied: nothing to wait for
            return True
        self._close_when_idle = True
        self.cancel()
        return False

    # -- messages -----------------------------------------------------------------------------

    @staticmethod
    def _verb(sync: _Sync) -> str:
        return "Pull from" if sync.direction == "pull" else "Push to"

    def _close_progress(self) -> None:
        dialog, self.progress_dialog = self.progress_dialog, None
        if dialog is not None:
            dialog.hide()
            dialog.deleteLater()

    def _close_message(self) -> None:
        box, self.message_box = self.message_box, None
        if box is not None:
            box.close()
            box.deleteLater()

    def _show_message(
        self, title: str, text: str, more: str = "", details: str = "", *, error: bool = False
    ) -> None:
        """A non-blocking message box (open(), not exec()): the loop keeps running."""
        self._close_message()
        if self._close_when_idle:
            return  # the window is closing: the status bar had the word
        icon = (
            QtWidgets.QMessageBox.Icon.Warning if error else QtWidgets.QMessageBox.Icon.Information
        )
        box = QtWidgets.QMessageBox(
            icon, title, text, QtWidgets.QMessageBox.StandardButton.Ok, self.window
        )
        if more:
            box.setInformativeText(more)
        if details:
            box.setDetailedText(details)
        self.message_box = box
        box.open()

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 15000)
