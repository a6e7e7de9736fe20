"""The process tests/test_kill.py kills: a never-ending stream of edits through the real services.

    python -m tests.kill_worker CATALOGUE ROUND SEED      (from the repository root)
    python -m tests.kill_worker --serve                   (a fork server of such workers)

Every edit is one `Database.transaction()`. The worker writes JSON lines to stdout, each flushed
with one write(2) so that a SIGKILL can only cut the stream between lines:

- ``{"opening": ROUND}`` before it opens (creates, migrates) the catalogue;
- ``{"ready": ROUND}`` once the catalogue is open;
- ``{"begin": SEQ}`` before the transaction starts: killed after this and before "prepared",
  the transaction must leave no trace;
- ``{"prepared": SEQ, "rows": N, "ids": [...]}`` inside the transaction, after its changes are
  flushed and just before COMMIT: killed now, it adds its N history rows all or none;
- ``{"commit": SEQ, "edits": [...]}`` after COMMIT returned: the transaction is durable from
  here on, and each edit says what the catalogue must now hold (see `Edit`).

History rows are written with the author ``author_for(ROUND, SEQ)``, so the test can tell which
transaction every row came from.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session, configure_mappers

from app.models import Dataset, DatasetVersion
from app.models.database import Database
from app.services import datasets, publication
from app.services.records import Record

WORDS = [
    "allotments",
    "bins",
    "bridges",
    "cemeteries",
    "councillors",
    "elections",
    "grants",
    "highways",
    "libraries",
    "licences",
    "markets",
    "museums",
    "parking",
    "parks",
    "planning",
    "rates",
    "recycling",
    "schools",
    "streets",
    "trees",
    "wards",
]


class Edit(TypedDict, total=False):
    """One dataset's part of a committed transaction.

    op: create, update, publish, unpublish, delete or restore; number: the dataset's history
    row for it; version: Dataset.version after it; values: `project()` of the record after it
    (absent for a delete).
    """

    id: str
    op: str
    number: int
    version: int
    values: dict[str, Any]


def author_for(round_number: int, seq: int) -> str:
    return f"kill-worker r{round_number} e{seq}"


def project(record: Record) -> dict[str, Any]:
    """The parts of a record the kill test compares: enough to tell any two edits apart."""
    return {
        "id": record["id"],
        "title": record["title"],
        "tags": list(record["tags"]),
        "state": record["state"],
        "sharing": record["sharing"],
        "resources": {
            rid: [r["title"], r.get("size"), r.get("hash")]
            for rid, r in sorted(record["resources"].items())
        },
        "links": sorted(record["links"]),
    }


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Worker:
    def __init__(self, database: Database, round_number: int, seed: int) -> None:
        self.database = database
        self.round = round_number
        self.rng = random.Random(seed)
        self.seq = 0

    def run(self) -> None:
        self._warm_up()
        emit({"ready": self.round})
        operations: list[tuple[Callable[[Session, str], list[Edit]], int]] = [
            (self.create, 4),
            (self.retitle, 3),
            (self.retag, 2),
            (self.edit_resources, 3),
            (self.toggle_publication, 2),
            (self.retag_several, 1),
            (self.delete, 1),
            (self.restore, 1),
        ]
        functions = [f for f, _ in operations]
        weights = [w for _, w in operations]
        while True:
            self.seq += 1
            author = author_for(self.round, self.seq)
            operation = self.rng.choices(functions, weights)[0]
            emit({"begin": self.seq})
            with self.database.transaction() as session:
                edits = operation(session, author) or self.create(session, author)
                for edit in edits:
                    self._complete(session, edit)
                ids = [e["id"] for e in edits]
                emit({"prepared": self.seq, "rows": len(edits), "ids": ids})
            emit({"commit": self.seq, "edits": edits})

    # -- edits: each runs inside the caller's transaction and returns what it changed

    def create(self, session: Session, author: str) -> list[Edit]:
        rids = self.rng.sample(["r01", "r02", "r03", "a9z"], self.rng.randint(0, 3))
        record: Record = {
            "id": "",
            "title": f"Kill test {self.rng.choice(WORDS)} {self.round}.{self.seq}",
            "description": f"<p>Created by round {self.round}, edit {self.seq}.</p>",
            "tags": self._tags(),
            "licence": {
                "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
                "title": "UK Open Government Licence (OGL v3)",
            },
            "custom": {"round": str(self.round), "wards": ["North", "South"]},
            "resources": {rid: self._resource(order) for order, rid in enumerate(rids)},
            "links": {"l01": {"url": "https://example.org/about", "order": 9, "title": "About"}},
            "sharing": self.rng.choice(["public", "public", "private"]),
            "state": self.rng.choice(["draft", "published"]),
        }
        created = datasets.create_dataset(session, record, author=author)
        return [{"id": created["id"], "op": "create"}]

    def retitle(self, session: Session, author: str) -> list[Edit]:
        target = self._pick(session)
        if target is None:
            return []
        title = f"Retitled {self.rng.choice(WORDS)} {self.round}.{self.seq}"
        datasets.update_dataset(session, target, {"title": title}, author=author)
        return [{"id": target, "op": "update"}]

    def retag(self, session: Session, author: str) -> list[Edit]:
        target = self._pick(session)
        if target is None:
            return []
        datasets.update_dataset(session, target, {"tags": self._tags()}, author=author)
        return [{"id": target, "op": "update"}]

    def retag_several(self, session: Session, author: str) -> list[Edit]:
        """One transaction over several datasets: all of them change, or none does."""
        ids = self._existing(session)
        chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(2, 4)))
        for target in chosen:
            datasets.update_dataset(session, target, {"tags": self._tags()}, author=author)
        return [{"id": target, "op": "update"} for target in chosen]

    def edit_resources(self, session: Session, author: str) -> list[Edit]:
        target = self._pick(session)
        if target is None:
            return []
        resources = datasets.get_record(session, target)["resources"]
        choice = self.rng.random()
        if resources and choice < 0.3:
            del resources[self.rng.choice(sorted(resources))]
        elif resources and choice < 0.7:
            rid = self.rng.choice(sorted(resources))
            resources[rid].update(self._resource(resources[rid]["order"]))
        else:
            rid = datasets.new_child_id(set(resources))
            resources[rid] = self._resource(len(resources))
        datasets.update_dataset(session, target, {"resources": resources}, author=author)
        return [{"id": target, "op": "update"}]

    def toggle_publication(self, session: Session, author: str) -> list[Edit]:
        target = self._pick(session)
        if target is None:
            return []
        if datasets.get_dataset(session, target).state == "draft":
            publication.publish(session, target, author=author)
            return [{"id": target, "op": "publish"}]
        publication.unpublish(session, target, author=author)
        return [{"id": target, "op": "unpublish"}]

    def delete(self, session: Session, author: str) -> list[Edit]:
        ids = self._existing(session)
        if len(ids) < 4:
            return []
        target = self.rng.choice(ids)
        datasets.delete_dataset(session, target, author=author)
        return [{"id": target, "op": "delete"}]

    def restore(self, session: Session, author: str) -> list[Edit]:
        """Bring back a deleted dataset from its last snapshot (a restore recreates it)."""
        deleted = sorted(
            set(session.scalars(select(DatasetVersion.dataset_id).distinct()))
            - set(self._existing(session))
        )
        if not deleted:
            return []
        target = self.rng.choice(deleted)
        version_pk = session.scalar(
            select(func.max(DatasetVersion.pk)).where(
                DatasetVersion.dataset_id == target, DatasetVersion.action != "delete"
            )
        )
        assert version_pk is not None
        datasets.restore_version(session, version_pk, author=author)
        return [{"id": target, "op": "restore"}]

    # -- helpers

    def _warm_up(self) -> None:
        """What an application does at start-up anyway (configure the ORM, a first read), so
        that the kills spread over the edits rather than over SQLAlchemy's first-use costs."""
        configure_mappers()
        with self.database.read() as session:
            for dataset_id in self._existing(session)[-1:]:
                project(datasets.get_record(session, dataset_id))

    def _complete(self, session: Session, edit: Edit) -> None:
        """Fill in the history number, version and values the edit has left, pre-commit."""
        edit["number"] = (
            session.scalar(
                select(func.max(DatasetVersion.number)).where(
                    DatasetVersion.dataset_id == edit["id"]
                )
            )
            or 0
        )
        if edit["op"] != "delete":
            dataset = datasets.get_dataset(session, edit["id"])
            edit["version"] = dataset.version
            edit["values"] = project(datasets.get_record(session, edit["id"]))

    def _existing(self, session: Session) -> list[str]:
        return list(session.scalars(select(Dataset.id).order_by(Dataset.pk)))

    def _pick(self, session: Session) -> str | None:
        ids = self._existing(session)
        return self.rng.choice(ids) if ids else None

    def _tags(self) -> list[str]:
        return [*self.rng.sample(WORDS, self.rng.randint(0, 3)), f"edit {self.round}.{self.seq}"]

    def _resource(self, order: int) -> Record:
        name = f"{self.rng.choice(WORDS)}-{self.round}-{self.seq}.csv"
        return {
            "url": f"https://data.example.org/download/{name}",
            "order": order,
            "title": f"{name} ({self.rng.randint(1, 999)})",
            "filename": name,
            "format": "csv",
            "size": self.rng.randint(0, 5_000_000),
            "hash": f"{self.rng.getrandbits(128):032x}",
            "timeFrame": {"gte": "2024-01", "lte": "2025-06"},
        }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        return serve()
    path, round_number, seed = argv[0], int(argv[1]), int(argv[2])
    emit({"opening": round_number})
    database = Database.open(path)
    Worker(database, round_number, seed).run()
    return 0  # not reached: the worker runs until it is killed


def serve() -> int:
    """A fork server, so that thirty workers do not pay Python's and SQLAlchemy's start-up
    thirty times. Commands on stdin, one answer line each on stdout:

    ``run CATALOGUE ROUND SEED OUT ERR`` forks a worker whose stdout and stderr are the files
    OUT and ERR, and answers its pid; ``wait PID`` reaps it and answers its wait status.

    Nothing here has opened a database when it forks: each worker opens the catalogue itself.
    """
    for line in sys.stdin:
        command, *args = line.split()
        if command == "run":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:  # the worker
                status = 1
                try:
                    _redirect(1, args[3])
                    _redirect(2, args[4])
                    status = main(args[:3])
                finally:
                    os._exit(status)
            answer = str(pid)
        elif command == "wait":
            answer = str(os.waitpid(int(args[0]), 0)[1])
        else:
            answer = f"unknown command {command}"
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()
    return 0


def _redirect(fd: int, path: str) -> None:
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(target, fd)
    os.close(target)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
