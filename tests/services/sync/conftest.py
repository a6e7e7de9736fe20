"""Fixtures for the sync tests: a fake DataPress portal, a remote for it, an in-memory keyring."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import keyring
import pytest

from app.models.database import Database
from app.services import datasets
from app.services.records import Record
from app.services.sync import remotes
from app.services.sync.context import SyncOptions
from app.services.sync.datapress import CARRIED
from app.services.sync.http import HttpOptions
from app.services.sync.merge import canonical
from tests.fakes.datapress import FakeDataPress
from tests.fakes.memory_keyring import MemoryKeyring

T = TypeVar("T")

FAST = SyncOptions(http=HttpOptions(timeout=10, backoff=0.01, max_backoff=0.05), batch_size=3)
REMOTE = "portal"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[FakeDataPress]:
    with FakeDataPress(tmp_path / "portal.sqlite") as fake:
        yield fake


@pytest.fixture
def remote(database: Database, portal: FakeDataPress, memory_keyring: MemoryKeyring) -> str:
    with database.transaction() as session:
        remotes.add_remote(session, REMOTE, "datapress", portal.url, key=portal.key)
    return REMOTE


def local_record(database: Database, dataset_id: str) -> Record:
    with database.read() as session:
        return datasets.get_record(session, dataset_id)


def local_ids(database: Database) -> list[str]:
    from sqlalchemy import select

    from app.models import Dataset

    with database.read() as session:
        return list(session.scalars(select(Dataset.id).order_by(Dataset.pk)))


def assert_same(database: Database, portal: FakeDataPress, ids: list[str] | None = None) -> None:
    """Both catalogues hold the same datasets with the same synced fields: no lost edit."""
    portal_ids = portal.ids()
    here = local_ids(database)
    if ids is None:
        assert sorted(here) == sorted(portal_ids)
        ids = portal_ids
    for dataset_id in ids:
        mine = local_record(database, dataset_id)
        theirs = portal.record(dataset_id)
        assert canonical(mine, CARRIED) == canonical(theirs, CARRIED), dataset_id
        assert mine["createdAt"] == theirs["createdAt"]
