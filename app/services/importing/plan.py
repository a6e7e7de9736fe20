"""Plan an import (read and check everything, write nothing), then commit it in one transaction.

`plan_import` reads the file through its format's source module, and for each dataset decides
what would happen: create, update, copy (an existing id imported under a new one), skip, or
unchanged. Every record is validated as it would be written (validation.validate_record, and
the team and user ids it names must exist), and every problem becomes a `RowError` that names
the row and column where the person can fix it.

`commit_import` writes a plan without errors through datasets.create_datasets/update_dataset, so
every imported dataset gets its history version, all in one transaction: all or nothing. It
refuses a plan whose datasets changed since it was made (StaleEdit), rather than overwriting
an edit the preview did not show. What it wrote is one undoable step (services.undoable), as a
batch edit's: undone, it deletes the datasets it created and gives back those it updated.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Dataset, Team, User
from app.models.database import Database
from app.services import datasets
from app.services.clock import now_iso
from app.services.errors import StaleEdit, ValidationFailed
from app.services.importing.detect import detect_format
from app.services.importing.model import ImportFormat, OnExisting, RowError, SourceItem
from app.services.importing.sources import read_source
from app.services.mappings import Loss, record_fields
from app.services.new_datasets import indexes_rebuilt_after, stored_record
from app.services.progress import NO_PROGRESS, Progress
from app.services.record.fields import CATALOGUE_KEYS, DERIVED_KEYS
from app.services.record.shape import check_shape
from app.services.records import (
    RECORD_LOAD,
    Record,
    changed_keys,
    dataset_to_record,
    unknown_people,
)
from app.services.undoable import Edit, Step
from app.services.validation import validate_record

Action = Literal["create", "update", "copy", "skip", "unchanged"]
# Keys whose value is an object of a few fixed fields: a format may carry only some of them.
_PARTIAL_OBJECTS = ("licence", "contact")
_CHILDREN = ("resources", "links")
# Datasets planned or written between two progress reports (and ORM objects let go of).
_STEP = 2000


@dataclass
class PlannedItem:
    """One dataset of the plan. `record` is the dataset as the commit would leave it (for an
    update: the stored record with the file's changes; for a skip: what the file had), and
    `changes` its top-level fields that differ from the stored ones (all of them for a new
    dataset)."""

    row: int
    dataset_id: str
    action: Action
    record: Record
    changes: list[str]
    # The dataset's version when planned (update and unchanged): the commit checks it.
    version: int | None = None
    # What of the dataset the file's format does not carry (an update keeps those fields).
    losses: list[Loss] = field(default_factory=list)


@dataclass
class ImportPlan:
    format: ImportFormat
    items: list[PlannedItem] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    source: Path | None = None

    def _count(self, *actions: Action) -> int:
        return sum(1 for item in self.items if item.action in actions)

    @property
    def new(self) -> int:
        """Datasets the commit would create (new ids and copies)."""
        return self._count("create", "copy")

    @property
    def changed(self) -> int:
        return self._count("update")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def skipped(self) -> int:
        return self._count("skip")

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    copied: int
    skipped: int
    unchanged: int
    # What the commit wrote, for the window's Undo ("import of 2 datasets").
    step: Step = field(compare=False, repr=False)


def plan_import(
    database: Database,
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    on_existing: OnExisting = OnExisting.SKIP,
    progress: Progress = NO_PROGRESS,
) -> ImportPlan:
    """Read `path`, check every dataset in it against the catalogue, and say what a commit
    would do. Writes nothing. ImportRejected if the file as a whole cannot be read;
    problems with single rows are in `plan.errors`."""
    with cyclic_gc_paused():
        return _plan(database, path, mapping, on_existing, progress)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while a file is planned or committed: planning makes
    millions of dicts and lists, none in a cycle, and each full collection walks all the
    records held so far (a quarter of the time of a 100,000-row plan, and of its commit, which
    makes as many rows). Whatever cycles they leave are collected when it is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan(
    database: Database,
    path: Path,
    mapping: Mapping[str, str] | None,
    on_existing: OnExisting,
    progress: Progress,
) -> ImportPlan:
    import_format = detect_format(path)
    plan = ImportPlan(format=import_format, source=path)
    for chunk in plan_chunks(database, path, import_format, mapping, on_existing, progress):
        plan.items.extend(chunk.items)
        plan.errors.extend(chunk.errors)
    return plan


@dataclass
class PlannedChunk:
    """Part of a plan, as `plan_chunks` makes it. The first chunk plans no dataset: it has
    the errors of reading the file, and `total`, how many datasets the file holds."""

    items: list[PlannedItem]
    errors: list[RowError]
    total: int = 0


def plan_chunks(
    database: Database,
    path: Path,
    import_format: ImportFormat,
    mapping: Mapping[str, str] | None,
    on_existing: OnExisting,
    progress: Progress = NO_PROGRESS,
) -> Iterator[PlannedChunk]:
    """The plan of `path` a chunk of datasets at a time, in the file's order, after a first
    chunk that says how many the file has (see PlannedChunk)."""
    items, orphans = read_source(path, import_format, mapping=mapping, progress=progress)
    total = len(items)
    yield PlannedChunk([], list(orphans), total)
    # Taken from the end as they are planned, so the file's records and the planned ones are
    # not both held for the whole file.
    items.reverse()
    done = 0
    with database.read() as session:
        planner = _Planner(session, on_existing)
        planner.file_ids = {str(i.record["id"]) for i in items if i.record.get("id")}
        while items:
            chunk = [items.pop() for _ in range(min(_STEP, len(items)))]
            planner.prefetch(chunk)
            planned = PlannedChunk([], [], total)
            for item in chunk:
                planned.items.extend(planner.plan(item, planned.errors))
            done += len(chunk)
            progress.report(done, total)
            session.expunge_all()
            yield planned


class _Planner:
    def __init__(self, session: Session, on_existing: OnExisting) -> None:
        self.session = session
        self.on_existing = on_existing
        self.now = now_iso()
        self.teams = set(session.scalars(select(Team.id)))
        self.users = set(session.scalars(select(User.id)))
        self.seen: dict[str, int] = {}  # dataset id in the file -> its row
        self.file_ids: set[str] = set()  # every id the file names: a new id must be none
        self.taken: set[str] = set()  # ids the plan will create
        self.existing: dict[str, Dataset] = {}
        self.reported: set[str] = set()  # the current item's paths with a type error

    def prefetch(self, items: list[SourceItem]) -> None:
        """Load the datasets a chunk of items names, in a few queries rather than one each."""
        ids = {item.record["id"] for item in items if isinstance(item.record.get("id"), str)}
        wanted = select(Dataset).where(Dataset.id.in_(ids)).options(*RECORD_LOAD)
        found = self.session.scalars(wanted)
        self.existing = {dataset.id: dataset for dataset in found}

    def plan(self, item: SourceItem, errors: list[RowError]) -> list[PlannedItem]:
        errors.extend(item.errors)
        if item.errors and not item.record:
            return []  # nothing was read: its errors say why
        record, found = check_shape(item.record)
        problems = {".".join(path): message for path, message in found.items()}
        for path, message in problems.items():
            errors.append(RowError(*item_location(item, path), message))
        # The item is this plan's own (read for it): it takes the shaped record, in place
        # rather than copied (a plan of 100,000 datasets makes as many).
        item.record, item.errors = record, []
        self.reported = set(problems)
        planned = self._plan(item, errors)
        # What the format cannot carry, said as the server and sync say it (mappings): the
        # fields this file did not hold (a file may hold more than its format must).
        carriage = item.carriage
        absent = [key for key in record_fields() if key not in record] if carriage else []
        for entry in planned:
            lost = carriage.losses(entry.record, keys=absent) if carriage else []
            entry.losses = [*item.losses, *lost]
        # An item with any error is reported, never planned: the commit refuses the plan.
        return [] if problems else planned

    def _plan(self, item: SourceItem, errors: list[RowError]) -> list[PlannedItem]:
        record = item.record
        dataset_id = str(record.get("id") or "")
        if dataset_id:
            first = self.seen.get(dataset_id)
            if first is not None:
                errors.append(
                    RowError(
                        item.row, _column(item, "id"), f"id {dataset_id} is also in row {first}"
                    )
                )
                return []
            self.seen[dataset_id] = item.row
        existing = self._existing(dataset_id) if dataset_id else None
        if existing is not None and self.on_existing is OnExisting.SKIP:
            return [PlannedItem(item.row, dataset_id, "skip", record, [], existing.version)]
        if existing is not None and self.on_existing is OnExisting.UPDATE:
            return self._update(item, existing, errors)
        action: Action = "copy" if existing is not None else "create"
        return self._create(item, action, errors)

    def _existing(self, dataset_id: str) -> Dataset | None:
        if dataset_id in self.taken:
            return None
        return self.existing.get(dataset_id)

    def _create(
        self, item: SourceItem, action: Action, errors: list[RowError]
    ) -> list[PlannedItem]:
        record = dict(item.record)  # check_shape built it afresh: ours to change
        # descriptionText is derived from the description; updatedAt is kept on a create.
        record.pop("descriptionText", None)
        if action == "copy" or not record.get("id"):
            record["id"] = self._new_id()
            if action == "copy":
                # A copy is a new dataset: it starts its own life now.
                record.pop("createdAt", None)
                record.pop("updatedAt", None)
        # The fields the file leaves out are empty: stored_record's canonical form fills them.
        full = record
        for key in ("createdAt", "updatedAt"):
            full[key] = record.get(key) or self.now
        _fill_child_orders(full)
        full = stored_record(full)
        if not self._valid(item, full, errors):
            return []
        self.taken.add(full["id"])
        changes = sorted(full.keys() - DERIVED_KEYS)
        return [PlannedItem(item.row, full["id"], action, full, changes)]

    def _update(
        self, item: SourceItem, existing: Dataset, errors: list[RowError]
    ) -> list[PlannedItem]:
        before = dataset_to_record(existing)
        record = dict(item.record)  # check_shape built it afresh: ours to change
        text = record.pop("descriptionText", None)
        if text is not None and _same_text(before, text):
            record.pop("description", None)
        record.pop("updatedAt", None)
        for key in item.unordered:
            if key in record and _same_set(record[key], before.get(key)):
                record[key] = before[key]
        problems = False
        for key in sorted(CATALOGUE_KEYS & set(record)):
            if record[key] != before[key] and not (key == "site" and not record[key]):
                errors.append(
                    RowError(
                        item.row,
                        _column(item, key),
                        f"cannot be changed (it is {before[key]!r} in the catalogue)",
                    )
                )
                problems = True
            record.pop(key)
        merged = _merge(before, record)
        _fill_child_orders(merged)
        merged = stored_record(merged)
        if not self._valid(item, merged, errors) or problems:
            return []
        changes = changed_keys(before, merged)
        action: Action = "update" if changes else "unchanged"
        return [PlannedItem(item.row, existing.id, action, merged, changes, existing.version)]

    def _valid(self, item: SourceItem, record: Record, errors: list[RowError]) -> bool:
        problems: dict[str, str] = {}
        try:
            validate_record(record)
        except ValidationFailed as failure:
            problems.update(failure.errors)
        unknown = unknown_people(record, self.users, self.teams)
        if "team" in unknown:  # a file names the owner team by its id here
            unknown["team"] = f"no team with id {record['team']!r} in this catalogue"
        for key, message in unknown.items():
            # A user list that failed validation keeps that message: its ids are not users.
            if key in ("collaborators", "readusers") and key in problems:
                continue
            problems[key] = message
        for path, message in problems.items():
            if path not in self.reported:  # a field dropped for its type is missing now
                errors.append(RowError(*item_location(item, path), message))
        return not problems

    def _new_id(self) -> str:
        while True:
            candidate = datasets.random_id(5)
            if candidate in self.taken or candidate in self.file_ids:
                continue
            if self.session.scalar(select(Dataset.pk).where(Dataset.id == candidate)) is None:
                return candidate


def _same_text(before: Record, text: str) -> bool:
    """Whether plain `text` is the stored description's (or, for none, the title our DCAT
    export writes in its place)."""
    stored = before.get("descriptionText") or ""
    return " ".join(text.split()) == stored or (not stored and text == before.get("title"))


def _same_set(new: object, old: object) -> bool:
    if not isinstance(new, list) or not isinstance(old, list):
        return False
    try:
        return set(new) == set(old) and len(new) == len(old)
    except TypeError:  # unhashable items: the shape check reports them
        return False


def item_location(item: SourceItem, path: str) -> tuple[int, str]:
    """Where the person finds the field `path` (e.g. `resources.k93.url`): its row and column.

    A table names its columns and the rows of its children (`SourceItem.columns`,
    `locations`); a field it does not name is reported by its path, on the item's row."""
    parts = path.split(".")
    row, sheet = item.row, ""
    if parts[0] in _CHILDREN and len(parts) > 1:
        child = item.locations.get(f"{parts[0]}.{parts[1]}")
        if child is not None:
            row, sheet = child
            # The child's field without its id: resources.k93.size -> resources.size.
            parts = [parts[0], *(parts[2:] or ["id"])]
    for end in range(len(parts), 0, -1):
        column = item.columns.get(".".join(parts[:end]))
        if column is not None:
            return row, f"{sheet}!{column}" if sheet else column
    return row, path


