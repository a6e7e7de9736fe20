"""Import datasets from files: plan (read, check, preview), then commit in one transaction.

The public surface, for the GUI's import dialog and `main.py import`:

    detect_format(path) -> ImportFormat
    table_columns(path) -> TableColumns          # CSV/XLSX column-mapping step
    plan_import(database, path, mapping=, on_existing=, progress=) -> ImportPlan
    commit_import(database, plan, author=, progress=) -> ImportSummary

One module per source format (tables: CSV and XLSX; json_sources: DataPress, one dataset, CKAN;
dcat: JSON-LD, Turtle, RDF/XML), each turning a file into `model.SourceItem`s; `plan` checks
them against the catalogue and writes them.
"""

from __future__ import annotations

from app.services.importing.detect import detect_format
from app.services.importing.model import ImportFormat, ImportRejected, RowError
from app.services.importing.plan import (
    ImportPlan,
    ImportSummary,
    OnExisting,
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
