"""What an export may be asked for: its formats, its scopes and the default base URL.

Nothing else lives here, and it imports nothing: the command line's parser offers these
choices, and `main.py --help` must not wait for the exporting service (SQLAlchemy, the
serializers) to load. services.exporting re-exports them beside `export_catalogue`.
"""

from __future__ import annotations

from enum import StrEnum

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


class ExportFormat(StrEnum):
    CSV = "csv"
    RESOURCES_CSV = "resources-csv"
    XLSX = "xlsx"
    JSON = "json"
    JSONLD = "jsonld"
    TURTLE = "ttl"


class ExportScope(StrEnum):
    ALL = "all"
    PUBLISHED = "published"
    SELECTION = "selection"
    SEARCH = "search"
