"""The fields a dataset query names: the metas of Opendatasoft's default metadata template
(seed 003, "Field queries" and "Identifying facets"), and the names CKAN and the desktop use
for the same fields.

Kinds: TEXT fields are found by their words (the search index holds them: services.search);
VALUE fields hold short labels (a topic's title, a team's title, a licence title), matched by
their words too, but read from their own columns; DATE and NUMBER fields compare and take
ranges. `facet`: the dataset search may count it (`facet=`, `refine.`, `exclude.`).

Seed 003 also lists `references`; here it is the dataset's web page, written from the id and
the server's address, so it is in the metas but not a field to query: `datasetid` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    VALUE = "value"
    DATE = "date"
    NUMBER = "number"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    description: str
    facet: bool = False
    many: bool = False  # a list of values (keyword, theme)
    sortable: bool = False


FIELDS: dict[str, Field] = {
    field.name: field
    for field in (
        Field("datasetid", Kind.TEXT, "The dataset identifier", sortable=True),
        Field("title", Kind.TEXT, "The dataset title", sortable=True),
        Field("description", Kind.TEXT, "The dataset description"),
        Field("keyword", Kind.TEXT, "Keywords (tags)", facet=True, many=True),
        Field("theme", Kind.VALUE, "The dataset's themes (topics)", facet=True, many=True),
        Field("publisher", Kind.VALUE, "The dataset publisher (its team)", facet=True),
        Field("license", Kind.VALUE, "The dataset license", facet=True),
        Field("language", Kind.VALUE, "The language of the dataset (iso code)", facet=True),
        Field("modified", Kind.DATE, "The last modification date", facet=True, sortable=True),
        Field("issued", Kind.DATE, "The first publication date", facet=True, sortable=True),
        Field("created", Kind.DATE, "The creation date", facet=True, sortable=True),
        Field(
            "records_count", Kind.NUMBER, "The number of resources of the dataset", sortable=True
        ),
    )
}
# The facets of seed 003's list for which a dataset here holds nothing: accepted, never valued.
EMPTY_FACETS = frozenset(
    {"accrualperiodicity", "granularity", "dataquality", "creator", "contributor"}
)
FACETS = tuple(name for name, field in FIELDS.items() if field.facet)
# Other names for the same fields: CKAN's (package_search q and fq) and the desktop's own.
ALIASES: dict[str, str] = {
    "id": "datasetid",
    "name": "datasetid",
    "tag": "keyword",
    "tags": "keyword",
    "topic": "theme",
    "topics": "theme",
    "groups": "theme",
    "team": "publisher",
    "organization": "publisher",
    "licence": "license",
    "license_id": "license",
    "license_title": "license",
    "notes": "description",
    "metadata_modified": "modified",
    "metadata_created": "created",
    "num_resources": "records_count",
}
# The full-text fields (a word without a field looks in all of them).
FULL_TEXT = ("datasetid", "title", "description", "keyword")


def field_named(name: str) -> Field | None:
    """The field `name` (or an alias of it) stands for; None for no field."""
    return FIELDS.get(ALIASES.get(name, name))


def completions() -> list[str]:
    """Every field name a query may use, for a search box's completer."""
    return sorted({*FIELDS, *ALIASES})
