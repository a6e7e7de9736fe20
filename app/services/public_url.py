"""The catalogue's public URL: where its server is reached from outside (e.g.
https://data.example.org), kept in the catalogue. Every URL the server writes starts with it,
and so does the `webpage` of every export (the dataset's page there, `/dataset/{id}`), whether
the export is made by the server, the window or `main.py export`: a harvested record and an
exported one point at the same page. Without one, the server writes the address it listens on
and an export `export_choices.DEFAULT_BASE_URL`.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models.settings import ServerSetting
from app.services.errors import CatalogueError, ValidationFailed
from app.services.export_choices import DEFAULT_BASE_URL
from app.services.server.runner import base_url_setting

KEY = "public_url"


def stored_public_url(session: Session) -> str | None:
    """The public URL set for this catalogue, if any."""
    return session.scalar(select(ServerSetting.value).where(ServerSetting.key == KEY))


def set_public_url(session: Session, text: str | None) -> str | None:
    """Keep `text` (normalised) as the public URL; blank or None forgets it. ValidationFailed
    for anything but http(s)://host[:port][/path]."""
    if text is None or not text.strip():
        session.execute(delete(ServerSetting).where(ServerSetting.key == KEY))
        return None
    try:
        value = base_url_setting(text)
    except CatalogueError as error:
        raise ValidationFailed({"publicUrl": error.message}) from error
    session.merge(ServerSetting(key=KEY, value=value))
    return value


def export_base_url(session: Session) -> str:
    """The base of the `webpage` URLs an export writes: the public URL, else the default."""
    return stored_public_url(session) or DEFAULT_BASE_URL
