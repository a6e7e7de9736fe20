"""The rows every export and endpoint serializes: the one query helper behind all formats.

Datasets come through `visibility.visible_clause` only, in keyset batches on the immutable pk,
each batch with its resources, links and managed-list titles loaded by one IN query apiece. The
rows are frozen snapshots, detached from any session, so a serializer never touches the database
and a batch can cross threads. `iter_datasets` opens one short read session per batch: memory
stays flat for any catalogue size, and no session outlives a batch or is shared between the
threads a streaming response may hop across.

A walk in batches is not one snapshot: like the JSON-LD cursor (services.cursor), it sees every
dataset that stayed visible during the walk exactly once; one added or edited meanwhile appears
in its current state if its pk is still ahead of the walk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Text, bindparam, func, select, type_coerce
from sqlalchemy.orm import Session

from app.models import Dataset, Link, Masthead, Resource, Team, Topic
from app.models.database import Database
from app.services import datasets
from app.services import search as search_module
from app.services.clock import today_iso
from app.services.errors import CatalogueError, PermissionDenied
from app.services.records import Record, dataset_to_record
from app.services.visibility import READ, Principal, permissions_for, visible_clause

BATCH_SIZE = 500


class InvalidQuery(CatalogueError):
    """A query parameter (sort, start, rows, limit...) that cannot be served."""

    code = "invalid_query"


@dataclass(frozen=True, slots=True)
class Named:
    """A managed-list entry (topic, masthead, team) as exports show it: its id and its title."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ResourceRow:
    rid: str
    position: int
    title: str
    description: str
    url: str
    filename: str | None
    time_from: str | None
    time_to: str | None
    format: str | None
    hash: str | None
    size: int | None
    timestamp: str | None


@dataclass(frozen=True, slots=True)
class LinkRow:
    lid: str
    position: int
    title: str
    url: str
    description: str
    qa_timestamp: str | None
    qa_hash: str | None
    qa_size: int | None
    qa_mimetype: str | None
    qa_http_status: int | None


@dataclass(frozen=True, slots=True)
class DatasetRow:
    pk: int
    id: str
    title: str
    description: str
    description_text: str
    description_iframe: str | None
    masthead: Named | None
    tags: tuple[str, ...]
    topics: tuple[Named, ...]
    next_review_date: str | None
    licence_url: str | None
    licence_title: str | None
    contact_email: str | None
    contact_title: str | None
    custom: Mapping[str, str | list[str]]
    sharing: str
    team: Named | None
    state: str
    embargo_until: str | None
    created_at: str
    updated_at: str
    site: str
    resources: tuple[ResourceRow, ...]
    links: tuple[LinkRow, ...]


_DATASET_COLUMNS = (
    Dataset.pk,
    Dataset.id,
    Dataset.title,
    Dataset.description,
    Dataset.description_text,
    Dataset.description_iframe,
    Dataset.masthead,
    # The JSON columns as their stored text, decoded by `_json` (orjson) in build_rows.
    type_coerce(Dataset.tags, Text).label("tags"),
    type_coerce(Dataset.topics, Text).label("topics"),
    Dataset.next_review_date,
    Dataset.licence_url,
    Dataset.licence_title,
    Dataset.contact_email,
    Dataset.contact_title,
    type_coerce(Dataset.custom, Text).label("custom"),
    Dataset.sharing,
    Dataset.team,
    Dataset.state,
    Dataset.embargo_until,
    Dataset.created_at,
    Dataset.updated_at,
    Dataset.site,
)

_RESOURCE_COLUMNS = (
    Resource.dataset_pk,
    Resource.rid,
    Resource.position,
    Resource.title,
    Resource.description,
    Resource.url,
    Resource.filename,
    Resource.time_from,
    Resource.time_to,
    Resource.format,
    Resource.hash,
    Resource.size,
    Resource.timestamp,
)

_LINK_COLUMNS = (
    Link.dataset_pk,
    Link.lid,
    Link.position,
    Link.title,
    Link.url,
    Link.description,
    Link.qa_timestamp,
    Link.qa_hash,
    Link.qa_size,
    Link.qa_mimetype,
    Link.qa_http_status,
)

