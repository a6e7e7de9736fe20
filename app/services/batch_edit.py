"""Batch edit: one change applied to many datasets at once, as calibre's bulk metadata edit.

A `BatchChange` says what to do to every dataset: publish or unpublish, add or remove tags and
topics, set the team, the licence, the contact or the embargo date. `preview` reads what it
would do, dataset by dataset (which fields, before -> after, or why a dataset would be refused),
and the version each dataset had; `apply` then writes it in the caller's transaction, each
dataset with that version expected. If any dataset was changed since the preview (StaleEdit) or
is refused (BatchInvalid, per dataset), the caller's transaction rolls back and nothing is
written. The `Step` it returns (services.undoable) lets one undo reverse the whole batch.

No Qt here: the dialog (views.batch_edit_dialog) runs these through the operation API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Team
from app.services import datasets
from app.services.errors import NotFound, StaleEdit, ValidationFailed
from app.services.record.fields import label
from app.services.records import Record
from app.services.undoable import Edit, Step
from app.services.validation import is_iso_date, validate_record

StateChange = Literal["publish", "unpublish"]
# The fields a batch edit may change, in the order the preview lists them.
FIELDS = ("state", "tags", "topics", "team", "licence", "contact", "embargoUntil")


@dataclass(frozen=True)
class BatchChange:
    """What to do to each dataset. The `set_*` values are applied only when given (not None);
    to clear the team or the embargo, pass "" (stored as none)."""

    state: StateChange | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    add_topics: tuple[str, ...] = ()
    remove_topics: tuple[str, ...] = ()
    set_team: str | None = None
    set_licence: Mapping[str, str] | None = None  # {"url": ..., "title": ...}
    set_contact: Mapping[str, str] | None = None  # {"email": ..., "title": ...}
    set_embargo: str | None = None  # YYYY-MM-DD, or "" to lift it

    def is_empty(self) -> bool:
        return self == BatchChange()

    def problems(self) -> dict[str, str]:
        """What is wrong with the change itself, whatever the datasets."""
        errors: dict[str, str] = {}
        if self.set_embargo and not is_iso_date(self.set_embargo):
            errors["embargoUntil"] = "must be a date, YYYY-MM-DD"
        for key, values in (("tags", self.add_tags + self.remove_tags),
                            ("topics", self.add_topics + self.remove_topics)):  # fmt: skip
            if any(not value.strip() for value in values):
                errors[key] = "an empty name cannot be added or removed"
        return errors


@dataclass(frozen=True)
class FieldChange:
    key: str
    before: Any
    after: Any

    @property
    def label(self) -> str:
        return label(self.key)


@dataclass(frozen=True)
class DatasetPreview:
    """What the batch does to one dataset: its changes, or why it is refused."""

    dataset_id: str
    title: str
    version: int
    changes: tuple[FieldChange, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def content(self) -> Record:
        return {change.key: change.after for change in self.changes}


@dataclass(frozen=True)
class Preview:
    datasets: tuple[DatasetPreview, ...]

    @property
    def changing(self) -> tuple[DatasetPreview, ...]:
        return tuple(item for item in self.datasets if item.changes and not item.errors)

    @property
    def refused(self) -> tuple[DatasetPreview, ...]:
        return tuple(item for item in self.datasets if item.errors)

    @property
    def unchanged(self) -> int:
        return sum(1 for item in self.datasets if not item.changes and not item.errors)

    def expected_versions(self) -> dict[str, int]:
        return {item.dataset_id: item.version for item in self.changing}


class BatchInvalid(ValidationFailed):
    """Some datasets would be invalid after the batch: nothing was written.
    `per_dataset` maps each refused dataset's id to its field errors."""

    def __init__(self, per_dataset: dict[str, dict[str, str]]) -> None:
        flat = {
            f"{dataset_id} {path}": message
            for dataset_id, errors in per_dataset.items()
            for path, message in errors.items()
        }
        super().__init__(flat, subject=f"batch edit ({len(per_dataset):,} datasets refused)")
        self.per_dataset = per_dataset


