"""The sitemap (sitemaps.org 0.9) and robots.txt that lead search engines to the dataset pages.

The URLs are the home page and then every published dataset's page (services.web_pages) by
pk, numbered from 0 in that order; part N (from 1) of the sitemap holds numbers (N-1)*limit
to N*limit-1. A catalogue whose URLs fit in one part (the protocol allows 50,000 a file) has
/sitemap.xml hold them all; a larger one has /sitemap.xml a sitemap index naming each part,
`/sitemap-N.xml`. A part is streamed from keyset batches (`iter_page_refs`: export_query.walk,
as iter_datasets, reading only each dataset's pk, id and last change), starting after
the pk that ends the part before it (one indexed query), so memory stays flat and no part is
read from its catalogue's start.

Every URL starts with the server's configured base URL, never the Host header. Like the
pages, this is the anonymous visible set (visibility.visible_clause) whoever asks.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple
from xml.sax.saxutils import escape

from sqlalchemy import ColumnElement, Integer, bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from app.models import Dataset
from app.models.database import Database
from app.services.export_query import walk
from app.services.formats import Chunks, concatenated, dataset_webpage
from app.services.visibility import ANONYMOUS, visible_clause

SITEMAP_URLS = 50_000  # the protocol's limit of URLs in one file
REFS_BATCH_SIZE = 5000  # PageRef rows are small: few sessions
CONTENT_TYPE = "application/xml"
ROBOTS_CONTENT_TYPE = "text/plain; charset=utf-8"
_NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
# W3C Datetime with seconds (and a fraction) and a zone: what `<lastmod>` may hold.
_W3C_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def published_count(session: Session) -> int:
    """How many datasets the anonymous caller sees."""
    statement = select(func.count()).select_from(Dataset).where(_published())
    return int(session.scalar(statement) or 0)


def part_count(published: int, limit: int = SITEMAP_URLS) -> int:
    """How many sitemap parts the home page and `published` dataset pages take."""
    return math.ceil((published + 1) / limit)


def needs_index(published: int, limit: int = SITEMAP_URLS) -> bool:
    return part_count(published, limit) > 1


def part_start(session: Session, part: int, limit: int = SITEMAP_URLS) -> int:
    """The pk that part `part` (from 1) starts after: the last one of the part before it (0
    for the first part, and for a part past the catalogue's end: see `urlset`)."""
    first = (part - 1) * limit - 1  # the position of its first dataset: the home page is 0
    if first <= 0:
        return 0
    statement = (
        select(Dataset.pk).where(_published()).order_by(Dataset.pk).offset(first - 1).limit(1)
    )
    pk = session.scalar(statement)
    return -1 if pk is None else int(pk)


class PageRef(NamedTuple):
    """A dataset as a list of its pages needs it: no children, no titles."""

    pk: int
    id: str
    updated_at: str


@functools.lru_cache(maxsize=4)
def _refs_statement(today: str) -> Executable:
    # Built once a day: building the visibility clause costs more than a batch.
    return (
        select(Dataset.pk, Dataset.id, Dataset.updated_at)
        .where(visible_clause(ANONYMOUS, today, published_only=True))
        .where(Dataset.pk > bindparam("after_pk", type_=Integer))
        .order_by(Dataset.pk)
        .limit(bindparam("limit", type_=Integer))
    )


def iter_page_refs(
    database: Database, *, after_pk: int = 0, batch_size: int = REFS_BATCH_SIZE
) -> Iterator[PageRef]:
    """The published datasets after `after_pk`, by pk, as export_query.iter_datasets walks
    them, each only its pk, id and last change: a tenth of the cost of its whole row (a part
    of 50,000 URLs)."""

    def fetch(session: Session, after: int, today: str) -> list[PageRef]:
        parameters = {"after_pk": after, "limit": batch_size}
        return [PageRef(*row) for row in session.execute(_refs_statement(today), parameters)]

    return walk(database, fetch, after_pk, batch_size)


def urlset(
    database: Database, base_url: str, part: int, after_pk: int, limit: int = SITEMAP_URLS
) -> Chunks:
    """Part `part` of the sitemap as a `<urlset>`, its datasets those after `after_pk`
    (`part_start`; -1: none, the catalogue shrank below the part)."""
    base = base_url.rstrip("/")
    entries: list[bytes] = []
    wanted = limit
    if part == 1:
        entries.append(_url(f"{base}/", None))
        wanted -= 1
    rows: Iterator[bytes] = iter(())
    if after_pk >= 0 and wanted > 0:
        found = iter_page_refs(database, after_pk=after_pk, batch_size=min(REFS_BATCH_SIZE, wanted))
        rows = (
            _url(dataset_webpage(base, row.id), row.updated_at) for row in islice(found, wanted)
        )
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{_NAMESPACE}">\n'
    yield from concatenated(head.encode() + b"".join(entries), rows, b"</urlset>\n")


def sitemap_index(base_url: str, parts: int) -> bytes:
    """The `<sitemapindex>` naming parts 1 to `parts`."""
    base = base_url.rstrip("/")
    names = (escape(part_url(base, n)) for n in range(1, parts + 1))
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<sitemapindex xmlns="{_NAMESPACE}">',
        *(f"<sitemap><loc>{name}</loc></sitemap>" for name in names),
        "</sitemapindex>",
        "",
    ]
    return "\n".join(lines).encode()


def part_url(base_url: str, part: int) -> str:
    return f"{base_url.rstrip('/')}/sitemap-{part}.xml"


def robots_txt(base_url: str) -> str:
    """Every crawler may read everything; the sitemap says where the pages are."""
    return f"User-agent: *\nAllow: /\n\nSitemap: {base_url.rstrip('/')}/sitemap.xml\n"


def _url(loc: str, lastmod: str | None) -> bytes:
    dated = lastmod is not None and _W3C_DATETIME.fullmatch(lastmod)
    modified = f"<lastmod>{lastmod}</lastmod>" if dated else ""
    return f"<url><loc>{escape(loc)}</loc>{modified}</url>\n".encode()


def _published() -> ColumnElement[bool]:
    return visible_clause(ANONYMOUS, published_only=True)
