"""Check harvesters from the server panel: the real button on a real server, the checks on the
dialog's worker, and what a person reads in the dialog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets, publication
from app.services.harvest_check.run import STEPS
from app.views.harvest_check_dialog import LEVEL_WORDS, HarvestCheckDialog
from app.views.qt import QtCore, QtGui, QtWidgets
from app.views.server_panel import ServerPanel
from tests.conftest import AUTHOR, make_record

Qt = QtCore.Qt
CHECK_TIMEOUT_MS = 120_000  # a SHACL validation and a few dozen requests on a busy machine

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def panel(qtbot: QtBot, database: Database) -> Iterator[ServerPanel]:
    with database.transaction() as s:
        for title in ("Bins collected", "Library loans"):
            record = datasets.create_dataset(s, make_record(title=title), author=AUTHOR)
            publication.publish(s, record["id"], author=AUTHOR)
    widget = ServerPanel(database)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    if widget.harvest_check is not None:
        widget.harvest_check.close()
    widget.stop()


def click(qtbot: QtBot, button: QtWidgets.QAbstractButton) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def groups(tree: QtWidgets.QTreeWidget) -> list[QtWidgets.QTreeWidgetItem]:
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [item for item in items if item is not None]


def children(item: QtWidgets.QTreeWidgetItem) -> list[QtWidgets.QTreeWidgetItem]:
    found = [item.child(j) for j in range(item.childCount())]
    return [child for child in found if child is not None]


def shown_tree(tree: QtWidgets.QTreeWidget) -> dict[str, list[tuple[str, str]]]:
    """Each check's row text -> its findings' (title, level word) as the tree shows them."""
    return {
        group.text(0): [(item.text(0), item.text(1)) for item in children(group)]
        for group in groups(tree)
    }


def test_check_harvesters_runs_on_the_running_server_and_shows_the_findings(
    qtbot: QtBot, panel: ServerPanel
) -> None:
    assert not panel.check_button.isEnabled()  # nothing to check while stopped
    assert not panel.check_action.isEnabled()
    panel.port_spin.setValue(0)
    with qtbot.waitSignal(panel.started, timeout=15_000):
        click(qtbot, panel.start_button)
    assert panel.check_button.isEnabled()

    click(qtbot, panel.check_button)
    dialog = panel.harvest_check
    assert isinstance(dialog, HarvestCheckDialog)
    assert dialog.isVisible()
    assert dialog.status_label.text().startswith(f"Checking {panel.url}")
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=CHECK_TIMEOUT_MS)
    report = dialog.report
    assert report is not None

    shown = shown_tree(dialog.tree)
    assert list(shown) == list(STEPS)  # grouped by check, in order
    assert shown["Server"] == [(f"The server answers at {panel.url}", "OK")]
    assert shown["OAI-PMH harvest"] == [
        ("Identify answers OAI-PMH 2.0", "OK"),
        ("ListRecords walked to the end", "OK"),
        ("The live records are the published datasets", "OK"),
    ]
    assert dialog.status_label.text().startswith("No errors: harvesters can read this server.")
    incremental = dict(shown["Incremental harvest"])
    assert incremental["A dump matches the manifest"] == "OK"
    dcat = dict(shown["DCAT-AP 3.0.1 (SHACL)"])
    assert dcat["The feed's first page conforms to DCAT-AP 3.0.1"] == "OK"
    assert dcat["dcat:Dataset without dcterms:temporal"] == "Warning"
    # Each check's row shows its worst level, as a word and a colour.
    for group, check in zip(groups(dialog.tree), report.checks, strict=True):
        assert group.text(1) == LEVEL_WORDS[check.level]
    assert dialog.status_label.text() == report.summary()
    assert not dialog.progress_bar.isVisible()

    # The worst finding is chosen first; a chosen finding is shown whole below the list.
    current = dialog.tree.currentItem()
    assert current is not None and current.text(1) == LEVEL_WORDS[report.level]
    dcat_group = groups(dialog.tree)[list(STEPS).index("DCAT-AP 3.0.1 (SHACL)")]
    temporal = next(
        item
        for item in children(dcat_group)
        if item.text(0) == "dcat:Dataset without dcterms:temporal"
    )
    dialog.tree.scrollToItem(temporal)
    rect = dialog.tree.visualItemRect(temporal)
    qtbot.mouseClick(dialog.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    lines = dialog.details.toPlainText().splitlines()
    assert lines[0] == "Warning: dcat:Dataset without dcterms:temporal"
    assert lines[1].startswith("2 nodes: /dataset/")
    assert lines[-1].startswith("What to do: Recommended by DCAT-AP")

    click(qtbot, dialog.copy_button)
    copied = QtGui.QGuiApplication.clipboard().text()
    assert copied == report.text()
    assert copied.startswith(f"Harvest check of {panel.url}\n")
    assert "[WARNING] dcat:Dataset without dcterms:temporal" in copied


def test_a_stopped_server_is_reported_by_the_dialog(qtbot: QtBot) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    dialog = HarvestCheckDialog(url)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=CHECK_TIMEOUT_MS)
    assert shown_tree(dialog.tree) == {"Server": [("Server not reachable", "Error")]}
    assert dialog.details.toPlainText().startswith("Error: Server not reachable\nNothing answers")
    assert dialog.status_label.text() == "1 error and 0 warnings."
    assert dialog.copy_button.isEnabled()


def test_progress_names_the_check_under_way_and_cancel_stops_it(qtbot: QtBot) -> None:
    from tests.fakes.faults import Fault
    from tests.fakes.harvest import HarvestSite
    from tests.fakes.server import FakeServer

    with FakeServer(HarvestSite().app()) as server:
        held = server.faults.add(Fault("hold", path="/oai"))
        dialog = HarvestCheckDialog(server.url)
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.start()
        qtbot.waitUntil(lambda: held.holding > 0, timeout=CHECK_TIMEOUT_MS)
        qtbot.waitUntil(lambda: "OAI-PMH harvest" in dialog.status_label.text())
        assert dialog.status_label.text() == f"Checking {server.url}: OAI-PMH harvest…"
        assert dialog.progress_bar.isVisible() and dialog.cancel_button.isVisible()
        assert not dialog.copy_button.isEnabled()
        click(qtbot, dialog.cancel_button)
        server.faults.release()
        qtbot.waitUntil(lambda: dialog.status_label.text() == "Check cancelled.")
    assert dialog.report is None
    assert dialog.tree.topLevelItemCount() == 0
    assert dialog.again_button.isEnabled()
