"""Create, read, update, delete and restore datasets: validated, versioned, one transaction each.

Callers pass a Session opened with `Database.transaction()`; these functions never commit, so
an edit and its history entry land together or not at all.
"""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import Dataset
from app.services import catalogue_version, history, new_datasets
from app.services.batches import IN_CHUNK, batched
from app.services.changes import note_datasets
from app.services.clock import now_iso
from app.services.errors import NotFound, StaleEdit, ValidationFailed
from app.services.new_datasets import stored_record
from app.services.record.canonical import empty_record
from app.services.record.fields import CATALOGUE_KEYS
from app.services.records import (
    RECORD_LOAD,
    People,
    Record,
    apply_record,
    changed_keys,
    dataset_to_record,
    unknown_people,
)
from app.services.validation import validate_record
from app.services.visibility import is_public

ID_ALPHABET = string.ascii_lowercase + string.digits


def random_id(length: int) -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def new_dataset_id(session: Session) -> str:
    return new_dataset_ids(session, 1, set())[0]


def new_dataset_ids(session: Session, count: int, avoid: set[str]) -> list[str]:
    """`count` fresh dataset ids, none in the catalogue or in `avoid`, in one query a round."""
    fresh: list[str] = []
    while len(fresh) < count:
        candidates = {random_id(5) for _ in range(count - len(fresh))} - avoid - set(fresh)
        fresh.extend(sorted(candidates - taken_ids(session, candidates)))
    return fresh


def taken_ids(session: Session, dataset_ids: Iterable[str]) -> set[str]:
    """Those of `dataset_ids` that are datasets in the catalogue."""
    wanted = list(dataset_ids)
    taken: set[str] = set()
    for chunk in batched(wanted, IN_CHUNK):
        taken.update(session.scalars(_TAKEN, {"ids": chunk}))
    return taken


# Built once, with an expanding parameter: an IN of literal ids is coerced id by id each time
# (a tenth of the time of a large import's commit).
_TAKEN = select(Dataset.id).where(Dataset.id.in_(bindparam("ids", expanding=True)))


def new_child_id(taken: set[str]) -> str:
    """A fresh 3-character resource or link id, unique within its dataset."""
    while True:
        candidate = random_id(3)
        if candidate not in taken:
            return candidate


def new_record(session: Session) -> Record:
    """A blank record with a fresh id, for the form's New dataset."""
    return empty_record(new_dataset_id(session), now_iso())


def get_dataset(session: Session, dataset_id: str) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.id == dataset_id).options(*RECORD_LOAD))
    if dataset is None:
        raise NotFound(f"Dataset {dataset_id!r} does not exist")
    return dataset


def get_record(session: Session, dataset_id: str) -> Record:
    return dataset_to_record(get_dataset(session, dataset_id))


def create_dataset(
    session: Session, record: Record, *, author: str, action: str = "create"
) -> Record:
    """Insert a dataset from a full record; the id must be new."""
    return create_datasets(session, [record], author=author, action=action)[0].record


class Created(NamedTuple):
    record: Record  # as stored
    version: int


def create_datasets(
    session: Session,
    records: Sequence[Record],
    *,
    author: str,
    action: str = "create",
    replace_taken_ids: bool = False,
    validated: bool = False,
) -> list[Created]:
    """Insert datasets from full records, together: one flush and one query for each lookup,
    however many there are (an import or a first pull writes thousands). A record without an
    id gets a fresh one; a taken id is refused (ValidationFailed), or with replace_taken_ids
    replaced by a fresh one. validated: the caller validated these very records in their stored
    form (`new_datasets.stored_record`: an import plan); the users and teams they name are
    checked all the same."""
    now = now_iso()
    prepared: list[Record] = []
    for record in records:
        record = dict(record) if validated else stored_record(record)
        record["createdAt"] = record["createdAt"] or now
        record["updatedAt"] = record["updatedAt"] or now
        prepared.append(record)
    taken = taken_ids(session, {r["id"] for r in prepared if r["id"]})
    seen: set[str] = set()
    needing: list[Record] = []
    for record in prepared:
        wanted = record["id"]
        if wanted and (wanted in taken or wanted in seen):
            if not replace_taken_ids:
                raise ValidationFailed({"id": f"a dataset with id {wanted} already exists"})
            wanted = None
        if wanted:
            seen.add(wanted)
        else:
            needing.append(record)
    for record, fresh in zip(needing, new_dataset_ids(session, len(needing), seen), strict=True):
        record["id"] = fresh
    numbers = history.next_numbers(session, (r["id"] for r in prepared))
    session.flush()  # what the session holds goes first: the batch is written beside it
    connection = session.connection()
    pks = new_datasets.reserve_pks(connection, len(prepared))
    batch = [
        new_datasets.NewDataset(pk, numbers[record["id"]], record)
        for pk, record in zip(pks, prepared, strict=True)
    ]
    new_datasets.write_new(
        connection, batch, author=author, action=action, at=now, validate=not validated
    )
    note_datasets(session, pks)
    return [Created(new.record, new.number) for new in batch]


