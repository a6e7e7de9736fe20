"""Nothing lost: SIGKILL a process in the middle of a stream of edits, many times, at random
moments; after each kill the catalogue must pass PRAGMA integrity_check and hold every edit that
had been committed.

The worker (tests/kill_worker.py) announces each transaction three times: "begin" before it
starts, "prepared" just before COMMIT and "commit" just after COMMIT returned. After a kill,
every reported commit must be in the catalogue with the values reported, and the one transaction
that may have been in flight must be there entirely (only possible once "prepared") or not at
all. Every history row carries the round and transaction that wrote it, so nothing else may
appear either.

Workers of the main test are forked by one `python -m tests.kill_worker --serve` process, so a
round costs its edits rather than Python's start-up: the two tests take some 15-25 s together.
Each round but the early ones kills on the worker's own progress, not after a delay: once its
output shows a chosen line (the "begin", "prepared" or "commit" of a chosen transaction), so the
kill lands mid-stream however busy the machine is, and at varied points of a transaction.
The seed is printed (pytest -s, and in any failure message); set KILL_TEST_SEED to replay a run's
kill points and edits (how far past its kill point a worker gets still varies with the load).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.models import Dataset, DatasetVersion
from app.models.database import Database
from app.services.records import dataset_to_record
from tests.kill_worker import Edit, author_for, project

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 40
# Some rounds kill without waiting for the worker to be ready: during start-up and migration.
EARLY_KILL_SHARE = 0.1
# The other rounds kill once the worker reports this many commits, give or take a phase.
MOST_COMMITS_BEFORE_KILL = 8
# Only a bound for a worker that hangs: a passing round never waits this long.
PROGRESS_TIMEOUT = 120.0
# Everything `dataset_to_record` reads, loaded for all datasets in a few queries.
FULL_DATASET = [
    selectinload(Dataset.resources),
    selectinload(Dataset.links),
    selectinload(Dataset.collaborators),
    selectinload(Dataset.read_users),
    selectinload(Dataset.read_teams),
]


@dataclass
class Round:
    number: int
    waited: bool
    kill_after: int = 0  # commits the worker reported before the kill (at least)
    begins: set[int] = field(default_factory=set)
    prepared: dict[int, dict[str, Any]] = field(default_factory=dict)
    commits: dict[int, list[Edit]] = field(default_factory=dict)


@dataclass
class Ledger:
    """What the catalogue must hold, built from every round's reports."""

    # (dataset id, history number) -> the committed edit that wrote that history row
    reported: dict[tuple[str, int], Edit] = field(default_factory=dict)
    # history rows of in-flight transactions that turned out committed (never reported)
    unreported: set[tuple[str, int]] = field(default_factory=set)
    history_rows: int = 0
    grew: int = 0
    in_flight_committed: int = 0
    in_flight_rolled_back: int = 0
    killed_in_commit_rolled_back: int = 0


class Launcher(Protocol):
    def start(self, catalogue: Path, number: int, seed: int, out: Path, err: Path) -> int:
        """Start a worker writing to `out` and `err`; its pid."""

    def reap(self, pid: int) -> int:
        """Wait for the worker to end; its exit code (negative: the signal that ended it)."""


class Spawner:
    """Each worker a fresh `python -m tests.kill_worker`: start-up included."""

    def __init__(self) -> None:
        self.workers: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, catalogue: Path, number: int, seed: int, out: Path, err: Path) -> int:
        command = [sys.executable, "-m", "tests.kill_worker", str(catalogue), str(number)]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            worker = subprocess.Popen([*command, str(seed)], cwd=ROOT, stdout=stdout, stderr=stderr)
        self.workers[worker.pid] = worker
        return worker.pid

    def reap(self, pid: int) -> int:
        return self.workers.pop(pid).wait()


