"""Two desktops on one catalogue: this window, and another process writing through the services
as a second person's window does. The other's change shows here at once (on PostgreSQL woken
by its notification); a save over it is a conflict shown side by side, never a lost update."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from app.models.database import Database
from app.services import access, datasets, history
from app.services.changes import CHANNEL
from app.views.conflict_dialog import ConflictDialog
from app.views.history_panel import HistoryPanel
from app.views.main_window import MainWindow
from app.views.qt import QtWidgets
from tests.conftest import make_record
from tests.engines import ENGINES, catalogue_on
from tests.views.test_main_window import retype, titles_shown

ROOT = Path(__file__).resolve().parents[2]
# "Within a second": PostgreSQL's notification wakes the window (its fallback poll is 5 s
# away); SQLite's data_version is polled every 500 ms.
LIVE_MS = 1000
ALICE = "Alice Archer (alice)"
BOB = "Bob Baker (bob)"

# The other desktop: Bob's window saving through the services, in a process of its own.
OTHER_DESKTOP = """
import json
import sys

from app.models.database import Database
from app.services import datasets

database = Database(sys.argv[1])
with database.transaction() as session:
    datasets.update_dataset(session, sys.argv[2], json.loads(sys.argv[3]), author="bob")
database.dispose()
"""


@dataclass
class Desk:
    window: MainWindow
    database: Database
    dataset_id: str

    def other_saves(self, changes: dict[str, Any]) -> None:
        """Bob's desktop saves `changes` to the dataset (returns once committed)."""
        subprocess.run(
            [sys.executable, "-c", OTHER_DESKTOP, self.database.url, self.dataset_id,
             json.dumps(changes)],
            cwd=ROOT,
            check=True,
        )  # fmt: skip

    def stored(self) -> dict[str, Any]:
        with self.database.read() as session:
            return datasets.get_record(session, self.dataset_id)

    def authors(self) -> list[str]:
        """Who wrote each version, oldest first, as history names them."""
        with self.database.read() as session:
            return [v.who for v in reversed(history.list_versions(session, self.dataset_id))]


@pytest.fixture(params=ENGINES)
def desk(qtbot: QtBot, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Desk]:
    """Alice's window on a shared catalogue, the dataset "Street Trees" open in its form."""
    with catalogue_on(request.param, tmp_path, request) as database:
        with database.transaction() as session:
            access.create_user(session, "alice", display_name="Alice Archer")
            access.create_user(session, "bob", display_name="Bob Baker")
            dataset_id = datasets.create_dataset(
                session, make_record(title="Street Trees"), author="alice"
            )["id"]
        window = MainWindow(database, author="alice")
        with qtbot.waitSignal(window.model.countChanged):
            window.show()
        qtbot.waitUntil(lambda: window.operations.watching)
        window.select_dataset(dataset_id)
        qtbot.waitUntil(lambda: window.form.title_edit.text() == "Street Trees")
        try:
            yield Desk(window, database, dataset_id)
        finally:
            window.ask_unsaved = lambda: QtWidgets.QMessageBox.StandardButton.Discard
            window.close()
            window.tasks.wait_for_all()
            window.deleteLater()


def test_another_desktops_save_shows_here_within_a_second(qtbot: QtBot, desk: Desk) -> None:
    window = desk.window
    # On PostgreSQL the notification wakes the window: nothing polls.
    assert window.operations.listening == (not desk.database.is_sqlite)
    desk.other_saves({"title": "Street Trees of Barnet"})
    qtbot.waitUntil(
        lambda: (
            titles_shown(window) == ["Street Trees of Barnet"]
            and window.form.title_edit.text() == "Street Trees of Barnet"
        ),
        timeout=LIVE_MS,
    )
    assert not window.form.is_dirty()  # shown as stored, nothing to save


# The other desktop adds a user: no version is written (the directory).
OTHER_ADDS_A_USER = """
import sys

from app.models.database import Database
from app.services import access

database = Database(sys.argv[1])
with database.transaction() as session:
    access.create_user(session, "carol", display_name="Carol Clark")
database.dispose()
"""


def test_another_desktops_new_user_shows_here_within_a_second(qtbot: QtBot, desk: Desk) -> None:
    users = desk.window.permissions.users.table
    before = users.model().rowCount()
    subprocess.run(
        [sys.executable, "-c", OTHER_ADDS_A_USER, desk.database.url], cwd=ROOT, check=True
    )
    qtbot.waitUntil(lambda: users.model().rowCount() == before + 1, timeout=LIVE_MS)
    shown = {users.model().index(row, 1).data() for row in range(before + 1)}
    assert "Carol Clark" in shown


@pytest.mark.parametrize("desk", ["postgresql"], indirect=True)  # SQLite polls: no LISTEN
def test_a_window_whose_listening_connection_dropped_catches_up(qtbot: QtBot, desk: Desk) -> None:
    with desk.database.engine.connect() as connection:  # the server drops the window's LISTEN
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = :listen"
            ),
            {"listen": f"LISTEN {CHANNEL}"},
        )
        connection.commit()
    desk.other_saves({"title": "Street Trees of Barnet"})
    # From the history after the newest version seen, once it listens again.
    qtbot.waitUntil(lambda: desk.window.form.title_edit.text() == "Street Trees of Barnet")
    desk.other_saves({"title": "Street Trees of Enfield"})
    qtbot.waitUntil(lambda: titles_shown(desk.window) == ["Street Trees of Enfield"])


