"""The catalogue's web pages, for people and search engines: the home page and one page per
published dataset (the `webpage` of every export), served by services.server.pages.

Rendered from the Jinja2 templates shipped in resources/templates (read through
importlib.resources, so an installed wheel finds them), with autoescape on: every value a
template writes is escaped, and the only markup that reaches a page unescaped is a
description after services.html_sanitize and the dataset's schema.org JSON-LD
(mappings.schema_org) in its `<script type="application/ld+json">`, written by `script_json`
so that no text inside it can end the script. No script of ours, no external asset.

What the pages show is the anonymous visible set only (visibility.visible_clause through
export_query), whoever asks: a dataset that caller may not see is the same 404 page as one that
does not exist. The home page searches through services.search as package_search does.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Dataset
from app.resources import TEMPLATES, resource
from app.services import export_query, package_search
from app.services.export_query import DatasetRow
from app.services.formats import dataset_webpage
from app.services.formats.jsonld import CatalogueInfo
from app.services.html_sanitize import sanitize_html
from app.services.mappings.rows import row_record, row_titles
from app.services.mappings.schema_org import to_schema_org, web_url
from app.services.package_search import SearchPage
from app.services.text import human_size
from app.services.visibility import ANONYMOUS

CONTENT_TYPE = "text/html; charset=utf-8"
HOME_PAGE_SIZE = 50
SUMMARY_CHARS = 200  # of a description's text, on the home page's list
# JSON's characters that HTML reads inside a <script>: `</script>` and `<!--` end or change it.
_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


@dataclass(frozen=True, slots=True)
class Site:
    """What every page says about the site: its base URL (server.app's, never the Host header)
    and the catalogue's name."""

    base: str
    title: str
    description: str
    publisher: str

    @classmethod
    def of(cls, base_url: str, catalogue: CatalogueInfo) -> Site:
        return cls(
            base_url.rstrip("/"), catalogue.title, catalogue.description, catalogue.publisher
        )

    @property
    def home_url(self) -> str:
        return f"{self.base}/"


# -- reads: the anonymous visible set ----------------------------------------------------------


def home_listing(session: Session, q: str, page: int, page_size: int) -> SearchPage:
    """Page `page` (from 1) of the published datasets matching `q` (all for a blank `q`), best
    match first, else the most recently modified: package_search.search as package_search calls
    it, `q` read as words (a person's search box, not Solr's syntax). search.QueryTooLong for a
    query beyond its bounds."""
    return package_search.search(
        session, ANONYMOUS, q=q, start=(page - 1) * page_size, rows=page_size, plain_words=True
    )


def published_row(session: Session, dataset_id: str) -> DatasetRow | None:
    """The row of `dataset_id` if the anonymous caller may see it, else None (whether it does
    not exist or is hidden: the caller cannot tell which)."""
    pk = session.scalar(select(Dataset.pk).where(Dataset.id == dataset_id))
    if pk is None:
        return None
    rows = export_query.rows_by_pk(session, ANONYMOUS, [pk])
    return rows[0] if rows else None


# -- rendering ---------------------------------------------------------------------------------


def _template_source(name: str) -> tuple[str, None, Callable[[], bool]]:
    # Shipped files that never change while the process runs: always up to date.
    return resource(TEMPLATES).joinpath(name).read_text(encoding="utf-8"), None, lambda: True


@functools.cache
def environment() -> Environment:
    return Environment(
        loader=FunctionLoader(_template_source),
        autoescape=True,
        undefined=StrictUndefined,  # a name a template misspells is an error, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def script_json(value: Any) -> Markup:
    """`value` as JSON to write inside a `<script>` element: `<`, `>` and `&` as \\u escapes
    (the same JSON to a JSON reader), so that `</script>` or `<!--` in a title stays text."""
    return Markup(orjson.dumps(value).decode().translate(_SCRIPT_ESCAPES))


@dataclass(frozen=True, slots=True)
class ListItem:
    title: str
    url: str
    summary: str
    modified: str
    modified_day: str


def home_page(site: Site, listing: SearchPage, *, q: str, page: int, page_size: int) -> str:
    """The home page: the search box, page `page` of `listing`, the harvesting endpoints."""
    pages = max(1, math.ceil(listing.count / page_size))

    def page_url(number: int) -> str:
        params = {"q": q} if q else {}
        if number > 1:
            params["page"] = str(number)
        return f"{site.home_url}?{urlencode(params)}" if params else site.home_url

    items = [
        ListItem(
            row.title,
            dataset_webpage(site.base, row.id),
            summary(row.description_text),
            row.updated_at,
            row.updated_at[:10],
        )
        for row in listing.rows
    ]
    return render(
        "home.html",
        site=site,
        q=q,
        page=page,
        pages=pages,
        count=listing.count,
        items=items,
        first_position=(page - 1) * page_size + 1,
        canonical_url=page_url(page),
        previous_url=page_url(min(page - 1, pages)) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
    )


def summary(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The start of `text` on one line, cut at a word within `limit` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[:limit] else flat[:limit]
    return cut.rstrip(" ,;:.") + "…"


@dataclass(frozen=True, slots=True)
class Shown:
    """A linked value: its text, and the address to link it to (None: not a safe one)."""

    text: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Child:
    """A file or a link as the page lists it."""

    title: str
    url: str | None  # linked only when it is an http(s) address
    address: str  # the address as written
    format: str
    size: str
    description: str


@dataclass(frozen=True, slots=True)
class DatasetView:
    id: str
    title: str
    summary: str
    description_html: Markup
    url: str
    json_url: str
    publisher: str
    topics: tuple[str, ...]
    tags: tuple[str, ...]
    licence: Shown | None
    contact: Shown | None
    modified: str
    modified_day: str
    files: tuple[Child, ...]
    links: tuple[Child, ...]
    jsonld: Markup


def dataset_page(site: Site, row: DatasetRow) -> str:
    """The page of one published dataset, with its schema.org Dataset as JSON-LD."""
    page_url = dataset_webpage(site.base, row.id)
    titles = row_titles(row)
    node = to_schema_org(
        row_record(row),
        page_url,
        titles,
        publisher=site.publisher,
        catalogue={"name": site.title, "url": site.home_url},
    )
    licence = None
    if row.licence_url or row.licence_title:
        licence_url = web_url(row.licence_url)
        licence = Shown(row.licence_title or row.licence_url or "", licence_url)
    contact = None
    if row.contact_email or row.contact_title:
        email = row.contact_email
        text = f"{row.contact_title} <{email}>" if row.contact_title and email else None
        contact = Shown(
            text or row.contact_title or email or "",
            f"mailto:{email}" if email and "@" in email and " " not in email else None,
        )
    files = tuple(
        Child(r.title or r.url, web_url(r.url), r.url, r.format or "", human_size(r.size),
              r.description)
        for r in row.resources
    )  # fmt: skip
    links = tuple(
        Child(link.title or link.url, web_url(link.url), link.url, link.qa_mimetype or "", "",
              link.description)
        for link in row.links
    )  # fmt: skip
    view = DatasetView(
        id=row.id,
        title=row.title,
        summary=summary(row.description_text) or row.title,
        description_html=Markup(sanitize_html(row.description)),
        url=page_url,
        json_url=f"{site.base}/api/dataset/{quote(row.id, safe='')}",
        publisher=node["publisher"]["name"],
        topics=tuple(t.title for t in row.topics),
        tags=row.tags,
        licence=licence,
        contact=contact,
        modified=row.updated_at,
        modified_day=row.updated_at[:10],
        files=files,
        links=links,
        jsonld=script_json(node),
    )
    return render("dataset.html", site=site, d=view)


def not_found_page(site: Site) -> str:
    """The one 404 page: it names nothing, so an unknown dataset and a hidden one look alike."""
    return render("not_found.html", site=site)


def bad_request_page(site: Site, message: str) -> str:
    return render("bad_request.html", site=site, message=message)
