"""Simple Dublin Core (OAI-PMH's `oai_dc`) of a dataset, and the XML escaping every OAI-PMH
response uses (services.oai.writer).

Written as text with every value escaped: no XML library (the record is the hot loop of a
harvest, and joins of strings are several times faster than an element tree). `text` and
`attr` escape the XML specials and drop the characters XML 1.0 cannot carry (C0 controls other
than tab, line feed and carriage return, lone surrogates, U+FFFE and U+FFFF), so no value of a
record can break the document. A record's values are escaped together, in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from app.services.export_query import DatasetRow
from app.services.formats import dataset_webpage
from app.services.mappings.dcat import FORMATS

PREFIX = "oai_dc"
SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
NAMESPACE = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPE_ATTR = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
_SPECIAL = re.compile('[&<>"\x00-\x1f\ud800-\udfff\ufffe\uffff]')
_SEPARATOR = "\x00"  # between a record's values while they are escaped: XML drops it anyway
_SPECIAL_TEXT = re.compile("[&<>\x01-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """`value` as element content."""
    if not _SPECIAL.search(value):  # the usual value: nothing to replace
        return value
    return NOT_XML.sub("", value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(value: str) -> str:
    """`value` as an attribute value (between double quotes)."""
    if not _SPECIAL.search(value):
        return value
    return NOT_XML.sub("", value).translate(_ESCAPE_ATTR)


def _escaped(values: list[str]) -> list[str]:
    """Each of `values` as element content, escaped in one pass over them all."""
    joined = _SEPARATOR.join(values)
    if not _SPECIAL_TEXT.search(joined) and joined.count(_SEPARATOR) == len(values) - 1:
        return values
    parts = [NOT_XML.sub("", value) for value in values]
    # str.replace runs in C; translate with a mapping calls back into Python per character.
    joined = _SEPARATOR.join(parts).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return joined.split(_SEPARATOR)


_OPEN = (
    f'<oai_dc:dc xmlns:oai_dc="{NAMESPACE}" xmlns:dc="{DC_NS}" '
    f'xsi:schemaLocation="{NAMESPACE} {SCHEMA}">'
)
_CLOSE = "</oai_dc:dc>"


def _media_type(fmt: str) -> str:
    known = FORMATS.get(fmt.lower())
    return known[0] if known else fmt


def record(row: DatasetRow, base_url: str) -> str:
    """The oai_dc:dc element of a dataset (its xsi prefix is the OAI-PMH response's): title,
    description (text), subjects (tags, topic titles), publisher (its team), rights (licence),
    date (last update), type, identifiers (its id and page), relations (its files' and links'
    URLs) and formats (media types)."""
    elements: list[str] = []
    values: list[str] = []

    def add(name: str, items: Iterable[str | None]) -> None:
        for item in items:
            if item:
                elements.append(name)
                values.append(item)

    add("title", (row.title,))
    add("description", (row.description_text,))
    add("subject", row.tags)
    add("subject", [topic.title for topic in row.topics])
    add("publisher", (row.team.title if row.team else None,))
    add("rights", (row.licence_title, row.licence_url))
    add("date", (row.updated_at[:10],))
    add("type", ("Dataset",))
    add("format", dict.fromkeys(_media_type(r.format) for r in row.resources if r.format))
    add("identifier", (row.id, dataset_webpage(base_url, row.id)))
    add("relation", dict.fromkeys([r.url for r in row.resources] + [k.url for k in row.links]))
    body = "".join(
        f"<dc:{name}>{value}</dc:{name}>"
        for name, value in zip(elements, _escaped(values), strict=True)
    )
    return _OPEN + body + _CLOSE


def records(rows: Iterable[DatasetRow], *, base_url: str) -> Iterator[bytes]:
    """Each dataset's oai_dc:dc element (a fragment, services.renders)."""
    for row in rows:
        yield record(row, base_url).encode()