def _merged(values: Sequence[str], add: Sequence[str], remove: Sequence[str]) -> list[str]:
    """`values` with `add` appended (each once) and `remove` taken out, order kept."""
    gone = {value.strip() for value in remove}
    kept = [value for value in values if value not in gone]
    for value in add:
        value = value.strip()
        if value not in kept and value not in gone:
            kept.append(value)
    return kept


def new_content(record: Record, change: BatchChange) -> Record:
    """The fields `change` sets on `record`, only those whose value differs."""
    content: Record = {}
    state = {"publish": "published", "unpublish": "draft"}.get(change.state or "")
    if state is not None:
        content["state"] = state
    if change.add_tags or change.remove_tags:
        content["tags"] = _merged(record.get("tags") or [], change.add_tags, change.remove_tags)
    if change.add_topics or change.remove_topics:
        topics = record.get("topics") or []
        content["topics"] = _merged(topics, change.add_topics, change.remove_topics)
    if change.set_team is not None:
        content["team"] = change.set_team or None
    if change.set_licence is not None:
        content["licence"] = {"url": "", "title": "", **dict(change.set_licence)}
    if change.set_contact is not None:
        content["contact"] = {"email": "", "title": "", **dict(change.set_contact)}
    if change.set_embargo is not None:
        content["embargoUntil"] = change.set_embargo or None
    return {key: value for key, value in content.items() if record.get(key) != value}


def _team_exists(session: Session, team: str | None) -> bool:
    return team is None or session.scalar(select(Team.id).where(Team.id == team)) is not None


def preview_one(session: Session, dataset_id: str, change: BatchChange) -> DatasetPreview:
    dataset = datasets.get_dataset(session, dataset_id)
    record = datasets.get_record(session, dataset_id)
    content = new_content(record, change)
    errors = dict(change.problems())
    if "team" in content and not _team_exists(session, content["team"]):
        errors["team"] = f"no team {content['team']!r}"
    if content and not errors:
        try:
            validate_record({**record, **content})
        except ValidationFailed as error:
            errors.update(error.errors)
    changes = tuple(
        FieldChange(key, record.get(key), content[key]) for key in FIELDS if key in content
    )
    title = str(record.get("title") or dataset_id)
    return DatasetPreview(dataset_id, title, dataset.version, changes, errors)


def preview(session: Session, dataset_ids: Sequence[str], change: BatchChange) -> Preview:
    """What `change` would do to each of `dataset_ids` (those deleted since are left out)."""
    items = []
    for dataset_id in dataset_ids:
        try:
            items.append(preview_one(session, dataset_id, change))
        except NotFound:
            continue
    return Preview(tuple(items))


def apply(
    session: Session, expected: Mapping[str, int], change: BatchChange, *, author: str
) -> Step:
    """Write `change` to the datasets of `expected` (id -> version seen in the preview).

    StaleEdit if one changed since; BatchInvalid (every refused dataset) if any would be
    invalid. Either way the caller's transaction must roll back: nothing is half-written.
    """
    edits: list[Edit] = []
    refused: dict[str, dict[str, str]] = {}
    for dataset_id, version in expected.items():
        dataset = datasets.get_dataset(session, dataset_id)
        if dataset.version != version:
            raise StaleEdit(
                f"“{dataset.title}” was changed since the preview (version {dataset.version}, "
                f"previewed {version}). Nothing was changed: preview again."
            )
        item = preview_one(session, dataset_id, change)
        if item.errors:
            refused[dataset_id] = item.errors
            continue
        if not item.changes or refused:
            continue  # once one is refused, nothing more is written (it all rolls back)
        before = datasets.get_record(session, dataset_id)
        try:
            after = datasets.update_dataset(
                session, dataset_id, item.content, author=author, expected_version=version
            )
        except ValidationFailed as error:
            refused[dataset_id] = error.errors
            continue
        edits.append(
            Edit(dataset_id, before, after, datasets.get_dataset(session, dataset_id).version)
        )
    if refused:
        raise BatchInvalid(refused)
    return Step("batch edit", tuple(edits))
