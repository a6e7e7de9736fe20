"""The rows every export and endpoint serializes: the one query helper behind all formats.

Datasets come through `visibility.visible_clause` only, in keyset batches on the immutable pk,
each batch with its resources, links and managed-list titles loaded by one query apiece (the
children by the span of the batch's pks where it is dense, else by an IN list). The rows are
immutable named tuples built straight from the fetched tuples (a frozen dataclass's __init__
costs several times more, and a cold dump builds a row per dataset), detached from any session,
so a serializer never touches the database and a batch can cross threads. `iter_datasets` opens
one short read session per batch: memory stays flat for any catalogue size, and no session
outlives a batch or is shared between the threads a streaming response may hop across.

The datasets table shows only how many resources and links a dataset has: `summaries_by_pk`
counts them instead of reading them (reading the resources costs more than the rest of a row).

A walk in batches is not one snapshot: like the JSON-LD cursor (services.cursor), it sees every
dataset that stayed visible during the walk exactly once; one added or edited meanwhile appears
in its current state if its pk is still ahead of the walk.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import (
    Connection,
    Integer,
    Text,
    bindparam,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import BindParameter

from app.models import Dataset, Link, Masthead, Resource, Team, Topic
from app.models.database import Database
from app.services import datasets
from app.services.clock import today_iso
from app.services.errors import CatalogueError, PermissionDenied
from app.services.mappings.datapress import for_reader
from app.services.permissions import Permission
from app.services.records import Record, dataset_to_record
from app.services.visibility import READ, Principal, permissions_for, visible_clause

BATCH_SIZE = 500


class InvalidQuery(CatalogueError):
    """A query parameter (sort, start, rows, limit...) that cannot be served."""

    code = "invalid_query"


class Named(NamedTuple):
    """A managed-list entry (topic, masthead, team) as exports show it: its id and its title."""

    id: str
    title: str


class ResourceRow(NamedTuple):
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


class LinkRow(NamedTuple):
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


class DatasetRow(NamedTuple):
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
    changed_at: str  # when this catalogue last changed it (services.catalogue_version)
    resources: tuple[ResourceRow, ...]
    links: tuple[LinkRow, ...]

    @property
    def resource_count(self) -> int:
        return len(self.resources)

    @property
    def link_count(self) -> int:
        return len(self.links)


class DatasetSummary(NamedTuple):
    """A dataset as the datasets table shows it: DatasetRow's fields up to `site`, then only how
    many resources and links it has (reading those children costs more than the rest)."""

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
    changed_at: str
    resource_count: int
    link_count: int


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
    Dataset.changed_at,
)

# The children's columns: the dataset's pk, then the row type's fields in their order.
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

# Built once, bound per batch: the children of a batch by the span of its pks (one range scan
# of the dataset_pk index) or, for scattered pks, by an IN list (an expanding parameter).
_LO, _HI = bindparam("lo", type_=Integer), bindparam("hi", type_=Integer)
_PKS: BindParameter[Any] = bindparam("pks", expanding=True)
_RESOURCES_ORDER = (Resource.dataset_pk, Resource.position, Resource.pk)
_LINKS_ORDER = (Link.dataset_pk, Link.position, Link.pk)
_RESOURCES_SPANNING = (
    select(*_RESOURCE_COLUMNS)
    .where(Resource.dataset_pk.between(_LO, _HI))
    .order_by(*_RESOURCES_ORDER)
)
_RESOURCES_OF = (
    select(*_RESOURCE_COLUMNS).where(Resource.dataset_pk.in_(_PKS)).order_by(*_RESOURCES_ORDER)
)
_LINKS_SPANNING = (
    select(*_LINK_COLUMNS).where(Link.dataset_pk.between(_LO, _HI)).order_by(*_LINKS_ORDER)
)
_LINKS_OF = select(*_LINK_COLUMNS).where(Link.dataset_pk.in_(_PKS)).order_by(*_LINKS_ORDER)
_RESOURCE_COUNTS = select(Resource.dataset_pk, func.count()).group_by(Resource.dataset_pk)
_RESOURCE_COUNTS_SPANNING = _RESOURCE_COUNTS.where(Resource.dataset_pk.between(_LO, _HI))
_RESOURCE_COUNTS_OF = _RESOURCE_COUNTS.where(Resource.dataset_pk.in_(_PKS))
_LINK_COUNTS = select(Link.dataset_pk, func.count()).group_by(Link.dataset_pk)
_LINK_COUNTS_SPANNING = _LINK_COUNTS.where(Link.dataset_pk.between(_LO, _HI))
_LINK_COUNTS_OF = _LINK_COUNTS.where(Link.dataset_pk.in_(_PKS))
_TOPIC_TITLES = select(Topic.id, Topic.title).where(Topic.id.in_(bindparam("ids", expanding=True)))
_MASTHEAD_TITLES = select(Masthead.id, Masthead.title).where(
    Masthead.id.in_(bindparam("ids", expanding=True))
)
_TEAM_TITLES = select(Team.id, Team.title).where(Team.id.in_(bindparam("ids", expanding=True)))


# The dataset statements, built once per caller and day: building the visibility clause and
# compiling the statement cost more than running it on a batch.
@functools.lru_cache(maxsize=64)
def _batch_statement(principal: Principal, today: str, published_only: bool) -> Executable:
    return (
        select(*_DATASET_COLUMNS)
        .where(visible_clause(principal, today, published_only=published_only))
        .where(Dataset.pk > bindparam("after_pk", type_=Integer))
        .order_by(Dataset.pk)
        .limit(bindparam("limit", type_=Integer))
    )


@functools.lru_cache(maxsize=64)
def _spanning_statement(principal: Principal, today: str) -> Executable:
    return (
        select(*_DATASET_COLUMNS)
        .where(Dataset.pk.between(_LO, _HI), visible_clause(principal, today))
        .order_by(Dataset.pk)
    )


@functools.lru_cache(maxsize=64)
def _listed_statement(principal: Principal, today: str) -> Executable:
    return (
        select(*_DATASET_COLUMNS)
        .where(Dataset.pk.in_(_PKS), visible_clause(principal, today))
        .order_by(Dataset.pk)
    )


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
    statement = _batch_statement(principal, today or today_iso(), published_only)
    found = _fetch(session.connection(), statement, {"after_pk": after_pk, "limit": limit})
    return build_rows(session, found)


def rows_by_pk(
    session: Session, principal: Principal, pks: Sequence[int], *, today: str | None = None
) -> list[DatasetRow]:
    """The rows of the datasets `pks` that exist and `principal` may see, by pk."""
    return build_rows(session, _by_pk(session, principal, pks, today))


def summaries_by_pk(
    session: Session, principal: Principal, pks: Sequence[int], *, today: str | None = None
) -> list[DatasetSummary]:
    """As `rows_by_pk`, with the children counted instead of read (the datasets table)."""
    return build_summaries(session, _by_pk(session, principal, pks, today))


def _by_pk(
    session: Session, principal: Principal, pks: Sequence[int], today: str | None
) -> Sequence[Sequence[Any]]:
    """The `_DATASET_COLUMNS` of the datasets `pks` that `principal` may see, by pk: by their
    span when that is dense, else by an IN list."""
    wanted = sorted(set(pks))
    if not wanted:
        return []
    today = today or today_iso()
    connection = session.connection()
    lo, hi = wanted[0], wanted[-1]
    if not _dense(len(wanted), lo, hi):
        return _fetch(connection, _listed_statement(principal, today), {"pks": wanted})
    found = _fetch(connection, _spanning_statement(principal, today), {"lo": lo, "hi": hi})
    if len(wanted) < hi - lo + 1:  # the span holds datasets not asked for
        asked = set(wanted)
        return [row for row in found if row[0] in asked]
    return found


def _fetch(
    connection: Connection, statement: Executable, parameters: Mapping[str, Any]
) -> Sequence[Any]:
    """The rows of `statement` as the driver's tuples. Every column read here is a string or an
    integer (the JSON ones as their stored text), which SQLAlchemy hands over unchanged: its Row
    objects would only cost a fifth of building a batch."""
    result = connection.execute(statement, parameters)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    return rows


def _dense(count: int, lo: int, hi: int, share: float = 0.9) -> bool:
    """Whether `count` pks between `lo` and `hi` are better read by their span than listed (an
    IN list costs SQLAlchemy a bound parameter a pk).

    Rows by span when at least `share` of it is wanted: a tenth cheaper than the list when all
    are, dearer from about half (the published datasets of a dump; SQLite, 100,000 datasets).
    Counts read only the index: by span from half."""
    return count >= (hi - lo + 1) * share


def iter_datasets(
    database: Database,
    principal: Principal,
    *,
    published_only: bool = False,
    after_pk: int = 0,
    batch_size: int = BATCH_SIZE,
) -> Iterator[DatasetRow]:
    """Every dataset visible to `principal`, by pk, one short read session per batch."""

    def fetch(session: Session, after: int, today: str) -> Sequence[DatasetRow]:
        return fetch_batch(
            session,
            principal,
            after_pk=after,
            limit=batch_size,
            published_only=published_only,
            today=today,
        )

    return walk(database, fetch, after_pk, batch_size)


_Row = TypeVar("_Row", bound=tuple[Any, ...])  # a named tuple whose first field is the pk


def walk(
    database: Database,
    fetch: Callable[[Session, int, str], Sequence[_Row]],
    after_pk: int,
    batch_size: int,
) -> Iterator[_Row]:
    """The keyset walk: `fetch(session, after_pk, today)` the batch of up to `batch_size` rows
    after `after_pk`, by pk, in a read session of its own, until one comes short; the day is
    read once, so a walk across midnight keeps its embargoes."""
    today = today_iso()
    while True:
        with database.read() as session:
            batch = fetch(session, after_pk, today)
        yield from batch
        if len(batch) < batch_size:
            return
        after_pk = batch[-1][0]


_Child = TypeVar("_Child", ResourceRow, LinkRow)


def _children(
    connection: Connection,
    pks: list[int],
    spanning: Executable,
    listed: Executable,
    make: type[_Child],
) -> dict[int, tuple[_Child, ...]]:
    """The child rows of the datasets `pks` (ascending), grouped by their dataset in query
    order (read by the span of `pks` when that is dense: a dataset outside `pks` in the span
    is grouped too, and never asked for)."""
    lo, hi = pks[0], pks[-1]
    if _dense(len(pks), lo, hi):
        found = _fetch(connection, spanning, {"lo": lo, "hi": hi})
    else:
        found = _fetch(connection, listed, {"pks": pks})
    grouped: dict[int, list[_Child]] = {}
    new = tuple.__new__
    current: int | None = None
    bucket: list[_Child] = []
    for row in found:
        dataset_pk = row[0]
        if dataset_pk != current:
            current = dataset_pk
            bucket = grouped[dataset_pk] = []
        bucket.append(new(make, row[1:]))
    return {pk: tuple(children) for pk, children in grouped.items()}


def _counts(
    connection: Connection, pks: list[int], spanning: Executable, listed: Executable
) -> dict[int, int]:
    """How many children each of the datasets `pks` (ascending) has."""
    lo, hi = pks[0], pks[-1]
    if _dense(len(pks), lo, hi, share=0.5):
        return dict(_fetch(connection, spanning, {"lo": lo, "hi": hi}))
    return dict(_fetch(connection, listed, {"pks": pks}))


def build_rows(session: Session, rows: Sequence[Sequence[Any]]) -> list[DatasetRow]:
    """Snapshots of dataset rows (selected with `_DATASET_COLUMNS`), children and titles loaded
    in one query each."""
    if not rows:
        return []
    connection = session.connection()
    pks = sorted(row[0] for row in rows)
    resources = _children(connection, pks, _RESOURCES_SPANNING, _RESOURCES_OF, ResourceRow)
    links = _children(connection, pks, _LINKS_SPANNING, _LINKS_OF, LinkRow)
    return _build(connection, rows, DatasetRow, resources, links, ())


def build_summaries(session: Session, rows: Sequence[Sequence[Any]]) -> list[DatasetSummary]:
    """As `build_rows`, with the children counted instead of read."""
    if not rows:
        return []
    connection = session.connection()
    pks = sorted(row[0] for row in rows)
    resources = _counts(connection, pks, _RESOURCE_COUNTS_SPANNING, _RESOURCE_COUNTS_OF)
    links = _counts(connection, pks, _LINK_COUNTS_SPANNING, _LINK_COUNTS_OF)
    return _build(connection, rows, DatasetSummary, resources, links, 0)


_Built = TypeVar("_Built", DatasetRow, DatasetSummary)


def _build(
    connection: Connection,
    rows: Sequence[Sequence[Any]],
    make: type[_Built],
    resources: Mapping[int, Any],
    links: Mapping[int, Any],
    none: Any,
) -> list[_Built]:
    """A `make` of each dataset row: its fields up to `site` (JSON decoded, managed-list ids with
    their titles, one query per list for the batch), then what `resources` and `links` hold for
    it (`none` if nothing).

    The JSON lists recur across datasets: each distinct text is decoded once a batch and its
    tuple shared (tuples of strings: nothing a reader could change)."""
    masthead_ids: set[str] = set()
    team_ids: set[str] = set()
    topic_texts: dict[Any, list[str]] = {}  # stored text (or a driver's decoded list) -> ids
    for row in rows:
        if row[6]:
            masthead_ids.add(row[6])
        text = row[8]
        if text.__class__ is not str or text not in topic_texts:
            topic_texts[_key(text)] = _json(text) or []
        if row[16]:
            team_ids.add(row[16])
    topic_ids = {topic for ids in topic_texts.values() for topic in ids}
    topic = _named(connection, _TOPIC_TITLES, topic_ids)
    topic_lists = {
        text: tuple(topic[key] for key in ids) if ids else () for text, ids in topic_texts.items()
    }
    masthead = _named(connection, _MASTHEAD_TITLES, masthead_ids)
    team = _named(connection, _TEAM_TITLES, team_ids)
    tag_lists: dict[Any, tuple[str, ...]] = {}
    empty: tuple[Any, ...] = ()
    new = tuple.__new__
    get_resources, get_links = resources.get, links.get
    out: list[_Built] = []
    append = out.append
    for (
        pk,
        id_,
        title,
        description,
        description_text,
        description_iframe,
        masthead_id,
        tags_text,
        topics_text,
        next_review_date,
        licence_url,
        licence_title,
        contact_email,
        contact_title,
        custom_text,
        sharing,
        team_id,
        state,
        embargo_until,
        created_at,
        updated_at,
        site,
        changed_at,
    ) in rows:
        tags = tag_lists.get(tags_text) if tags_text.__class__ is str else None
        if tags is None:
            tags = tuple(_json(tags_text) or empty)
            if tags_text.__class__ is str:
                tag_lists[tags_text] = tags
        custom = _json(custom_text) if custom_text != "{}" else None
        append(
            new(
                make,
                (
                    pk,
                    id_,
                    title,
                    description,
                    description_text,
                    description_iframe,
                    masthead.get(masthead_id) if masthead_id else None,
                    tags,
                    topic_lists[_key(topics_text)],
                    next_review_date,
                    licence_url,
                    licence_title,
                    contact_email,
                    contact_title,
                    dict(custom) if custom else {},
                    sharing,
                    team.get(team_id) if team_id else None,
                    state,
                    embargo_until,
                    created_at,
                    updated_at,
                    site,
                    changed_at,
                    get_resources(pk, none),
                    get_links(pk, none),
                ),
            )
        )
    return out


def _named(connection: Connection, statement: Any, ids: set[str]) -> dict[str, Named]:
    """Each managed-list id with its title (the id itself for one that is gone)."""
    titles: dict[str, str] = {}
    if ids:
        titles = dict(_fetch(connection, statement, {"ids": sorted(ids)}))
    return {key: Named(key, titles.get(key, key)) for key in ids}


def _key(value: Any) -> Any:
    """A JSON column's value as a dictionary key: its stored text, or (for a driver that
    decodes JSON itself) its canonical dump."""
    return value if value.__class__ is str else orjson.dumps(value)


def _json(value: Any) -> Any:
    """A JSON column's stored text as Python (what the JSON type would give, faster)."""
    if value is None or not isinstance(value, str | bytes):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:  # e.g. NaN or a huge integer: the standard library's reading
        return json.loads(value)


# -- one record (seed 002) -------------------------------------------------------------------


def readable_record(session: Session, principal: Principal, dataset_id: str) -> Record:
    """The full seed-002 record of one dataset: NotFound if it does not exist, PermissionDenied
    if `principal` may not read it (visibility.permissions_for decides)."""
    dataset = datasets.get_dataset(session, dataset_id)
    granted = permissions_for(session, principal, dataset)
    if not granted & READ:
        raise PermissionDenied(f"You may not read dataset {dataset_id}")
    return record_as_seen(dataset_to_record(dataset), granted)


def record_as_seen(record: Record, granted: Permission) -> Record:
    """`record` as a caller with `granted` sees it: without the access lists and the embargo
    (mappings.datapress.for_reader, as in export.json) unless they may manage who reads it,
    which is publish_dataset (json_patch asks it to change those fields)."""
    if granted & Permission.PUBLISH_DATASET:
        return record
    return for_reader(record)
