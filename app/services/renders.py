"""Each dataset's export fragments, rendered once when it is written and reused by every dump.

A bulk dump is the same few bytes per dataset over and over: its CSV line, its JSON-LD node,
its export.json object. They change only when the dataset does, so they are rendered when the
dataset is written and stored in `dataset_renders` (`refresh`: run just before the writing
transaction commits, for every dataset services.datasets wrote in it, and by
services.synthetic); a dump or a feed page then selects the visible datasets' fragments and
joins them (`fragment_page`, `iter_fragments`), which is what makes the first download after a
change about as fast as a repeated one.

Correctness does not depend on the store being complete:

- A fragment is used only if it was rendered from the dataset's current `version`; a missing
  or stale one (a catalogue from before migration 0004, a dataset whose topic was renamed) is
  rendered on the fly from the row, exactly as the serializers always did.
- The base URL is not known when a dataset is written, so fragments are rendered with
  `PLACEHOLDER` in its place and the request's base URL is substituted on the way out. That is
  exact only for a base URL that every format writes verbatim (`_VERBATIM_BASE`: no character
  that CSV quotes, JSON escapes or an IRI refuses) and for a dataset whose own text does not
  contain the placeholder; anything else is rendered on the fly.

Which datasets a caller sees is still decided by visibility.visible_clause alone; fragments
hold content, never access.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    LargeBinary,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    event,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from app.models import Dataset, DatasetRender
from app.models.database import Database
from app.services import export_query
from app.services.batches import batched
from app.services.clock import today_iso
from app.services.export_query import DatasetRow
from app.services.formats import csv_format, datapress_json, jsonld
from app.services.visibility import OWNER, Principal, visible_clause

PLACEHOLDER = "http://catalogue-desk-base-url.invalid"
_PLACEHOLDER_BYTES = PLACEHOLDER.encode()
# Scheme, host, optional port and a plain path: written the same in CSV, JSON and IRIs.
_VERBATIM_BASE = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9.\-_~/]*)?")

BATCH_SIZE = 2000
_PENDING = "renders.pending"  # Session.info key: pks written in the transaction

Renderer = Callable[[Iterable[DatasetRow], str], Iterator[bytes]]


class Fragment(Enum):
    """One dataset's part of a dump: the column it is stored in and the serializer writing it."""

    DATASETS_CSV = "datasets_csv"
    RESOURCES_CSV = "resources_csv"
    JSONLD_NODE = "jsonld_node"
    EXPORT_JSON = "export_json"

    def render(self, rows: Iterable[DatasetRow], base_url: str) -> Iterator[bytes]:
        return _RENDERERS[self](rows, base_url)


_RENDERERS: dict[Fragment, Renderer] = {
    Fragment.DATASETS_CSV: lambda rows, base: csv_format.dataset_lines(rows, base_url=base),
    Fragment.RESOURCES_CSV: lambda rows, base: csv_format.resource_lines(rows, base_url=base),
    Fragment.JSONLD_NODE: lambda rows, base: jsonld.dataset_nodes(rows, base_url=base),
    Fragment.EXPORT_JSON: lambda rows, base: datapress_json.dataset_objects(rows, base_url=base),
}


def render_at_commit(session: Session, pk: int) -> None:
    """Have dataset `pk`'s fragments rendered just before `session` commits: once per
    transaction however often it was written, and in batches for a transaction that writes
    many (an import, a sync)."""
    session.info.setdefault(_PENDING, set()).add(pk)


@event.listens_for(Session, "before_commit")
def _render_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        refresh(session, sorted(pending))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def refresh(session: Session, pks: Sequence[int]) -> None:
    """Render and store the fragments of datasets `pks`, in the caller's transaction, BATCH_SIZE
    datasets at a time."""
    for batch in batched(pks, BATCH_SIZE):
        _refresh_batch(session, batch)