def _column(item: SourceItem, key: str) -> str:
    return item_location(item, key)[1]


def _merge(before: Record, record: Record) -> Record:
    """The dataset after an update: the record's keys over the stored ones.

    Licence and contact merge field by field (a spreadsheet may map only the licence's title);
    a resource or link keeps the stored fields the format does not carry (e.g. a resource's
    origin), by its id."""
    merged = {**before, **record}
    for key in _PARTIAL_OBJECTS:
        if key in record and isinstance(record[key], dict) and isinstance(before.get(key), dict):
            merged[key] = {**before[key], **record[key]}
    for key in _CHILDREN:
        new = record.get(key)
        old = before.get(key) or {}
        if isinstance(new, dict):
            merged[key] = {
                child_id: _merge_child(old[child_id], child) if child_id in old else child
                for child_id, child in new.items()
            }
    return merged


def _merge_child(old: Record, new: Record) -> Record:
    """A child's stored fields with those the file gives over them; in `qa` and `timeFrame`
    too (a bound given as None clears it, one not given stays)."""
    merged = {**old, **new}
    for key in ("qa", "timeFrame"):
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            merged[key] = {**old[key], **new[key]}
    return merged


def _fill_child_orders(record: Record) -> None:
    """A format without explicit orders (lists) gives each child its list position."""
    for key in _CHILDREN:
        children = record.get(key)
        if not isinstance(children, dict):
            continue
        for position, child in enumerate(children.values()):
            if isinstance(child, dict) and child.get("order") is None:
                child["order"] = position


