"""Reading the server's HTML pages and sitemaps as a checker would (shared by the page tests and
the leak test): html5lib in strict mode (any parse error fails), the sitemap XML by defusedxml."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import defusedxml.ElementTree as SafeET
import html5lib

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def parse_html(text: str) -> Any:
    """The page's tree (html5lib's etree, without namespaces); html5lib.html5parser.ParseError
    on anything the HTML standard calls a parse error."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(text)


def links(tree: Any) -> list[str]:
    return [a.get("href") for a in tree.iter("a") if a.get("href")]


def dataset_links(tree: Any) -> list[str]:
    """The ids of the dataset pages a page links to, in order, repeats kept."""
    return [dataset_id(href) for href in links(tree) if "/dataset/" in urlsplit(href).path]


def dataset_id(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def rel_link(tree: Any, rel: str) -> str | None:
    found = [a.get("href") for a in tree.iter("a") if a.get("rel") == rel]
    assert len(found) <= 1
    return found[0] if found else None


def sitemap_locs(text: str) -> tuple[str, list[str]]:
    """The root element's local name (urlset or sitemapindex) and the `<loc>`s it lists."""
    root = SafeET.fromstring(text.encode())
    name = root.tag.removeprefix(SITEMAP_NS)
    return name, [loc.text or "" for loc in root.iter(f"{SITEMAP_NS}loc")]
