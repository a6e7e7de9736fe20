"""OAI-PMH responses as XML, written as text with every value escaped (formats.oai_dc's
`text` and `attr`; the records' metadata are fragments, services.renders)."""

from __future__ import annotations

from collections.abc import Mapping

from app.services.formats.oai_dc import attr, text
from app.services.oai.protocol import datestamp
from app.services.oai.selection import Entry

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CONTENT_TYPE = "text/xml; charset=utf-8"


def envelope(response_date: str, base_url: str, echo: Mapping[str, str], body: bytes) -> bytes:
    """The whole response: `body` (the verb's element, or errors) in the OAI-PMH element."""
    attributes = "".join(f' {name}="{attr(value)}"' for name, value in echo.items())
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{OAI_NS} {OAI_NS}OAI-PMH.xsd">'
        f"<responseDate>{response_date}</responseDate>"
        f"<request{attributes}>{text(base_url)}</request>"
    )
    return b"".join((head.encode(), body, b"</OAI-PMH>\n"))


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


def record(header_xml: str, metadata: bytes | None) -> bytes:
    """A record: its header and, unless it is deleted, its metadata (a fragment)."""
    if metadata is None:
        return b"".join((b"<record>", header_xml.encode(), b"</record>"))
    return b"".join(
        (b"<record>", header_xml.encode(), b"<metadata>", metadata, b"</metadata></record>")
    )


def resumption_token(token: str, cursor: int, size: int, expires: str | None) -> str:
    """The <resumptionToken>: empty on the last page (`token` "")."""
    expiry = f' expirationDate="{expires}"' if expires and token else ""
    return (
        f'<resumptionToken completeListSize="{max(size, 1)}" cursor="{cursor}"{expiry}>'
        f"{text(token)}</resumptionToken>"
    )
