"""Saved searches: a name for a search text and facet choices, listed in the facet sidebar.

Kept in QSettings (views.window_settings' file), one list per catalogue, not in the catalogue:
a saved search is how one person looks at the catalogue, like the column layout, so it needs no
schema change, never syncs to a portal, never shows in an export or on the server, and opening
a colleague's catalogue does not bring their searches. The catalogue is named by a hash of its
URL, so a URL with a password never lands in the settings file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from app.views.window_settings import app_settings

GROUP = "saved_searches"


@dataclass(frozen=True)
class SavedSearch:
    name: str
    search: str
    facets: tuple[tuple[str, str], ...]


def _key(catalogue_url: str) -> str:
    return f"{GROUP}/{hashlib.sha256(catalogue_url.encode()).hexdigest()[:16]}"


def load(catalogue_url: str) -> list[SavedSearch]:
    """The catalogue's saved searches, in the order saved (unreadable entries are skipped)."""
    text = app_settings().value(_key(catalogue_url))
    try:
        items = json.loads(str(text)) if text else []
        return [
            SavedSearch(
                str(item["name"]),
                str(item["search"]),
                tuple((str(f), str(v)) for f, v in item["facets"]),
            )
            for item in items
        ]
    except (ValueError, KeyError, TypeError):
        return []


def store(catalogue_url: str, searches: list[SavedSearch]) -> None:
    text = json.dumps(
        [
            {"name": s.name, "search": s.search, "facets": [list(p) for p in s.facets]}
            for s in searches
        ]
    )
    settings = app_settings()
    settings.setValue(_key(catalogue_url), text)
    settings.sync()


def save(catalogue_url: str, search: SavedSearch) -> list[SavedSearch]:
    """Add `search` (replacing one of the same name); the list now."""
    searches = [s for s in load(catalogue_url) if s.name != search.name] + [search]
    store(catalogue_url, searches)
    return searches


def remove(catalogue_url: str, name: str) -> list[SavedSearch]:
    searches = [s for s in load(catalogue_url) if s.name != name]
    store(catalogue_url, searches)
    return searches