class ForkServer:
    """Workers forked by `python -m tests.kill_worker --serve`, which has done the imports once:
    a round costs its edits and checks, not half a second of start-up."""

    def __init__(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, "-m", "tests.kill_worker", "--serve"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _ask(self, command: str) -> int:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.write(command + "\n")
        self.server.stdin.flush()
        return int(self.server.stdout.readline())

    def start(self, catalogue: Path, number: int, seed: int, out: Path, err: Path) -> int:
        return self._ask(f"run {catalogue} {number} {seed} {out} {err}")

    def reap(self, pid: int) -> int:
        return os.waitstatus_to_exitcode(self._ask(f"wait {pid}"))

    def close(self) -> None:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.close()
        self.server.wait(timeout=10)
        self.server.stdout.close()


def run_worker(
    launcher: Launcher,
    tmp_path: Path,
    catalogue: Path,
    rnd: Round,
    seed: int,
    wait_for: bytes,
    delay: float = 0.0,
) -> Round:
    """Start a worker, wait until its output shows `wait_for`, sleep `delay`, SIGKILL it."""
    out, err = tmp_path / f"round{rnd.number}.out", tmp_path / f"round{rnd.number}.err"
    out.touch()
    err.touch()
    pid = launcher.start(catalogue, rnd.number, seed, out, err)
    try:
        if wait_for:
            wait_for_output(out, err, wait_for)
        if delay:
            time.sleep(delay)
    finally:
        os.kill(pid, signal.SIGKILL)
        exit_code = launcher.reap(pid)
    assert exit_code == -signal.SIGKILL, f"worker failed by itself:\n{err.read_text()}"
    text = out.read_text(encoding="utf-8")
    complete, _, partial = text.rpartition("\n")
    assert not partial, f"a line was cut: {partial!r}"  # each line is one small write(2)
    for line in filter(None, complete.split("\n")):
        message = json.loads(line)
        if "begin" in message:
            rnd.begins.add(message["begin"])
        elif "prepared" in message:
            rnd.prepared[message["prepared"]] = message
        elif "commit" in message:
            rnd.commits[message["commit"]] = message["edits"]
    return rnd


def wait_for_output(out: Path, err: Path, wanted: bytes) -> None:
    """Poll the worker's output until it shows `wanted` (its progress, not a time)."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    with out.open("rb") as stream:
        seen = b""
        while wanted not in seen:
            assert not err.stat().st_size, f"worker failed:\n{err.read_text()}"
            assert time.monotonic() < deadline, f"worker never said {wanted!r}"
            more = stream.read()
            if more:
                seen = seen[-len(wanted) :] + more
            else:
                time.sleep(0.001)


def kill_point(rng: random.Random) -> tuple[int, bytes]:
    """A progress line to kill on, and how many commits the worker has reported by then:
    the commit of transaction N, or the begin or prepared of the one after it (so that the
    kill lands before, inside or just after a COMMIT)."""
    commits = rng.randint(1, MOST_COMMITS_BEFORE_KILL)
    phase = rng.choice(["begin", "prepared", "commit"])
    if phase == "commit":
        return commits, b'{"commit":%d,' % commits
    if phase == "begin":
        return commits, b'{"begin":%d}' % (commits + 1)
    return commits, b'{"prepared":%d,' % (commits + 1)


def check_sqlite_file(catalogue: Path) -> None:
    connection = sqlite3.connect(catalogue, isolation_level=None)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # The full-text index is kept by triggers: it must match its content table exactly.
        connection.execute("INSERT INTO datasets_fts(datasets_fts) VALUES ('integrity-check')")
    finally:
        connection.close()


def check_round(database: Database, rnd: Round, ledger: Ledger) -> None:
    seqs = sorted(rnd.begins)
    assert seqs == list(range(1, len(seqs) + 1)), "the worker skipped a transaction"
    assert set(rnd.commits) <= set(rnd.prepared) <= set(seqs)
    unreported = [s for s in seqs if s not in rnd.commits]
    assert unreported in ([], seqs[-1:]), "only the last transaction can be in flight"

    with database.read() as session:
        rows = list(session.scalars(select(DatasetVersion).order_by(DatasetVersion.pk)))
        by_author: dict[str, list[DatasetVersion]] = {}
        for row in rows:
            by_author.setdefault(row.author, []).append(row)

        # This round: every reported commit wrote exactly its history rows, with its values.
        for seq, edits in rnd.commits.items():
            written = by_author.pop(author_for(rnd.number, seq), [])
            assert sorted((r.dataset_id, r.number, r.action) for r in written) == sorted(
                (e["id"], e["number"], e["op"]) for e in edits
            ), f"round {rnd.number} transaction {seq} was committed but is not all there"
            for edit in edits:
                ledger.reported[(edit["id"], edit["number"])] = edit
        # The transaction in flight at the kill: all of it or none of it.
        for seq in unreported:
            written = by_author.pop(author_for(rnd.number, seq), [])
            prepared = rnd.prepared.get(seq, {"rows": 0, "ids": []})
            assert len(written) in (0, prepared["rows"]), f"transaction {seq} is half there"
            assert sorted(r.dataset_id for r in written) in ([], sorted(prepared["ids"]))
            if written:
                ledger.in_flight_committed += 1
                ledger.unreported.update((r.dataset_id, r.number) for r in written)
            elif seq in rnd.prepared:
                ledger.killed_in_commit_rolled_back += 1
            else:
                ledger.in_flight_rolled_back += 1
        strays = [a for a in by_author if a.startswith(f"kill-worker r{rnd.number} ")]
        assert not strays, f"history rows from transactions never begun: {strays}"

        # Every round so far: each reported edit's history row is still there, unchanged.
        stored = {(r.dataset_id, r.number): r for r in rows}
        assert ledger.unreported <= set(stored), "a committed transaction was lost"
        for key, edit in ledger.reported.items():
            kept = stored.get(key)
            assert kept is not None, f"committed edit lost: {edit}"
            assert kept.action == edit["op"]
            if edit["op"] == "delete":
                assert kept.snapshot is None
            else:
                assert project(kept.snapshot or {}) == edit["values"], f"edit changed: {edit}"

        # The catalogue itself: each dataset is its latest version; deleted ones stay deleted.
        latest: dict[str, DatasetVersion] = {}
        for row in rows:
            if row.dataset_id not in latest or row.number > latest[row.dataset_id].number:
                latest[row.dataset_id] = row
        existing = {d.id: d for d in session.scalars(select(Dataset).options(*FULL_DATASET))}
        assert set(existing) <= set(latest), "a dataset without history"
        for dataset_id, row in latest.items():
            if row.action == "delete":
                assert dataset_id not in existing, f"deleted dataset {dataset_id} is back"
                continue
            assert dataset_id in existing, f"dataset {dataset_id} lost (last: {row.action})"
            record = dataset_to_record(existing[dataset_id])
            assert record == row.snapshot, f"dataset {dataset_id} differs from its last version"
            last = ledger.reported.get((dataset_id, row.number))
            if last is not None:
                assert existing[dataset_id].version == last["version"]
                assert project(record) == last["values"]
            else:  # only an in-flight transaction may be newer than what was reported
                assert (dataset_id, row.number) in ledger.unreported

    if len(rows) > ledger.history_rows:
        ledger.grew += 1
    assert len(rows) >= ledger.history_rows, "history shrank"
    ledger.history_rows = len(rows)


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_committed_edit(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seed = int(os.environ.get("KILL_TEST_SEED") or random.randrange(2**32))
    print(f"kill test seed {seed} (replay with KILL_TEST_SEED={seed})")
    rng = random.Random(seed)
    catalogue = tmp_path / "catalogue.sqlite"
    Database.open(catalogue).dispose()
    ledger = Ledger()
    rounds: list[Round] = []
    started = time.monotonic()
    launcher = ForkServer()
    request.addfinalizer(launcher.close)
    for number in range(1, ROUNDS + 1):
        if rng.random() >= EARLY_KILL_SHARE:
            kill_after, wait_for = kill_point(rng)
            rnd = Round(number, waited=True, kill_after=kill_after)
            delay = 0.0
        else:  # during start-up: nothing is asserted about where this lands
            rnd, wait_for, delay = Round(number, waited=False), b"", rng.uniform(0.0, 0.05)
        run_worker(launcher, tmp_path, catalogue, rnd, rng.randrange(2**32), wait_for, delay)
        try:
            check_sqlite_file(catalogue)
            database = Database.open(catalogue)
            try:
                check_round(database, rnd, ledger)
            finally:
                database.dispose()
        except AssertionError as error:
            raise AssertionError(f"round {number}, seed {seed}: {error}") from error
        rounds.append(rnd)

    waited_rounds = [r for r in rounds if r.waited]
    commits = sum(len(r.commits) for r in rounds)
    print(
        f"{len(rounds)} kills in {time.monotonic() - started:.1f}s: {commits} committed "
        f"transactions, {ledger.history_rows} history rows; in flight at the kill: "
        f"{ledger.in_flight_rolled_back} rolled back before COMMIT, "
        f"{ledger.killed_in_commit_rolled_back} rolled back during COMMIT, "
        f"{ledger.in_flight_committed} committed but not yet reported"
    )
    # The kills must land mid-stream, not before the first edit, and the catalogue must grow.
    early = [r.number for r in waited_rounds if len(r.commits) < r.kill_after]
    assert not early, f"rounds {early} were killed before their kill point, seed {seed}"
    assert ledger.grew >= len(waited_rounds)


@pytest.mark.slow
def test_sigkill_during_first_open_leaves_a_catalogue_that_opens(tmp_path: Path) -> None:
    """Killed while creating and migrating a new catalogue (a first launch cut short), the file
    must still open, migrate and hold whatever the worker committed."""
    seed = int(os.environ.get("KILL_TEST_SEED") or random.randrange(2**32))
    print(f"kill test seed {seed} (replay with KILL_TEST_SEED={seed})")
    rng = random.Random(seed)
    for number in range(1, 4):
        catalogue = tmp_path / f"new{number}.sqlite"
        rnd = run_worker(
            Spawner(),
            tmp_path,
            catalogue,
            Round(number, waited=False),
            rng.randrange(2**32),
            b'{"opening"',
            # Anywhere in creating and migrating (some 30 ms): nothing asserts where it lands.
            rng.uniform(0.0, 0.1),
        )
        landed = "before the file was created"
        if catalogue.exists():
            connection = sqlite3.connect(catalogue)
            try:
                assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
                landed = "after migrating" if tables[0] else "before or while migrating"
            finally:
                connection.close()
        if rnd.begins:
            landed = f"after {len(rnd.commits)} committed transactions"
        print(f"first-open kill {number} landed {landed}")
        try:
            database = Database.open(catalogue)
            try:
                check_sqlite_file(catalogue)
                check_round(database, rnd, Ledger())
            finally:
                database.dispose()
        except AssertionError as error:
            raise AssertionError(f"first-open kill {number}, seed {seed}: {error}") from error