# -- commit ----------------------------------------------------------------------------------


def commit_import(
    database: Database, plan: ImportPlan, *, author: str, progress: Progress = NO_PROGRESS
) -> ImportSummary:
    """Write `plan` in one transaction. ValidationFailed if it has errors; StaleEdit if a
    dataset it updates (or found unchanged) changed since, or an id it creates was taken."""
    if not plan.ok:
        raise ValidationFailed(
            {f"row {e.row}, {e.column}": e.message for e in plan.errors[:20]}, subject="import"
        )
    total = len(plan.items)
    progress.report(0, total)
    with (
        cyclic_gc_paused(),  # as for the plan: a quarter of a 100,000-row commit otherwise
        database.transaction() as session,
        indexes_rebuilt_after(session.connection(), plan.new),
    ):
        writer = ChunkWriter(session, author)
        for start in range(0, total, _STEP):
            writer.write(plan.items[start : start + _STEP])
            progress.report(min(start + _STEP, total), total)
        # A cancel after the last report still rolls everything back.
        progress.report(total, total)
    return writer.summary()


class ChunkWriter:
    """A plan's items written a chunk at a time, in the caller's transaction; what was
    written counted, for the summary and its undo step."""

    def __init__(self, session: Session, author: str) -> None:
        self.session = session
        self.author = author
        self.counts: dict[Action, int] = dict.fromkeys(get_args(Action), 0)
        self.edits: list[Edit] = []

    def write(self, chunk: list[PlannedItem]) -> None:
        self.edits.extend(_commit_chunk(self.session, chunk, self.author))
        for item in chunk:
            self.counts[item.action] += 1
        # Written: the objects need not stay in the session (a pending one would be lost).
        self.session.flush()
        self.session.expunge_all()

    def summary(self) -> ImportSummary:
        counts = self.counts
        return ImportSummary(
            created=counts["create"],
            updated=counts["update"],
            copied=counts["copy"],
            skipped=counts["skip"],
            unchanged=counts["unchanged"],
            step=Step("import", tuple(self.edits)),
        )