def update_dataset(
    session: Session,
    dataset_id: str,
    record: Record,
    *,
    author: str,
    expected_version: int | None = None,
    action: str = "update",
    touch: bool = True,
) -> Record:
    """Replace a dataset's content with `record`. Returns the stored record.

    expected_version: the version the caller started from; if the dataset moved on since, the
    edit is refused (StaleEdit) rather than silently overwriting someone else's change.
    touch: set updatedAt to now (a sync that carries the remote's updatedAt passes False).
    """
    dataset = get_dataset(session, dataset_id)
    _check_version(dataset, expected_version)
    before = dataset_to_record(dataset)
    record = copy.deepcopy(record)
    immutable = {
        k: "cannot be changed" for k in CATALOGUE_KEYS if k in record and record[k] != before[k]
    }
    if immutable:
        raise ValidationFailed(immutable)
    merged = {**before, **record}
    validate_record(merged)
    # Compared in stored form: null for an empty list, or a title's trailing space, is no change.
    changes = changed_keys(before, stored_record(merged))
    if not changes:
        return before
    # The users and teams it names, looked up before the row is touched: an unknown team set
    # on the row would fail at the look-up's autoflush, a database error instead of a 422.
    people = People.load(session, [merged])
    unknown = unknown_people(merged, people.users, people.teams)
    if unknown:
        raise ValidationFailed(unknown)
    # The version first: on PostgreSQL its lock is taken before any dataset row's.
    written = catalogue_version.stamp(session)
    was_public = is_public(dataset)
    apply_record(session, dataset, merged, people)
    dataset.updated_at = now_iso() if touch else (merged.get("updatedAt") or now_iso())
    catalogue_version.mark(dataset, written)
    if was_public and not is_public(dataset):
        catalogue_version.left(session, dataset.id, written)
    return _record_version(session, dataset, action=action, author=author, changes=changes)


def _check_version(dataset: Dataset, expected_version: int | None) -> None:
    if expected_version is not None and dataset.version != expected_version:
        raise StaleEdit(
            f"Dataset {dataset.id} changed since it was opened "
            f"(version {dataset.version}, expected {expected_version})"
        )


def _record_version(
    session: Session, dataset: Dataset, *, action: str, author: str, changes: list[str] | None
) -> Record:
    """Write the change and its history entry; the stored record. changes=None: every field."""
    session.flush()
    after = dataset_to_record(dataset)
    # One counter: the dataset's version is its history number, which survives delete+restore.
    dataset.version = history.record_version(
        session,
        dataset_pk=dataset.pk,
        dataset_id=dataset.id,
        action=action,
        author=author,
        changes=sorted(after) if changes is None else changes,
        snapshot=after,
    ).number
    note_datasets(session, (dataset.pk,))
    return after


def delete_dataset(
    session: Session, dataset_id: str, *, author: str, expected_version: int | None = None
) -> None:
    """Delete a dataset; its history stays (services.trash lists and restores it).
    expected_version: as for update_dataset, refused (StaleEdit) if the dataset moved on."""
    dataset = get_dataset(session, dataset_id)
    _check_version(dataset, expected_version)
    written = catalogue_version.stamp(session)
    if is_public(dataset):
        catalogue_version.left(session, dataset.id, written)
    history.record_version(
        session,
        dataset_pk=dataset.pk,
        dataset_id=dataset.id,
        action="delete",
        author=author,
        changes=[],
        snapshot=None,
    )
    note_datasets(session, (dataset.pk,))
    session.delete(dataset)
    session.flush()


def restore_version(session: Session, version_pk: int, *, author: str) -> Record:
    """Bring a dataset back to an earlier version; recreate it if it was deleted since."""
    version, snapshot = history.version_snapshot(session, version_pk)
    snapshot.pop("updatedAt", None)
    exists = session.scalar(select(Dataset.pk).where(Dataset.id == version.dataset_id))
    if exists is None:
        return create_dataset(session, snapshot, author=author, action="restore")
    return update_dataset(session, version.dataset_id, snapshot, author=author, action="restore")
