"""The canonical dataset record: the DataPress dataset JSON of seed 002, plus publication state.

Everything that reads or writes a whole dataset goes through these two functions: the form, the
history snapshots, JSON Patch, import and sync. Extra keys beyond seed 002: ``state`` (draft or
published) and ``embargoUntil`` (ISO date or null).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Dataset, Link, Resource, Team, User
from app.services.errors import ValidationFailed
from app.services.record.canonical import canonical_field, canonical_value
from app.services.record.fields import DATASET, DERIVED_KEYS, Kind, SetBy
from app.services.text import html_to_text, slugify

Record = dict[str, Any]

# What dataset_to_record reads: load it with the datasets (one query per relation, not per row).
RECORD_LOAD = (
    selectinload(Dataset.resources),
    selectinload(Dataset.links),
    selectinload(Dataset.collaborators),
    selectinload(Dataset.read_users),
    selectinload(Dataset.read_teams),
)


def resource_to_dict(resource: Resource) -> Record:
    return {
        "url": resource.url,
        "order": resource.position,
        "title": resource.title,
        "description": resource.description,
        "filename": resource.filename,
        "timeFrame": _drop_none({"gte": resource.time_from, "lte": resource.time_to}),
        "format": resource.format,
        "hash": resource.hash,
        "size": resource.size,
        "timestamp": resource.timestamp,
        "origin": resource.origin,
    }


class LinkFields(Protocol):
    """A stored link: the ORM row, or the export query's frozen row."""

    @property
    def url(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def qa_timestamp(self) -> str | None: ...
    @property
    def qa_hash(self) -> str | None: ...
    @property
    def qa_size(self) -> int | None: ...
    @property
    def qa_mimetype(self) -> str | None: ...
    @property
    def qa_http_status(self) -> int | None: ...


def link_to_dict(link: LinkFields) -> Record:
    return {
        "url": link.url,
        "order": link.position,
        "title": link.title,
        "description": link.description,
        "qa": {
            "timestamp": link.qa_timestamp,
            "hash": link.qa_hash,
            "size": link.qa_size,
            "mimetype": link.qa_mimetype,
            "httpStatus": link.qa_http_status,
        },
    }


# The access lists: record key -> the dataset's relation (users or teams, by id).
_ACCESS = {"collaborators": "collaborators", "readusers": "read_users", "readteams": "read_teams"}
# The fields stored in the dataset's own columns, each as (key, column attribute): an object's
# parts have one column each (`licence_url`), named after the key in snake case.
_SCALARS = tuple(
    f for f in DATASET if f.kind not in (Kind.OBJECT, Kind.CHILDREN) and f.name not in _ACCESS
)
_OBJECTS = tuple(f for f in DATASET if f.kind is Kind.OBJECT)


def column_name(key: str) -> str:
    """The model's attribute for a record key: `nextReviewDate` -> `next_review_date`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


SCALAR_COLUMNS = tuple((f.name, column_name(f.name), f) for f in _SCALARS)
OBJECT_COLUMNS = tuple(
    (f.name, tuple((p.name, column_name(f"{f.name}_{p.name}")) for p in f.parts)) for f in _OBJECTS
)


def dataset_to_record(dataset: Dataset) -> Record:
    """The full seed-002 JSON of one dataset, in the field table's order."""
    record: Record = {}
    for key, attribute, field in SCALAR_COLUMNS:
        value = getattr(dataset, attribute)
        if field.is_list:
            value = list(value or [])
        elif field.kind is Kind.CUSTOM:
            value = dict(value or {})
        record[key] = value
    for key, parts in OBJECT_COLUMNS:
        record[key] = {part: getattr(dataset, attribute) for part, attribute in parts}
    record["resources"] = {r.rid: resource_to_dict(r) for r in dataset.resources}
    record["links"] = {link.lid: link_to_dict(link) for link in dataset.links}
    for key, relation in _ACCESS.items():
        record[key] = [member.id for member in getattr(dataset, relation)]
    return record


@dataclass(frozen=True, slots=True)
class People:
    """The users and teams some records name, loaded in one query each: a batch of records
    resolves its access lists without a query per record."""

    users: dict[Any, User]
    teams: dict[str, Team]

    @classmethod
    def load(cls, session: Session, records: Iterable[Record]) -> People:
        user_ids, team_ids = people_named(records)
        users: Iterable[User] = (
            session.scalars(select(User).where(User.id.in_(user_ids))) if user_ids else ()
        )
        teams: Iterable[Team] = (
            session.scalars(select(Team).where(Team.id.in_(team_ids))) if team_ids else ()
        )
        return cls({u.id: u for u in users}, {t.id: t for t in teams})


def people_named(records: Iterable[Record]) -> tuple[set[Any], set[str]]:
    """The user ids and team ids `records` name (access lists and owner team)."""
    user_ids: set[Any] = set()
    team_ids: set[str] = set()
    for record in records:
        user_ids.update(record.get("collaborators") or [])
        user_ids.update(record.get("readusers") or [])
        team_ids.update(record.get("readteams") or [])
        if record.get("team"):
            team_ids.add(record["team"])
    return user_ids, team_ids


def unknown_people(record: Record, users: Container[Any], teams: Container[str]) -> dict[str, str]:
    """What `record` names that is not among `users` and `teams`, by field."""
    errors: dict[str, str] = {}
    if record.get("team") and record["team"] not in teams:
        errors["team"] = f"unknown team id: {record['team']}"
    for key in ("collaborators", "readusers"):
        missing = [uid for uid in record.get(key) or [] if uid not in users]
        if missing:
            errors[key] = f"unknown user id(s): {', '.join(map(str, missing))}"
    missing_teams = [tid for tid in record.get("readteams") or [] if tid not in teams]
    if missing_teams:
        errors["readteams"] = f"unknown team id(s): {', '.join(missing_teams)}"
    return errors


def apply_record(
    session: Session, dataset: Dataset, record: Record, people: People | None = None
) -> None:
    """Write a validated record onto a dataset row (resources and links included). `people`:
    the users and teams the record names, if the caller loaded them for a batch."""
    for key, attribute, field in SCALAR_COLUMNS:
        if field.set_by is SetBy.USER:
            setattr(dataset, attribute, canonical_value(field, record.get(key)))
    for key, parts in OBJECT_COLUMNS:
        value = canonical_field(key, record.get(key))
        for part, attribute in parts:
            setattr(dataset, attribute, value[part])
    dataset.slug = slugify(dataset.title)
    dataset.description_text = html_to_text(dataset.description)
    if record.get("site") is not None and not dataset.site:
        dataset.site = record["site"]
    _apply_access_lists(dataset, record, people or People.load(session, [record]))
    _apply_resources(dataset, record.get("resources") or {})
    _apply_links(dataset, record.get("links") or {})


def _apply_access_lists(dataset: Dataset, record: Record, people: People) -> None:
    users, teams = people.users, people.teams
    errors = unknown_people(record, users, teams)
    if errors:
        raise ValidationFailed(errors)
    dataset.collaborators = [users[uid] for uid in record.get("collaborators") or []]
    dataset.read_users = [users[uid] for uid in record.get("readusers") or []]
    dataset.read_teams = [teams[tid] for tid in record.get("readteams") or []]


def _apply_resources(dataset: Dataset, resources: dict[str, Record]) -> None:
    existing = {r.rid: r for r in dataset.resources}
    kept: list[Resource] = []
    for rid, data in resources.items():
        resource = existing.get(rid) or Resource(rid=rid)
        time_frame = data.get("timeFrame") or {}
        resource.position = int(data.get("order") or 0)
        resource.title = data.get("title") or ""
        resource.description = data.get("description") or ""
        resource.url = data.get("url") or ""
        resource.filename = data.get("filename") or None
        resource.time_from = time_frame.get("gte") or None
        resource.time_to = time_frame.get("lte") or None
        resource.format = data.get("format") or None
        resource.hash = data.get("hash") or None
        resource.size = data.get("size")
        resource.timestamp = data.get("timestamp") or None
        resource.origin = data.get("origin") or None
        kept.append(resource)
    dataset.resources = sorted(kept, key=lambda r: r.position)


def _apply_links(dataset: Dataset, links: dict[str, Record]) -> None:
    existing = {link.lid: link for link in dataset.links}
    kept: list[Link] = []
    for lid, data in links.items():
        link = existing.get(lid) or Link(lid=lid)
        qa = data.get("qa") or {}
        link.position = int(data.get("order") or 0)
        link.title = data.get("title") or ""
        link.url = data.get("url") or ""
        link.description = data.get("description") or ""
        link.qa_timestamp = qa.get("timestamp")
        link.qa_hash = qa.get("hash")
        link.qa_size = qa.get("size")
        link.qa_mimetype = qa.get("mimetype")
        link.qa_http_status = qa.get("httpStatus")
        kept.append(link)
    dataset.links = sorted(kept, key=lambda link: link.position)


def changed_keys(before: Record, after: Record) -> list[str]:
    """Top-level keys whose values differ, the bookkeeping ones left out."""
    keys = (set(before) | set(after)) - DERIVED_KEYS
    return sorted(k for k in keys if before.get(k) != after.get(k))


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