# Built once: the IN lists are expanding parameters, bound per batch (no per-value coercion).
_RESOURCES_OF = (
    select(*_RESOURCE_COLUMNS)
    .where(Resource.dataset_pk.in_(bindparam("pks", expanding=True)))
    .order_by(Resource.dataset_pk, Resource.position, Resource.pk)
)
_LINKS_OF = (
    select(*_LINK_COLUMNS)
    .where(Link.dataset_pk.in_(bindparam("pks", expanding=True)))
    .order_by(Link.dataset_pk, Link.position, Link.pk)
)
_TOPIC_TITLES = select(Topic.id, Topic.title).where(Topic.id.in_(bindparam("ids", expanding=True)))
_MASTHEAD_TITLES = select(Masthead.id, Masthead.title).where(
    Masthead.id.in_(bindparam("ids", expanding=True))
)
_TEAM_TITLES = select(Team.id, Team.title).where(Team.id.in_(bindparam("ids", expanding=True)))


def fetch_batch(
    session: Session,
    principal: Principal,
    *,
    after_pk: int = 0,
    limit: int = BATCH_SIZE,
    published_only: bool = False,
    today: str | None = None,
) -> list[DatasetRow]:
    """Up to `limit` datasets visible to `principal` with a pk above `after_pk`, by pk."""
    statement = (
        select(*_DATASET_COLUMNS)
        .where(visible_clause(principal, today, published_only=published_only))
        .where(Dataset.pk > after_pk)
        .order_by(Dataset.pk)
        .limit(limit)
    )
    return build_rows(session, session.connection().execute(statement).all())


def rows_by_pk(
    session: Session, principal: Principal, pks: Sequence[int], *, today: str | None = None
) -> list[DatasetRow]:
    """The rows of the datasets `pks` that exist and `principal` may see, by pk."""
    statement = (
        select(*_DATASET_COLUMNS)
        .where(Dataset.pk.in_(pks), visible_clause(principal, today))
        .order_by(Dataset.pk)
    )
    return build_rows(session, session.connection().execute(statement).all())


def iter_datasets(
    database: Database,
    principal: Principal,
    *,
    published_only: bool = False,
    after_pk: int = 0,
    batch_size: int = BATCH_SIZE,
) -> Iterator[DatasetRow]:
    """Every dataset visible to `principal`, by pk, one short read session per batch."""
    today = today_iso()
    while True:
        with database.read() as session:
            batch = fetch_batch(
                session,
                principal,
                after_pk=after_pk,
                limit=batch_size,
                published_only=published_only,
                today=today,
            )
        yield from batch
        if len(batch) < batch_size:
            return
        after_pk = batch[-1].pk


_Child = TypeVar("_Child", ResourceRow, LinkRow)


def _by_dataset(rows: Sequence[Sequence[Any]], make: type[_Child]) -> dict[int, list[_Child]]:
    """Child rows `(dataset_pk, *fields)` grouped by their dataset, in query order."""
    grouped: dict[int, list[_Child]] = {}
    for dataset_pk, *fields in rows:
        child = make(*fields)
        bucket = grouped.get(dataset_pk)
        if bucket is None:
            grouped[dataset_pk] = [child]
        else:
            bucket.append(child)
    return grouped


def build_rows(session: Session, rows: Sequence[Sequence[Any]]) -> list[DatasetRow]:
    """Snapshots of dataset rows (selected with `_DATASET_COLUMNS`), children and titles loaded
    in one query each.

    The children and titles are read as plain tuples through the session's connection (Core,
    not the ORM's result machinery): a batch builds only the frozen rows it returns."""
    if not rows:
        return []
    connection = session.connection()
    pks = [row[0] for row in rows]
    resources = _by_dataset(connection.execute(_RESOURCES_OF, {"pks": pks}).all(), ResourceRow)
    links = _by_dataset(connection.execute(_LINKS_OF, {"pks": pks}).all(), LinkRow)
    decoded = [(_json(row[7]), _json(row[8]), _json(row[14])) for row in rows]
    topic_ids: set[str] = set()
    masthead_ids: set[str] = set()
    team_ids: set[str] = set()
    for row, (_, topic_list, _) in zip(rows, decoded, strict=True):
        if topic_list:
            topic_ids.update(topic_list)
        if row[6]:
            masthead_ids.add(row[6])
        if row[16]:
            team_ids.add(row[16])
    topics = _titles(connection, _TOPIC_TITLES, topic_ids)
    mastheads = _titles(connection, _MASTHEAD_TITLES, masthead_ids)
    teams = _titles(connection, _TEAM_TITLES, team_ids)
    named: dict[tuple[int, str], Named] = {}

    def named_in(kind: int, titles: dict[str, str], key: str) -> Named:
        entry = named.get((kind, key))
        if entry is None:
            entry = named[(kind, key)] = Named(key, titles.get(key, key))
        return entry

    empty: tuple[Any, ...] = ()
    out: list[DatasetRow] = []
    append = out.append
    for (
        (
            pk,
            id_,
            title,
            description,
            description_text,
            description_iframe,
            masthead,
            _tags,
            _topics,
            next_review_date,
            licence_url,
            licence_title,
            contact_email,
            contact_title,
            _custom,
            sharing,
            team,
            state,
            embargo_until,
            created_at,
            updated_at,
            site,
        ),
        (tags, topic_list, custom),
    ) in zip(rows, decoded, strict=True):
        children = resources.get(pk)
        link_rows = links.get(pk)
        append(
            DatasetRow(
                pk,
                id_,
                title,
                description,
                description_text,
                description_iframe,
                named_in(0, mastheads, masthead) if masthead else None,
                tuple(tags) if tags else empty,
                tuple(named_in(1, topics, t) for t in topic_list) if topic_list else empty,
                next_review_date,
                licence_url,
                licence_title,
                contact_email,
                contact_title,
                dict(custom) if custom else {},
                sharing,
                named_in(2, teams, team) if team else None,
                state,
                embargo_until,
                created_at,
                updated_at,
                site,
                tuple(children) if children else empty,
                tuple(link_rows) if link_rows else empty,
            )
        )
    return out


