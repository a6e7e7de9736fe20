"""OAI-PMH responses as XML, written as text with every value escaped (no XML library: the
writer is the hot loop of a harvest, and string joins are several times faster than building
an element tree).

Text and attribute values go through `text` and `attr`, which escape the XML specials and drop
the characters XML 1.0 cannot carry (C0 controls other than tab, line feed and carriage
return, lone surrogates, U+FFFE and U+FFFF), so no value of a record can break the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from app.services.export_query import DatasetRow
from app.services.formats import dataset_webpage
from app.services.mappings.dcat import FORMATS
from app.services.oai.protocol import datestamp
from app.services.oai.selection import Entry

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTENT_TYPE = "text/xml; charset=utf-8"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPE_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
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
_PLAIN = re.compile(r"[^&<>\"\x00-\x1f\ud800-\udfff\ufffe\uffff]*")


def text(value: str) -> str:
    """`value` as element content."""
    if _PLAIN.fullmatch(value):  # the usual value: nothing to replace
        return value
    return _NOT_XML.sub("", value).translate(_ESCAPE_TEXT)


def attr(value: str) -> str:
    """`value` as an attribute value (between double quotes)."""
    if _PLAIN.fullmatch(value):
        return value
    return _NOT_XML.sub("", value).translate(_ESCAPE_ATTR)


def envelope(response_date: str, base_url: str, echo: Mapping[str, str], body: str) -> bytes:
    """The whole response: `body` (the verb's element, or errors) in the OAI-PMH element."""
    attributes = "".join(f' {name}="{attr(value)}"' for name, value in echo.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{OAI_NS} {OAI_NS}OAI-PMH.xsd">'
        f"<responseDate>{response_date}</responseDate>"
        f"<request{attributes}>{text(base_url)}</request>{body}</OAI-PMH>\n"
    ).encode()


def error(code: str, message: str) -> str:
    return f'<error code="{code}">{text(message)}</error>'


def element(name: str, value: str) -> str:
    return f"<{name}>{text(value)}</{name}>"


def header(entry: Entry, identifier: str) -> str:
    if entry.deleted:
        return (
            f'<header status="deleted"><identifier>{text(identifier)}</identifier>'
            f"<datestamp>{datestamp(entry.at)}</datestamp></header>"
        )
    specs = "".join(f"<setSpec>{text(spec)}</setSpec>" for spec in entry.set_specs())
    return (
        f"<header><identifier>{text(identifier)}</identifier>"
        f"<datestamp>{datestamp(entry.at)}</datestamp>{specs}</header>"
    )


def record(header_xml: str, metadata: str | None) -> str:
    if metadata is None:
        return f"<record>{header_xml}</record>"
    return f"<record>{header_xml}<metadata>{metadata}</metadata></record>"


def resumption_token(token: str, cursor: int, size: int, expires: str | None) -> str:
    """The <resumptionToken>: empty on the last page (`token` "")."""
    expiry = f' expirationDate="{expires}"' if expires and token else ""
    return (
        f'<resumptionToken completeListSize="{max(size, 1)}" cursor="{cursor}"{expiry}>'
        f"{text(token)}</resumptionToken>"
    )


_DC_OPEN = (
    f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" '
    f'xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
)


def _dc(name: str, values: Iterable[str]) -> str:
    return "".join(f"<dc:{name}>{text(v)}</dc:{name}>" for v in values if v)


def _media_type(fmt: str) -> str:
    known = FORMATS.get(fmt.lower())
    return known[0] if known else fmt


def oai_dc(row: DatasetRow, base_url: str) -> str:
    """Simple Dublin Core of a dataset: title, description (text), subjects (tags, topic
    titles), publisher (its team), rights (licence), date (last update), type, identifiers
    (its id and page), relations (its files' and links' URLs) and formats (media types)."""
    rights = [row.licence_title or "", row.licence_url or ""]
    formats = dict.fromkeys(_media_type(r.format) for r in row.resources if r.format)
    relations = [r.url for r in row.resources] + [link.url for link in row.links]
    return "".join(
        (
            _DC_OPEN,
            _dc("title", (row.title,)),
            _dc("description", (row.description_text,)),
            _dc("subject", row.tags),
            _dc("subject", (topic.title for topic in row.topics)),
            _dc("publisher", (row.team.title,) if row.team else ()),
            _dc("rights", rights),
            _dc("date", (row.updated_at[:10],)),
            "<dc:type>Dataset</dc:type>",
            _dc("format", formats),
            _dc("identifier", (row.id, dataset_webpage(base_url, row.id))),
            _dc("relation", dict.fromkeys(relations)),
            "</oai_dc:dc>",
        )
    )
