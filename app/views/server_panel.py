"""The server panel: publish the catalogue over HTTP from the desktop (issue 3).

Host and port, Start and Stop, the public URL with a Copy button, a live log of the requests
served, and a warning as soon as the host is anything but loopback (docs/ARCHITECTURE.md,
defaults: a listener is exposed to the network only when the person asks for it). The quotas
(services.server.quotas: calls a day per address and per API key) apply to such a host only,
as `main.py serve`'s do by default.

Threads (docs/ARCHITECTURE.md: off the GUI thread): the server runs in its own thread
(services.server.ServerThread, its own database sessions). `ServerThread.start()` binds and
then waits until uvicorn accepts connections, and `stop()` joins the thread after a grace
period for open requests, so both run on the panel's TaskRunner, never on the GUI thread. The
request-log hook is called on the server thread: it only queues the entry and emits a signal,
whose queued connection delivers it to the GUI thread; entries that arrive in a burst are drawn
in one batch, and the log keeps the last LOG_LINES lines.

Check harvesters… (the button beside the URL, and `check_action` for a menu) opens
views.harvest_check_dialog on the running server: the harvest self-test of issue 12.

`stop()` is synchronous, for the main window's close: when it returns, the port is free. A panel
that is destroyed while serving stops its server too.
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from typing import TYPE_CHECKING

from app.models.database import Database
from app.services.catalogue_files import catalogue_name
from app.services.catalogue_watch import CatalogueChange
from app.services.errors import CatalogueError
from app.services.public_url import set_public_url, stored_public_url
from app.services.server import RequestLogEntry, ServerThread, create_app, is_loopback
from app.services.server.quotas import (
    DEFAULT_ANONYMOUS_LIMIT,
    DEFAULT_KEY_LIMIT,
    QuotaSettings,
    quotas_for,
)
from app.services.server.runner import DEFAULT_HOST
from app.views.operations import Operations, Outcome
from app.views.qt import QtCore, QtGui, QtWidgets, Signal
from app.views.tasks import TaskRunner

if TYPE_CHECKING:  # the checks (rdflib, pyshacl) load on first use
    from sqlalchemy.orm import Session

    from app.views.harvest_check_dialog import HarvestCheckDialog

LOG_LINES = 1000
DEFAULT_PORT = 8080
WARNING_STYLE = (
    "QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0a800;"
    " border-radius: 4px; padding: 6px; font-weight: bold; }"
)
ERROR_STYLE = (
    "QLabel { background: #f8d7da; color: #842029; border: 1px solid #d9534f;"
    " border-radius: 4px; padding: 6px; }"
)


class State(enum.Enum):
    STOPPED = "Stopped"
    STARTING = "Starting…"
    RUNNING = "Running"
    STOPPING = "Stopping…"


def format_entry(entry: RequestLogEntry) -> str:
    """One log line: time, method, path, status, duration, size, client."""
    at = entry.at[11:23] if len(entry.at) >= 23 else entry.at  # HH:MM:SS.mmm of the UTC stamp
    return (
        f"{at}  {entry.method} {entry.path} {entry.status}  {entry.duration_ms:.1f} ms"
        f"  {entry.bytes_sent} B  {entry.client}"
    )


def non_loopback_warning(host: str) -> str:
    return (
        f"⚠ Listening on {host} lets other machines reach this catalogue's published "
        "records. Use 127.0.0.1 to serve this computer only."
    )


class _RequestLog(QtCore.QObject):
    """Carries request-log entries from the server thread to the GUI thread.

    `push` runs on the server thread: it appends to a bounded queue and emits `ready` only when
    no delivery is pending, so a burst of requests costs one queued event, not one per request.
    """

    ready = Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: deque[RequestLogEntry] = deque(maxlen=LOG_LINES)
        self._scheduled = False

    def push(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._pending.append(entry)
            if self._scheduled:
                return
            self._scheduled = True
        self.ready.emit()

    def take(self) -> list[RequestLogEntry]:
        with self._lock:
            entries = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        return entries


class _ServerHolder:
    """The running server, held apart from the widget so `destroyed` can stop it."""

    def __init__(self) -> None:
        self.server: ServerThread | None = None

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


class ServerPanel(QtWidgets.QWidget):
    """Start and stop the catalogue's HTTP server; watch what it serves."""

    started = Signal(str)  # the server's URL, once it accepts connections
    stopped = Signal()  # after a server that had started has stopped and freed its port

    def __init__(
        self,
        database: Database,
        parent: QtWidgets.QWidget | None = None,
        *,
        operations: Operations | None = None,
    ) -> None:
        super().__init__(parent)
        self.database = database
        # The window's writes (views.operations): the public URL is kept through them. Without
        # them (a panel on its own), the URL typed serves this run only.
        self._operations = operations
        self._stored_public_url: str | None = None
        self._state = State.STOPPED
        self._holder = _ServerHolder()
        self._announced = False  # `started` was emitted for the current server
        self._tasks = TaskRunner(self)
        self._log = _RequestLog(self)
        self._log.ready.connect(self._drain_log)
        # No reference to self: a lambda over the holder still works while the widget dies.
        holder = self._holder
        self.destroyed.connect(lambda *_args: holder.stop())
        # Asks whether to stop serving and close; replaced in tests that do not drive the box.
        self.ask_stop = self._ask_stop
        self.harvest_check: HarvestCheckDialog | None = None  # the last one opened
        self._build()
        self._update()
        if operations is not None:
            operations.read("read the public URL", stored_public_url, self._show_public_url)

    # -- public API --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server accepts connections (started, and not stopping)."""
        return self._state is State.RUNNING

    @property
    def state(self) -> State:
        return self._state

    @property
    def url(self) -> str:
        """The server's URL while it runs, else ""."""
        return self.url_edit.text() if self.running else ""

    def start(self) -> None:
        """Start serving on the host and port in the fields; `started` or an error follows."""
        if self._state is not State.STOPPED:
            return
        host = self.host_edit.text().strip()
        self._show_error("")
        if not host:
            self._show_error("Enter the address to listen on, e.g. 127.0.0.1.")
            return
        self._set_state(State.STARTING)
        public_url = self.public_edit.text().strip()
        if self._operations is None or public_url == (self._stored_public_url or ""):
            self._launch(host, public_url or None)
            return

        def keep(session: Session) -> Outcome[str | None]:
            return Outcome(set_public_url(session, public_url), CatalogueChange())

        def kept(value: str | None) -> None:
            self._show_public_url(value)
            self._launch(host, value)

        def refused(error: Exception) -> bool:
            self._set_state(State.STOPPED)
            if isinstance(error, CatalogueError):
                self._show_error(_message(error, "The public URL was not kept"))
                return True
            return False

        self._operations.write("keep the public URL", keep, kept, refused)

    def _launch(self, host: str, public_url: str | None) -> None:
        """Start the server; URLs start with `public_url`, else the address it listens on."""
        try:
            app = create_app(
                self.database,
                base_url=public_url,
                on_request=self._log.push,
                quotas=self.quota_settings(host),
            )
            server = ServerThread(app, host, self.port_spin.value())
        except (CatalogueError, ValueError) as error:
            self._set_state(State.STOPPED)
            self._show_error(_message(error, "The server could not start"))
            return
        self._holder.server = server
        self._announced = False
        self._tasks.run(
            lambda _progress: server.start(),
            on_done=lambda url: self._on_started(server, str(url)),
            on_error=lambda error: self._on_start_failed(server, error),
        )

    def quota_settings(self, host: str) -> QuotaSettings | None:
        """The quotas of a server on `host`: the fields' off loopback, none on it."""
        limits = QuotaSettings(self.anonymous_quota_spin.value(), self.key_quota_spin.value())
        return quotas_for(host, limits)

    def stop(self) -> None:
        """Stop serving and wait until the port is free (for the window's close). Idempotent."""
        if self._holder.server is None:
            return
        if self._state in (State.STARTING, State.STOPPING):
            # A start or stop is under way on the runner: let it finish, then stop for sure.
            self._tasks.wait_for_all()
        self._holder.stop()
        self._finish_stopping()

    def check_harvesters(self) -> None:
        """Open the harvest check of the running server (a new one replaces the last)."""
        if not self.running:
            return
        from app.views.harvest_check_dialog import HarvestCheckDialog

        if self.harvest_check is not None:
            self.harvest_check.close()
        self.harvest_check = HarvestCheckDialog(self.url, self.window())
        self.harvest_check.show()
        self.harvest_check.start()

    def confirm_close(self) -> bool:
        """Before the window closes: True unless the server runs and the person keeps it."""
        if self._state not in (State.RUNNING, State.STARTING):
            return True
        return self.ask_stop()

    def _ask_stop(self) -> bool:
        buttons = QtWidgets.QMessageBox.StandardButton
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Question,
            "Stop serving?",
            f"The catalogue is being served at {self.url or 'a local address'}. Closing the "
            "window stops the server: harvesters and people using it lose it.",
            buttons.Cancel,
            self.window(),
        )
        box.setObjectName("stop-serving")
        stop = box.addButton("Stop serving and close", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(buttons.Cancel)
        box.exec()
        return box.clickedButton() is stop

    # -- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.host_edit = QtWidgets.QLineEdit(DEFAULT_HOST)
        self.host_edit.setToolTip(
            "127.0.0.1 serves this computer only; 0.0.0.0 or a network address exposes the "
            "catalogue to other machines."
        )
        self.host_edit.textChanged.connect(self._update_warning)
        self.public_edit = QtWidgets.QLineEdit()
        self.public_edit.setObjectName("publicUrl")
        self.public_edit.setPlaceholderText("the address it listens on")
        self.public_edit.setToolTip(
            "Where people and harvesters reach this catalogue, e.g. https://data.example.org "
            "behind a proxy: every URL the server writes, and the webpage of every export, "
            "starts with it. Kept in the catalogue."
        )
        self.port_spin = QtWidgets.QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setSpecialValueText("any free port")
        self.port_spin.setValue(DEFAULT_PORT)
        self.port_spin.setToolTip("0 picks any free port")
        self.anonymous_quota_spin = _quota_spin("anonymousQuota", DEFAULT_ANONYMOUS_LIMIT)
        self.key_quota_spin = _quota_spin("keyQuota", DEFAULT_KEY_LIMIT)
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.clicked.connect(self._stop_in_background)

        self.warning_label = QtWidgets.QLabel()
        self.warning_label.setObjectName("nonLoopbackWarning")
        self.warning_label.setStyleSheet(WARNING_STYLE)
        self.warning_label.setWordWrap(True)
        self.error_label = QtWidgets.QLabel()
        self.error_label.setObjectName("serverError")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.error_label.hide()  # shown with a message only, never as an empty banner

        self.status_label = QtWidgets.QLabel()
        self.url_edit = QtWidgets.QLineEdit()
        self.url_edit.setReadOnly(True)
        self.url_edit.setPlaceholderText("not serving")
        self.copy_button = QtWidgets.QPushButton("Copy")
        self.copy_button.setToolTip("Copy the URL to the clipboard")
        self.copy_button.clicked.connect(self._copy_url)
        self.check_action = QtGui.QAction("Check &harvesters…", self)
        self.check_action.setStatusTip(
            "Harvest this server as aggregators and search engines do, and report what they get"
        )
        self.check_action.triggered.connect(lambda _checked=False: self.check_harvesters())
        self.check_button = QtWidgets.QPushButton("Check harvesters…")
        self.check_button.setToolTip(self.check_action.statusTip())
        self.check_button.clicked.connect(self.check_action.trigger)

        self.log_view = QtWidgets.QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)  # Qt drops the oldest lines
        self.log_view.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setFont(
            QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        )
        self.log_view.setPlaceholderText("Requests appear here while the server runs.")
        self.clear_log_button = QtWidgets.QPushButton("Clear log")
        self.clear_log_button.clicked.connect(self.log_view.clear)

        address = QtWidgets.QHBoxLayout()
        address.addWidget(QtWidgets.QLabel("Host"))
        address.addWidget(self.host_edit, 2)
        address.addWidget(QtWidgets.QLabel("Port"))
        address.addWidget(self.port_spin, 1)
        address.addWidget(self.start_button)
        address.addWidget(self.stop_button)

        public_row = QtWidgets.QHBoxLayout()
        public_row.addWidget(QtWidgets.QLabel("Public URL"))
        public_row.addWidget(self.public_edit, 1)

        quota_row = QtWidgets.QHBoxLayout()
        quota_row.addWidget(QtWidgets.QLabel("Calls a day per address"))
        quota_row.addWidget(self.anonymous_quota_spin)
        quota_row.addWidget(QtWidgets.QLabel("per API key"))
        quota_row.addWidget(self.key_quota_spin)
        quota_row.addStretch(1)

        url_row = QtWidgets.QHBoxLayout()
        url_row.addWidget(QtWidgets.QLabel("URL"))
        url_row.addWidget(self.url_edit, 1)
        url_row.addWidget(self.copy_button)
        url_row.addWidget(self.check_button)

        log_header = QtWidgets.QHBoxLayout()
        log_header.addWidget(QtWidgets.QLabel(f"Requests (last {LOG_LINES})"))
        log_header.addStretch(1)
        log_header.addWidget(self.clear_log_button)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(address)
        layout.addLayout(public_row)
        layout.addLayout(quota_row)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addLayout(url_row)
        layout.addLayout(log_header)
        layout.addWidget(self.log_view, 1)

    # -- state ---------------------------------------------------------------------------------

    def _show_public_url(self, value: str | None) -> None:
        self._stored_public_url = value
        self.public_edit.setText(value or "")

    def _set_state(self, state: State) -> None:
        self._state = state
        self._update()

    def _update(self) -> None:
        state = self._state
        editable = state is State.STOPPED
        self.host_edit.setEnabled(editable)
        self.public_edit.setEnabled(editable)
        self.port_spin.setEnabled(editable)
        self.start_button.setEnabled(editable)
        self.stop_button.setEnabled(state is State.RUNNING)
        self.copy_button.setEnabled(state is State.RUNNING)
        self.check_action.setEnabled(state is State.RUNNING)
        self.check_button.setEnabled(state is State.RUNNING)
        if state is State.RUNNING:
            self.status_label.setText(f"Serving {catalogue_name(self.database.url)}")
        else:
            self.status_label.setText(state.value)
            if state is State.STOPPED:
                self.url_edit.clear()
        self._update_warning()

    def _update_warning(self) -> None:
        host = self.host_edit.text().strip()
        exposed = bool(host) and not is_loopback(host)
        self.warning_label.setText(non_loopback_warning(host) if exposed else "")
        self.warning_label.setVisible(exposed)
        # Quotas count only the calls of a server other machines reach (server.quotas).
        for spin in (self.anonymous_quota_spin, self.key_quota_spin):
            spin.setEnabled(exposed and self._state is State.STOPPED)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    # -- start and stop (results arrive on the GUI thread) ------------------------------------

    def _on_started(self, server: ServerThread, url: str) -> None:
        if server is not self._holder.server:  # stop() was called while it was starting
            server.stop()
            return
        self.url_edit.setText(url)
        self._announced = True
        self._set_state(State.RUNNING)
        self.started.emit(url)

    def _on_start_failed(self, server: ServerThread, error: Exception) -> None:
        if server is not self._holder.server:
            return
        self._holder.server = None
        self._set_state(State.STOPPED)
        self._show_error(_message(error, "The server could not start"))

    def _stop_in_background(self) -> None:
        server = self._holder.server
        if server is None or self._state is not State.RUNNING:
            return
        self._set_state(State.STOPPING)
        self._tasks.run(
            lambda _progress: server.stop(),
            on_done=lambda _result: self._on_stopped(server),
            on_error=lambda error: self._on_stop_failed(server, error),
        )

    def _on_stopped(self, server: ServerThread) -> None:
        if server is not self._holder.server:  # stop() got there first
            return
        self._holder.server = None
        self._finish_stopping()

    def _on_stop_failed(self, server: ServerThread, error: Exception) -> None:
        self._on_stopped(server)
        self._show_error(_message(error, "The server did not stop cleanly"))

    def _finish_stopping(self) -> None:
        announced, self._announced = self._announced, False
        self._set_state(State.STOPPED)
        if announced:
            self.stopped.emit()

    # -- URL and log ---------------------------------------------------------------------------

    def _copy_url(self) -> None:
        if self.url_edit.text():
            QtGui.QGuiApplication.clipboard().setText(self.url_edit.text())

    def _drain_log(self) -> None:
        entries = self._log.take()
        if entries:
            self.log_view.appendPlainText("\n".join(format_entry(e) for e in entries))


def _quota_spin(name: str, value: int) -> QtWidgets.QSpinBox:
    spin = QtWidgets.QSpinBox()
    spin.setObjectName(name)
    spin.setRange(0, 100_000_000)
    spin.setGroupSeparatorShown(True)
    spin.setValue(value)
    spin.setToolTip(
        "Counted only when other machines can reach the server (the host is not 127.0.0.1). "
        "The call past the quota is answered 429 until midnight UTC; 0 refuses every call."
    )
    return spin


def _message(error: BaseException, context: str) -> str:
    if isinstance(error, CatalogueError):
        return error.message
    return f"{context}: {error}"