def _json(value: Any) -> Any:
    """A JSON column's stored text as Python (what the JSON type would give, faster)."""
    if value is None or not isinstance(value, str | bytes):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:  # e.g. NaN or a huge integer: the standard library's reading
        return json.loads(value)


def _titles(connection: Any, statement: Any, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {key: title for key, title in connection.execute(statement, {"ids": sorted(ids)}).all()}


# -- one record (seed 002) -------------------------------------------------------------------


def readable_record(session: Session, principal: Principal, dataset_id: str) -> Record:
    """The full seed-002 record of one dataset: NotFound if it does not exist, PermissionDenied
    if `principal` may not read it (visibility.permissions_for decides)."""
    dataset = datasets.get_dataset(session, dataset_id)
    if not permissions_for(session, principal, dataset) & READ:
        raise PermissionDenied(f"You may not read dataset {dataset_id}")
    return dataset_to_record(dataset)


# -- search (CKAN package_search) --------------------------------------------------------------

SORT_FIELDS: dict[str, Any] = {
    "metadata_modified": Dataset.updated_at,
    "metadata_created": Dataset.created_at,
    "title_string": Dataset.title,
    "title": Dataset.title,
    "name": Dataset.id,
    "id": Dataset.id,
}
DEFAULT_SORT = "score desc, metadata_modified desc"


@dataclass(frozen=True, slots=True)
class SearchPage:
    count: int
    sort: str
    rows: list[DatasetRow]


def search(
    session: Session,
    principal: Principal,
    *,
    q: str = "",
    sort: str = DEFAULT_SORT,
    start: int = 0,
    rows: int = 10,
) -> SearchPage:
    """One page of the datasets visible to `principal` that match `q` (services.search: every
    word the beginning of a word of the id, title, description or tags; `*:*` and blank match
    everything). `sort` is CKAN's "field dir, field dir" over score, metadata_modified,
    metadata_created, title_string and name.
    """
    if start < 0 or rows < 0:
        raise InvalidQuery("start and rows must not be negative")
    query = search_module.terms(q)
    visible = visible_clause(principal)
    counting = (
        select(func.count())
        .select_from(Dataset)
        .where(visible, search_module.matches(session, query))
    )
    page = select(*_DATASET_COLUMNS).where(visible)
    statement, score = search_module.ranked(session, page, query)
    statement = statement.order_by(*_order_by(sort, score)).offset(start).limit(rows)
    return SearchPage(
        count=session.scalar(counting) or 0,
        sort=sort,
        rows=build_rows(session, session.connection().execute(statement).all()),
    )


def _order_by(sort: str, score: ColumnElement[float] | None) -> list[Any]:
    order: list[Any] = []
    for part in sort.split(","):
        words = part.split()
        if not words:
            continue
        field = words[0]
        direction = words[1].lower() if len(words) > 1 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise InvalidQuery(f"Cannot sort by {part.strip()!r}: use 'field asc' or 'field desc'")
        if field == "score":
            if score is not None:
                order.append(score.desc() if direction == "desc" else score.asc())
            continue
        if field not in SORT_FIELDS:
            known = ", ".join(["score", *SORT_FIELDS])
            raise InvalidQuery(f"Unknown sort field {field!r}: use one of {known}")
        column_ = SORT_FIELDS[field]
        order.append(column_.desc() if direction == "desc" else column_.asc())
    order.append(Dataset.pk.asc())
    return order