def _commit_chunk(session: Session, chunk: list[PlannedItem], author: str) -> list[Edit]:
    """The chunk's items in order, its runs of new datasets each by one create_datasets; the
    datasets written, for the undo step."""
    edits: list[Edit] = []
    for creating, run in itertools.groupby(chunk, key=lambda i: i.action in ("create", "copy")):
        items = list(run)
        if not creating:
            for item in items:
                edit = _commit_change(session, item, author)
                if edit is not None:
                    edits.append(edit)
            continue
        taken = datasets.taken_ids(session, [item.dataset_id for item in items])
        if taken:
            raise StaleEdit(
                f"Dataset {min(taken)} was created since the import was planned; "
                "plan the import again"
            )
        # Each record was validated, in its stored form, when the plan was made.
        created = datasets.create_datasets(
            session, [item.record for item in items], author=author, action="import", validated=True
        )
        edits.extend(Edit(new.record["id"], None, new.record, new.version) for new in created)
    return edits


def _commit_change(session: Session, item: PlannedItem, author: str) -> Edit | None:
    """An update, a skip or an unchanged dataset: each checks the version it was planned at.
    The update's edit, None for the others."""
    if item.action == "skip":
        return None
    version = session.scalar(select(Dataset.version).where(Dataset.id == item.dataset_id))
    if version is None or version != item.version:
        raise StaleEdit(
            f"Dataset {item.dataset_id} changed since the import was planned; plan it again"
        )
    if item.action != "update":
        return None
    before = datasets.get_record(session, item.dataset_id)
    after = datasets.update_dataset(
        session,
        item.dataset_id,
        item.record,
        author=author,
        expected_version=item.version,
        action="import",
    )
    version = session.scalar(select(Dataset.version).where(Dataset.id == item.dataset_id))
    if version == item.version:  # nothing differed in stored form: no version was written
        return None
    return Edit(item.dataset_id, before, after, version)


def describe(plan: ImportPlan) -> str:
    """The preview in one line, as the CLI and the GUI show it."""
    parts = [f"{plan.new} new", f"{plan.changed} changed", f"{plan.unchanged} unchanged"]
    if plan.skipped:
        parts.append(f"{plan.skipped} skipped")
    parts.append(f"{len(plan.errors)} error{'s' if len(plan.errors) != 1 else ''}")
    return ", ".join(parts)


__all__ = [
    "ChunkWriter",
    "ImportPlan",
    "ImportSummary",
    "PlannedChunk",
    "PlannedItem",
    "commit_import",
    "cyclic_gc_paused",
    "describe",
    "plan_chunks",
    "plan_import",
]
