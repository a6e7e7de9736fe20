"""Import datasets from files: plan (read, check, preview), then commit in one transaction.

The public surface, for the GUI's import dialog and `main.py import`:

    detect_format(path) -> ImportFormat
    table_columns(path) -> TableColumns          # CSV/XLSX column-mapping step
    plan_import(database, path, mapping=, on_existing=, progress=) -> ImportPlan
    commit_import(database, plan, author=, progress=) -> ImportSummary

One module per source format (tables: CSV and XLSX; json_sources: DataPress, one dataset, CKAN;
dcat: JSON-LD, Turtle, RDF/XML), each turning a file into `model.SourceItem`s; `plan` checks
them against the catalogue and writes them. Modules of this package import each other directly,
never through this one.

`plan` and `tables` (SQLAlchemy, the datasets service, the formats) are imported on first use
of one of their names, so that `main.py --help`, which reads `model.OnExisting`, stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.services.importing.detect import detect_format
from app.services.importing.model import ImportFormat, ImportRejected, OnExisting, RowError

if TYPE_CHECKING:
    from app.services.importing.plan import (
        ImportPlan,
        ImportSummary,
        PlannedItem,
        commit_import,
        describe,
        plan_import,
    )
    from app.services.importing.tables import (
        CUSTOM_PREFIX,
        MAPPABLE_FIELDS,
        TableColumns,
        table_columns,
    )

_FROM_PLAN = frozenset(
    {"ImportPlan", "ImportSummary", "PlannedItem", "commit_import", "describe", "plan_import"}
)
_FROM_TABLES = frozenset({"CUSTOM_PREFIX", "MAPPABLE_FIELDS", "TableColumns", "table_columns"})


def __getattr__(name: str) -> Any:
    if name in _FROM_PLAN:
        from app.services.importing import plan

        return getattr(plan, name)
    if name in _FROM_TABLES:
        from app.services.importing import tables

        return getattr(tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CUSTOM_PREFIX",
    "MAPPABLE_FIELDS",
    "ImportFormat",
    "ImportPlan",
    "ImportRejected",
    "ImportSummary",
    "OnExisting",
    "PlannedItem",
    "RowError",
    "TableColumns",
    "commit_import",
    "describe",
    "detect_format",
    "plan_import",
    "table_columns",
]
