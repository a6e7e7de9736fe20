"""Take the sync screenshots: the preview of a pull and the conflict dialog, under Xvfb.

PYTHONPATH=. xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshot_sync.py

A fake DataPress portal (tests/fakes, a real server on loopback) and a fresh catalogue are
synced once; then both sides are edited — the same fields of two datasets on both sides, new
and deleted datasets on the portal — and Sync > Pull from opens the preview, then the
conflict dialog. Writes docs/sync-preview.png and docs/sync-conflict.png.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import keyring
import qasync

from app.models.database import Database
from app.services import datasets
from app.services.sync import engine, remotes
from app.views.main_window import MainWindow
from app.views.qt import QtWidgets
from tests.fakes.datapress import FakeDataPress
from tests.fakes.memory_keyring import MemoryKeyring

REMOTE = "london-datastore"
CSV = {"title": "Monthly counts", "url": "https://data.example.org/f/counts.csv", "order": 0}


def seed(portal: FakeDataPress) -> dict[str, str]:
    ids = {}
    for title, tags in (
        ("Potholes reported", ["roads", "FOI"]),
        ("Street trees", ["environment", "trees"]),
        ("Library loans by branch", ["libraries"]),
        ("Parking fines issued", ["parking", "transport"]),
        ("Air quality monitoring", ["air", "environment"]),
        ("Council tax bands", ["finance"]),
        ("Planning applications", ["planning"]),
    ):
        ids[title] = portal.add(title=title, tags=tags, resources={"k93": CSV})
    return ids


def edit_both_sides(database: Database, portal: FakeDataPress, ids: dict[str, str]) -> None:
    def mine(name: str, **changes: object) -> None:
        with database.transaction() as session:
            datasets.update_dataset(session, ids[name], dict(changes), author="archivist")

    mine(
        "Potholes reported", title="Potholes reported and filled", tags=["roads", "FOI", "repairs"]
    )
    portal.edit(ids["Potholes reported"], title="Potholes reported, by ward")
    portal.edit(ids["Potholes reported"], tags=["roads", "FOI", "highways"])
    mine("Street trees", description="<p>Every street tree, with species and girth.</p>")
    portal.edit(ids["Street trees"], description="<p>Street trees surveyed in 2024.</p>")
    portal.edit(ids["Library loans by branch"], title="Library loans by branch and month")
    portal.edit(ids["Air quality monitoring"], tags=["air", "environment", "NO2"])
    portal.delete(ids["Council tax bands"])
    portal.add(title="Electric vehicle charge points", tags=["transport", "EV"])
    portal.add(title="Food hygiene ratings", tags=["food", "health"])
    mine("Parking fines issued", title="Parking fines issued (PCNs)")


async def shoot(app: QtWidgets.QApplication, folder: Path, out: Path) -> None:
    database = Database.open(folder / "catalogue.sqlite")
    with FakeDataPress(folder / "portal.sqlite") as portal:
        ids = seed(portal)
        with database.transaction() as session:
            remotes.add_remote(session, REMOTE, "datapress", portal.url, key=portal.key)
        await engine.pull(database, REMOTE)
        edit_both_sides(database, portal, ids)
        window = MainWindow(database, author="archivist")
        window.resize(1400, 860)
        window.show()
        await asyncio.sleep(1.0)
        window.sync.start("pull", REMOTE)
        while window.sync.preview_dialog is None:
            await asyncio.sleep(0.05)
        preview = window.sync.preview_dialog
        preview.resize(1180, 620)
        await asyncio.sleep(0.6)
        preview.grab().save(str(out / "sync-preview.png"))

        preview.open_conflicts()
        conflicts = preview.conflict_dialog
        assert conflicts is not None
        conflicts.resize(1180, 660)
        potholes = ids["Potholes reported"]
        conflicts.select(potholes, "title")
        conflicts.theirs_radio.click()
        conflicts.select(potholes, "tags")
        conflicts.merged_radio.click()
        conflicts.merged_edit.setPlainText('[\n  "roads",\n  "FOI",\n  "repairs",\n  "highways"\n]')
        await asyncio.sleep(0.6)
        conflicts.grab().save(str(out / "sync-conflict.png"))
        conflicts.reject()
        preview.reject()
        window.close()
        await asyncio.sleep(0.2)
        window.tasks.wait_for_all()
    database.dispose()


def main(out: str) -> int:
    app = QtWidgets.QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)  # the loop, not the window, ends this script
    keyring.set_keyring(MemoryKeyring())  # a screenshot must not touch the real keyring
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as folder, loop:
        loop.run_until_complete(shoot(app, Path(folder), Path(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs"))
