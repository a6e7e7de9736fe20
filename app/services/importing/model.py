"""What every importer produces: records read from a file, with the errors of each row.

A source module (one per format) turns a file into `SourceItem`s: one per dataset, numbered as
the person would find it in the file (a spreadsheet row, a list index), with the part of the
canonical record (services.records, seed 002) the format carries. The planner (importing.plan)
validates them against the catalogue; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from app.services.errors import CatalogueError
from app.services.mappings import Carriage, Loss

if TYPE_CHECKING:  # the records module loads SQLAlchemy; `main.py --help` reads this module
    from app.services.records import Record


class ImportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    DATAPRESS_JSON = "datapress-json"  # export.json: a list of datasets
    DATASET_JSON = "dataset-json"  # one seed-002 dataset object
    CKAN_JSON = "ckan-json"  # package_search or current_package_list_with_resources
    JSONLD = "jsonld"
    TURTLE = "ttl"
    RDFXML = "rdfxml"


class OnExisting(StrEnum):
    """What to do with a dataset whose id is already in the catalogue."""

    SKIP = "skip"
    UPDATE = "update"
    COPY = "copy"


class ImportRejected(CatalogueError):
    """The file as a whole cannot be imported (unknown format, too big, unreadable)."""

    code = "import_rejected"


@dataclass(frozen=True)
class RowError:
    """One problem, where the person can find it: `row` is 1-based as a spreadsheet numbers it
    (the header is row 1) or the position in a list; `column` a column or a field path."""

    row: int
    column: str
    message: str


@dataclass
class SourceItem:
    """One dataset read from the file.

    `record` holds only the keys the format carries, so an update leaves every other field of
    an existing dataset as it is. For error messages, a table says where each field was read:
    `columns` (one mapping for the whole file) names the column of a record path without child
    ids (`title`, `contact.email`, `resources.timeFrame.gte`), and `locations` the row and sheet
    each child was read from (`resources.k93` -> (12, "resources")). `errors` are the problems
    found while reading (a cell that is not a number...). A format that carries the
    description as plain text only also sets `descriptionText`: an update keeps the stored HTML
    when its text is the same."""

    row: int
    record: Record
    errors: list[RowError] = field(default_factory=list)
    locations: dict[str, tuple[int, str]] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    # Keys whose order the format does not carry (RDF): the same set keeps the stored order.
    unordered: frozenset[str] = frozenset()
    # What the format carries (mappings), and what of this dataset could not be read.
    carriage: Carriage | None = None
    losses: list[Loss] = field(default_factory=list)
