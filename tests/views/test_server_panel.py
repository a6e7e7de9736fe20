"""The server panel against a real uvicorn server on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets, publication
from app.services.public_url import set_public_url, stored_public_url
from app.services.server import RequestLogEntry
from app.services.server.quotas import QuotaSettings
from app.views.failures import FailureReporter
from app.views.operations import Operations
from app.views.qt import QtCore, QtGui, QtWidgets
from app.views.server_panel import LOG_LINES, ServerPanel, State
from tests.conftest import AUTHOR, make_record

Qt = QtCore.Qt
START_TIMEOUT_MS = 15_000

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def panel(qtbot: QtBot, database: Database) -> Iterator[ServerPanel]:
    widget = ServerPanel(database)
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.stop()


# pytest-qt's QtBot is untyped: every call into it goes through these typed helpers.


def click(qtbot: QtBot, button: QtWidgets.QAbstractButton) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def start(qtbot: QtBot, panel: ServerPanel, port: int = 0) -> str:
    panel.port_spin.setValue(port)
    with qtbot.waitSignal(panel.started, timeout=START_TIMEOUT_MS) as blocker:
        click(qtbot, panel.start_button)
    url = blocker.args[0]
    assert isinstance(url, str)
    return url


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_it_starts_on_a_free_port_serves_and_logs_each_request(
    qtbot: QtBot, panel: ServerPanel
) -> None:
    assert panel.host_edit.text() == "127.0.0.1"
    assert not panel.running and panel.url == ""
    url = start(qtbot, panel)

    assert url.startswith("http://127.0.0.1:") and port_of(url) > 0
    assert panel.running and panel.state is State.RUNNING
    assert panel.url_edit.text() == url and panel.url_edit.isReadOnly()
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    assert not panel.host_edit.isEnabled() and not panel.port_spin.isEnabled()
    assert panel.warning_label.isHidden() and panel.error_label.isHidden()

    response = httpx.get(f"{panel.url_edit.text()}/api/v1/dataset.csv")
    assert response.status_code == 200
    assert "x-ratelimit-limit" not in response.headers  # no quotas on loopback
    qtbot.waitUntil(lambda: "GET /api/v1/dataset.csv 200" in panel.log_view.toPlainText())
    httpx.get(f"{url}/api/dataset/zzzzz")
    qtbot.waitUntil(lambda: "GET /api/dataset/zzzzz 404" in panel.log_view.toPlainText())
    lines = panel.log_view.toPlainText().splitlines()
    assert len(lines) == 2 and " ms " in lines[0] and "127.0.0.1:" in lines[0]


def test_copy_puts_the_url_on_the_clipboard(qtbot: QtBot, panel: ServerPanel) -> None:
    url = start(qtbot, panel)
    click(qtbot, panel.copy_button)
    assert QtGui.QGuiApplication.clipboard().text() == url


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "my-laptop.example"])
def test_a_non_loopback_host_shows_a_warning_before_starting(panel: ServerPanel, host: str) -> None:
    assert panel.warning_label.isHidden()
    panel.host_edit.setText(host)
    assert panel.warning_label.isVisible()
    assert host in panel.warning_label.text() and "other machines" in panel.warning_label.text()
    assert not panel.running


def test_the_quotas_are_set_for_a_host_other_machines_reach(panel: ServerPanel) -> None:
    spins = (panel.anonymous_quota_spin, panel.key_quota_spin)
    assert not any(spin.isEnabled() for spin in spins)
    assert panel.quota_settings("127.0.0.1") is None
    panel.host_edit.setText("0.0.0.0")
    assert all(spin.isEnabled() for spin in spins)
    assert panel.quota_settings("0.0.0.0") == QuotaSettings(1000, 10_000, "day")
    panel.anonymous_quota_spin.setValue(5)
    panel.key_quota_spin.setValue(50)
    assert panel.quota_settings("0.0.0.0") == QuotaSettings(5, 50, "day")
    assert panel.quota_settings("localhost") is None
    panel.host_edit.setText("localhost")
    assert not any(spin.isEnabled() for spin in spins)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.4.5.6", "::1", "localhost", " localhost "])
def test_a_loopback_host_shows_no_warning(panel: ServerPanel, host: str) -> None:
    panel.host_edit.setText("0.0.0.0")
    panel.host_edit.setText(host)
    assert panel.warning_label.isHidden()


def test_a_port_in_use_is_shown_as_an_error_not_a_crash(qtbot: QtBot, panel: ServerPanel) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        panel.port_spin.setValue(port)
        with qtbot.assertNotEmitted(panel.started, wait=100):
            click(qtbot, panel.start_button)
            qtbot.waitUntil(panel.error_label.isVisible, timeout=START_TIMEOUT_MS)
    assert str(port) in panel.error_label.text()
    assert panel.state is State.STOPPED and not panel.running
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()


def test_a_bad_host_is_shown_as_an_error(qtbot: QtBot, panel: ServerPanel) -> None:
    panel.host_edit.setText("no-such-host.invalid")
    panel.port_spin.setValue(0)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(panel.error_label.isVisible, timeout=START_TIMEOUT_MS)
    assert "no-such-host.invalid" in panel.error_label.text()
    assert panel.state is State.STOPPED


def test_the_error_clears_on_the_next_successful_start(qtbot: QtBot, panel: ServerPanel) -> None:
    panel.host_edit.setText("")
    click(qtbot, panel.start_button)
    assert panel.error_label.isVisible()
    panel.host_edit.setText("127.0.0.1")
    start(qtbot, panel)
    assert panel.error_label.isHidden()


def test_stop_frees_the_port_and_signals_in_order(qtbot: QtBot, panel: ServerPanel) -> None:
    with qtbot.waitSignals([panel.started, panel.stopped], order="strict", timeout=20_000):
        url = start(qtbot, panel)
        click(qtbot, panel.stop_button)
    port = port_of(url)
    assert not panel.running and panel.state is State.STOPPED
    assert panel.url_edit.text() == "" and panel.start_button.isEnabled()
    assert port_is_free(port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/v1/dataset.csv", timeout=2)
    # The same port can serve again.
    assert port_of(start(qtbot, panel, port)) == port


def test_stop_is_synchronous_and_idempotent(qtbot: QtBot, panel: ServerPanel) -> None:
    url = start(qtbot, panel)
    with qtbot.waitSignal(panel.stopped, timeout=1000):
        panel.stop()
    assert port_is_free(port_of(url))
    with qtbot.assertNotEmitted(panel.stopped):
        panel.stop()


def test_stop_while_starting_leaves_nothing_listening(qtbot: QtBot, panel: ServerPanel) -> None:
    panel.port_spin.setValue(0)
    with qtbot.assertNotEmitted(panel.started, wait=200):
        click(qtbot, panel.start_button)
        panel.stop()
    assert panel.state is State.STOPPED and not panel.running


def test_destroying_the_panel_stops_its_server(qtbot: QtBot, database: Database) -> None:
    widget = ServerPanel(database)
    widget.port_spin.setValue(0)
    with qtbot.waitSignal(widget.started, timeout=START_TIMEOUT_MS) as blocker:
        widget.start()
    port = port_of(blocker.args[0])
    gone: list[object] = []
    widget.destroyed.connect(lambda *args: gone.append(args))
    widget.deleteLater()
    qtbot.waitUntil(lambda: bool(gone))
    assert port_is_free(port)


def test_the_log_keeps_the_last_lines_only(qtbot: QtBot, panel: ServerPanel) -> None:
    # The hook as the server thread calls it, in one burst.
    for n in range(LOG_LINES + 200):
        panel._log.push(
            RequestLogEntry("2025-01-01T00:00:00.000Z", "127.0.0.1:1", "GET", f"/{n}", 200, 1.0, 1)
        )
    qtbot.waitUntil(lambda: f"GET /{LOG_LINES + 199} 200" in panel.log_view.toPlainText())
    assert panel.log_view.document().blockCount() <= LOG_LINES
    assert "GET /0 200" not in panel.log_view.toPlainText()


def test_the_public_url_is_kept_and_written_by_the_server(qtbot: QtBot, database: Database) -> None:
    with database.transaction() as session:
        record = datasets.create_dataset(session, make_record(), author=AUTHOR)
        publication.publish(session, record["id"], author=AUTHOR)
        set_public_url(session, "https://old.example.org")
    parent = QtWidgets.QWidget()
    operations = Operations(database, FailureReporter(parent), parent)
    widget = ServerPanel(database, parent, operations=operations)
    qtbot.addWidget(parent)
    # What the catalogue keeps is shown once read.
    qtbot.waitUntil(lambda: widget.public_edit.text() == "https://old.example.org")
    widget.public_edit.setText("not a url")
    click(qtbot, widget.start_button)
    qtbot.waitUntil(lambda: "Not a base URL" in widget.error_label.text())
    assert widget.state is State.STOPPED and widget.start_button.isEnabled()
    widget.public_edit.setText("https://data.example.org/catalogue/")
    try:
        url = start(qtbot, widget)
        rows = httpx.get(f"{url}/api/v1/dataset.csv", timeout=10).text.splitlines()
        assert f"https://data.example.org/catalogue/dataset/{record['id']}" in rows[1]
        assert not widget.public_edit.isEnabled()  # not while it serves
    finally:
        widget.stop()
    assert widget.public_edit.text() == "https://data.example.org/catalogue"
    with database.read() as session:
        assert stored_public_url(session) == "https://data.example.org/catalogue"