def _refresh_batch(session: Session, pks: Sequence[int]) -> None:
    session.flush()  # the rows are read through the connection, past the ORM's pending changes
    session.execute(delete(DatasetRender).where(DatasetRender.dataset_pk.in_(pks)))
    rows = export_query.rows_by_pk(session, OWNER, pks)  # stored for every caller
    versions: dict[int, int] = {
        pk: version
        for pk, version in session.execute(
            select(Dataset.pk, Dataset.version).where(Dataset.pk.in_(pks))
        )
    }
    # A dataset whose text contains the placeholder would have it replaced: none stored.
    storable = [row for row in rows if PLACEHOLDER not in repr(row)]
    if not storable:
        return
    rendered = {f: f.render(storable, PLACEHOLDER) for f in Fragment}
    values: list[dict[str, Any]] = [
        {"dataset_pk": row.pk, "version": versions[row.pk]} for row in storable
    ]
    for fragment, parts in rendered.items():
        for value, part in zip(values, parts, strict=True):
            value[fragment.value] = part
    session.execute(insert(DatasetRender), values)


def refresh_referring(
    session: Session, *, topic: str | None = None, masthead: str | None = None
) -> int:
    """Re-render the datasets that show a topic's or masthead's title (it was renamed)."""
    conditions: list[ColumnElement[bool]] = []
    if topic is not None:
        # The JSON text of the topics list holds the id quoted; a false match only re-renders.
        needle = topic.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(cast(Dataset.topics, Text).like(f'%"{needle}"%', escape="\\"))
    if masthead is not None:
        conditions.append(Dataset.masthead == masthead)
    if not conditions:
        return 0
    pks = list(session.scalars(select(Dataset.pk).where(or_(*conditions)).order_by(Dataset.pk)))
    refresh(session, pks)
    return len(pks)


def fragment_page(
    session: Session,
    principal: Principal,
    fragment: Fragment,
    *,
    base_url: str,
    after_pk: int = 0,
    limit: int = BATCH_SIZE,
    published_only: bool = False,
    today: str | None = None,
) -> list[tuple[int, bytes]]:
    """(pk, fragment) of up to `limit` datasets visible to `principal` past `after_pk`, by pk."""
    base = base_url.rstrip("/")
    verbatim = _VERBATIM_BASE.fullmatch(base) is not None
    statement = _page_statement(principal, fragment, verbatim, published_only, today or today_iso())
    found = session.connection().execute(statement, {"after_pk": after_pk, "limit": limit}).all()
    missing = [pk for pk, part in found if part is None]
    fresh: dict[int, bytes] = {}
    if missing:
        rows = export_query.rows_by_pk(session, principal, missing, today=today)
        fresh = dict(zip((row.pk for row in rows), fragment.render(rows, base), strict=True))
    if not verbatim:
        return [(pk, fresh[pk]) for pk, _ in found]
    stand_in, real = _PLACEHOLDER_BYTES, base.encode()
    return [(pk, fresh[pk] if part is None else part.replace(stand_in, real)) for pk, part in found]


@functools.lru_cache(maxsize=64)
def _page_statement(
    principal: Principal, fragment: Fragment, verbatim: bool, published_only: bool, today: str
) -> Select[int, bytes | None]:
    """The query of `fragment_page`, built once per caller and day (building the visibility
    clause costs more than running the query on a page)."""
    stored: ColumnElement[bytes | None] = (
        DatasetRender.__table__.c[fragment.value] if verbatim else literal(None, LargeBinary)
    )
    statement = (
        select(Dataset.pk, stored)
        .select_from(Dataset)
        .where(visible_clause(principal, today, published_only=published_only))
        .where(Dataset.pk > bindparam("after_pk", type_=Integer))
        .order_by(Dataset.pk)
        .limit(bindparam("limit", type_=Integer))
    )
    if verbatim:
        current = and_(
            DatasetRender.dataset_pk == Dataset.pk, DatasetRender.version == Dataset.version
        )
        statement = statement.outerjoin(DatasetRender, current)
    return statement


def iter_fragments(
    database: Database,
    principal: Principal,
    fragment: Fragment,
    *,
    base_url: str,
    published_only: bool = False,
    batch_size: int = BATCH_SIZE,
) -> Iterator[bytes]:
    """The fragment of every dataset visible to `principal`, by pk, one read session a batch
    (a walk, not a snapshot: as export_query.iter_datasets)."""
    today = today_iso()
    after_pk = 0
    while True:
        with database.read() as session:
            page = fragment_page(
                session,
                principal,
                fragment,
                base_url=base_url,
                after_pk=after_pk,
                limit=batch_size,
                published_only=published_only,
                today=today,
            )
        yield from (part for _, part in page)
        if len(page) < batch_size:
            return
        after_pk = page[-1][0]