def start_conflict(qtbot: QtBot, desk: Desk) -> ConflictDialog:
    """Alice retypes the title; meanwhile Bob saves another title and a new description. Her
    save opens the conflict view: the title only, the description merged without asking."""
    window, form = desk.window, desk.window.form
    retype(qtbot, form.title_edit, "Street Trees (surveyed 2025)")
    assert form.is_dirty()
    desk.other_saves({"title": "Street Trees of Barnet", "description": "<p>By ward.</p>"})
    # The table follows Bob; the form keeps Alice's unsaved edit.
    qtbot.waitUntil(lambda: titles_shown(window) == ["Street Trees of Barnet"])
    assert form.title_edit.text() == "Street Trees (surveyed 2025)"
    assert "changed elsewhere" in window.statusBar().currentMessage()
    window.save_action.trigger()
    qtbot.waitUntil(lambda: (d := window.commands.conflict_dialog) is not None and d.isVisible())
    dialog = window.commands.conflict_dialog
    assert dialog is not None
    assert [entry.conflict.unit for entry in dialog.entries] == ["title"]
    assert dialog.base_side.text.toPlainText() == "Street Trees"
    assert dialog.mine_side.text.toPlainText() == "Street Trees (surveyed 2025)"
    assert dialog.theirs_side.text.toPlainText() == "Street Trees of Barnet"
    assert BOB in dialog.theirs_side.caption.text()
    assert "Bob" in dialog.windowTitle()
    assert not dialog.ok_button.isEnabled()  # every conflict decided first
    assert desk.stored()["title"] == "Street Trees of Barnet"  # nothing written yet
    return dialog


def test_a_save_over_anothers_change_keeps_mine_when_chosen(qtbot: QtBot, desk: Desk) -> None:
    window = desk.window
    dialog = start_conflict(qtbot, desk)
    dialog.mine_radio.click()
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    assert window.commands.conflict_dialog is None
    qtbot.waitUntil(lambda: desk.stored()["title"] == "Street Trees (surveyed 2025)")
    assert desk.stored()["description"] == "<p>By ward.</p>"  # Bob's, merged
    qtbot.waitUntil(lambda: not window.form.is_dirty() and not window.commands.saving)
    assert window.form.record()["description"] == "<p>By ward.</p>"
    assert desk.authors() == [ALICE, BOB, ALICE]
    # The history panel names them too, newest first.
    panel: HistoryPanel = window.history
    qtbot.waitUntil(lambda: panel.versions_table.rowCount() == 3)
    table = panel.versions_table
    names = [table.model().index(row, 2).data() for row in range(table.rowCount())]
    assert names == [ALICE, BOB, ALICE]


def test_a_save_over_anothers_change_takes_theirs_when_chosen(qtbot: QtBot, desk: Desk) -> None:
    window = desk.window
    dialog = start_conflict(qtbot, desk)
    dialog.theirs_radio.click()
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not window.form.is_dirty() and not window.commands.saving)
    assert window.form.title_edit.text() == "Street Trees of Barnet"
    assert desk.stored()["title"] == "Street Trees of Barnet"
    assert desk.stored()["description"] == "<p>By ward.</p>"
    assert desk.authors() == [ALICE, BOB]  # the same as stored: nothing more to write


def test_cancel_saves_nothing_and_keeps_the_edit(qtbot: QtBot, desk: Desk) -> None:
    window = desk.window
    dialog = start_conflict(qtbot, desk)
    dialog.reject()
    assert window.form.is_dirty()
    assert window.form.title_edit.text() == "Street Trees (surveyed 2025)"
    assert "edit is still in the form" in window.statusBar().currentMessage()
    assert desk.authors() == [ALICE, BOB]
    # Saving again asks again: the edit is still over the version Bob replaced.
    assert window.commands.conflict_dialog is None  # closed, and let go
    window.save_action.trigger()
    qtbot.waitUntil(lambda: window.commands.conflict_dialog is not None)
    again = window.commands.conflict_dialog
    assert again is not None
    assert again.isVisible()
    again.choose_all("mine")
    again.ok_button.click()
    qtbot.waitUntil(lambda: desk.stored()["title"] == "Street Trees (surveyed 2025)")


def test_fields_only_one_side_changed_merge_without_asking(qtbot: QtBot, desk: Desk) -> None:
    window, form = desk.window, desk.window.form
    retype(qtbot, form.title_edit, "Street Trees (surveyed 2025)")
    desk.other_saves({"tags": ["Trees", "Barnet"]})
    qtbot.waitUntil(lambda: "changed elsewhere" in window.statusBar().currentMessage())
    window.save_action.trigger()
    qtbot.waitUntil(lambda: desk.stored()["title"] == "Street Trees (surveyed 2025)")
    assert desk.stored()["tags"] == ["Trees", "Barnet"]
    assert window.commands.conflict_dialog is None  # nothing to ask
    qtbot.waitUntil(lambda: "Merged with " + BOB in window.statusBar().currentMessage())
    assert not form.is_dirty()
    assert desk.authors() == [ALICE, BOB, ALICE]


def test_the_conflict_view_is_the_sync_one_with_a_saves_words(qtbot: QtBot, desk: Desk) -> None:
    dialog = start_conflict(qtbot, desk)
    assert dialog.base_side.caption.text() == "As you opened it"
    assert dialog.ok_button.text() == "Save with these choices"
    dialog.merged_radio.click()
    dialog.merged_edit.setPlainText("Street Trees of Barnet (surveyed 2025)")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: desk.stored()["title"] == "Street Trees of Barnet (surveyed 2025)")
