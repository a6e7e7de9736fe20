"""What a dataset is: one typed table of its fields, and of its resources' and links' fields.

The record is the DataPress dataset JSON of seed 002 (the richest shape of the five seeds),
plus two Catalogue Desk keys: `state` (draft or published) and `embargoUntil`. Everything that
needs to know a field's type, who sets it, whether an edit may change it or whether sync carries
it reads it here: validation, the import shape check, the JSON Patch policy, the sync merge
units, the canonical forms, the CSV and XLSX columns, the form's labels and the OpenAPI
`Dataset` schema. To add a field, add a row here and a migration (and the model's column).

This module imports nothing of ours, so any layer may read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    """What a value is, which decides how it is checked, stored and shown."""

    DATASET_ID = "dataset id"  # five lower-case letters or digits
    TEXT = "text"
    HTML = "html"  # a description; its plain text is derived
    URL = "url"  # http(s)
    FILE_URL = "file url"  # where a file is: http(s), or ftp, ftps, sftp as portals allow
    EMAIL = "email"
    DATE = "date"  # YYYY-MM-DD
    MONTH = "month"  # YYYY-MM
    TIMESTAMP = "timestamp"  # ISO 8601
    INTEGER = "integer"
    BYTES = "bytes"  # a size: a whole number, not negative
    HASH = "hash"  # <algorithm>:<hex> (md5, sha1, sha256, sha512) or bare MD5 hex
    CHOICE = "choice"  # one of `choices`
    TEXT_LIST = "text list"  # e.g. tags
    TEAM_REF = "team"  # a team id
    TEAM_REFS = "teams"  # a list of team ids
    USER_REFS = "users"  # a list of user ids (integers)
    CUSTOM = "custom"  # site-defined: name -> text or list of text
    OBJECT = "object"  # a few named sub-fields (`parts`)
    CHILDREN = "children"  # resources or links, keyed by their ids


class SetBy(Enum):
    """Who sets a field."""

    USER = "user"  # an edit: the form, a PATCH, an import, a pull
    CATALOGUE = "catalogue"  # set once when the dataset is made (id, createdAt, site)
    DERIVED = "derived"  # computed from other fields (descriptionText, updatedAt)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record, a resource, a link, or of one of their objects."""

    name: str  # the key in the seed-002 JSON
    kind: Kind
    label: str  # what a person sees
    nullable: bool = True  # null is a value (and the empty value of an optional field)
    required: bool = False  # must hold a non-empty value
    # Text: the most characters accepted; a list: of each item. Every field that holds text or
    # a list has a limit, so that no record from outside (a PATCH, a file, a portal) can be
    # larger than a catalogue record could sensibly be.
    max_length: int | None = None
    max_items: int | None = None  # a list or CHILDREN: the most items
    set_by: SetBy = SetBy.USER
    # An edit may not change it: for a dataset, fields the catalogue sets; for a resource or a
    # link, the fields seed 002 marks [immutable] (a new child may carry them).
    immutable: bool = False
    synced: bool = True  # compared and carried by sync (catalogue-set and derived: never)
    publish: bool = False  # changing it needs publish_dataset (publication and access)
    choices: tuple[str, ...] = ()
    default: Any = None  # the value of a new, empty record
    parts: tuple[Field, ...] = ()  # OBJECT: its sub-fields; CHILDREN: the child's fields
    # Our tables (CSV, XLSX): the column name, when it is not `name` (or, for an object's
    # part, not the object's name followed by the part's capitalised name).
    column: str | None = None
    # Our tables: read-only columns derived from this field, written right after it.
    companions: tuple[str, ...] = ()
    # Our tables: "all" (every export), "desktop" (the desktop XLSX only) or "none".
    table: str = "all"
    doc: str = ""  # the OpenAPI description

    @property
    def is_list(self) -> bool:
        return self.kind in LIST_KINDS

    @property
    def is_text(self) -> bool:
        return self.kind in TEXT_KINDS

    def part(self, name: str) -> Field:
        return next(p for p in self.parts if p.name == name)

    def empty(self) -> Any:
        """The value of this field in a new record."""
        if self.kind is Kind.OBJECT:
            return {p.name: p.empty() for p in self.parts if p.nullable or p.default is not None}
        if self.kind in (Kind.CHILDREN, Kind.CUSTOM):
            return {}
        if self.is_list:
            return []
        return self.default


TEXT_KINDS = frozenset(
    {
        Kind.DATASET_ID,
        Kind.TEXT,
        Kind.HTML,
        Kind.URL,
        Kind.FILE_URL,
        Kind.EMAIL,
        Kind.DATE,
        Kind.MONTH,
        Kind.TIMESTAMP,
        Kind.HASH,
        Kind.CHOICE,
        Kind.TEAM_REF,
    }
)
LIST_KINDS = frozenset({Kind.TEXT_LIST, Kind.TEAM_REFS, Kind.USER_REFS})

_IMMUTABLE_DOC = "[immutable]"
# Limits (characters, items). Generous for any real catalogue: CKAN caps a tag at 100
# characters, browsers and sitemaps a URL at about 2,000.
URL_LENGTH = 4096
TITLE_LENGTH = 1000  # real catalogues hold titles over 500 characters (issue 11)
# A dataset's title and a file's: required, and generous.
REQUIRED_TITLE = Field(
    "title", Kind.TEXT, "Title", nullable=False, required=True, max_length=TITLE_LENGTH, default=""
)
DESCRIPTION_LENGTH = 100_000
NOTE_LENGTH = 20_000  # a file's or link's description
NAME_LENGTH = 100  # a tag, a topic, a team id
TAGS = 200
CHILDREN_ITEMS = 1000  # files, links
MEMBERS = 1000  # collaborators, read users, read teams

RESOURCE = Field(
    "resources",
    Kind.CHILDREN,
    "Files",
    nullable=False,
    max_items=CHILDREN_ITEMS,
    companions=("resourceCount",),
    table="none",  # its own table (the resources CSV and sheet)
    doc="A file of a dataset (seed 002), keyed by its id in `resources`",
    parts=(
        Field("order", Kind.INTEGER, "Order", nullable=False, default=0),
        REQUIRED_TITLE,
        Field(
            "url",
            Kind.FILE_URL,
            "URL",
            nullable=False,
            max_length=URL_LENGTH,
            immutable=True,
            doc="[immutable] download URL: http, https, ftp, ftps or sftp",
            default="",
        ),
        Field("filename", Kind.TEXT, "File name", max_length=TITLE_LENGTH),
        Field(
            "description",
            Kind.TEXT,
            "Description",
            nullable=False,
            max_length=NOTE_LENGTH,
            default="",
        ),
        Field(
            "timeFrame",
            Kind.OBJECT,
            "Time frame",
            nullable=False,
            parts=(
                Field(
                    "gte",
                    Kind.MONTH,
                    "From",
                    nullable=False,
                    column="timeFrameFrom",
                    doc="ISO month, from",
                ),
                Field(
                    "lte",
                    Kind.MONTH,
                    "To",
                    nullable=False,
                    column="timeFrameTo",
                    doc="ISO month, to",
                ),
            ),
        ),
        Field("format", Kind.TEXT, "Format", max_length=40, immutable=True, doc=_IMMUTABLE_DOC),
        Field("size", Kind.BYTES, "Size", immutable=True, doc="[immutable] bytes"),
        Field(
            "hash",
            Kind.HASH,
            "Hash",
            max_length=135,  # "sha512:" and 128 hex digits
            immutable=True,
            doc="[immutable] `<algorithm>:<hex digest>` (md5, sha1, sha256, sha512), or an "
            "MD5 hex digest alone",
        ),
        Field("timestamp", Kind.TIMESTAMP, "Timestamp", max_length=32),
        Field(
            "origin",
            Kind.TEXT,
            "Origin",
            max_length=URL_LENGTH,
            immutable=True,
            doc=_IMMUTABLE_DOC,
            table="none",
        ),
    ),
)

LINK = Field(
    "links",
    Kind.CHILDREN,
    "Links",
    nullable=False,
    max_items=CHILDREN_ITEMS,
    companions=("linkCount",),
    table="none",  # its own sheet
    doc="An external link of a dataset (seed 002), keyed by its id in `links`",
    parts=(
        Field("order", Kind.INTEGER, "Order", nullable=False, default=0),
        Field("title", Kind.TEXT, "Title", nullable=False, max_length=TITLE_LENGTH, default=""),
        Field(
            "url",
            Kind.FILE_URL,
            "URL",
            nullable=False,
            required=True,
            max_length=URL_LENGTH,
            default="",
            doc="http, https, ftp, ftps or sftp",
        ),
        Field(
            "description",
            Kind.TEXT,
            "Description",
            nullable=False,
            max_length=NOTE_LENGTH,
            default="",
        ),
        Field(
            "qa",
            Kind.OBJECT,
            "Link check",
            nullable=False,
            immutable=True,
            doc="[immutable] the last quality check of the link",
            parts=(
                Field("httpStatus", Kind.INTEGER, "HTTP status", column="httpStatus"),
                Field("size", Kind.BYTES, "Size", column="size"),
                Field("mimetype", Kind.TEXT, "Media type", max_length=255, column="mimetype"),
                Field("hash", Kind.TEXT, "Hash", max_length=255, column="hash"),
                Field("timestamp", Kind.TIMESTAMP, "Checked", max_length=32, column="qaTimestamp"),
            ),
        ),
    ),
)

_CATALOGUE = {"set_by": SetBy.CATALOGUE, "immutable": True, "synced": False}

DATASET: tuple[Field, ...] = (
    Field(
        "id",
        Kind.DATASET_ID,
        "Id",
        nullable=False,
        max_length=36,
        companions=("webpage",),
        doc=_IMMUTABLE_DOC,
        **_CATALOGUE,  # type: ignore[arg-type]
    ),
    REQUIRED_TITLE,
    Field(
        "description",
        Kind.HTML,
        "Description",
        nullable=False,
        max_length=DESCRIPTION_LENGTH,
        default="",
        companions=("descriptionText",),
        doc="HTML",
    ),
    Field(
        "descriptionText",
        Kind.TEXT,
        "Description (text)",
        nullable=False,
        set_by=SetBy.DERIVED,
        synced=False,
        default="",
        table="none",  # a companion of description
        doc="description without HTML (derived, read-only)",
    ),
    Field("descriptionIframe", Kind.URL, "Iframe", max_length=URL_LENGTH, table="desktop"),
    Field("masthead", Kind.TEXT, "Masthead", max_length=100, companions=("mastheadTitle",)),
    Field("tags", Kind.TEXT_LIST, "Tags", nullable=False, max_length=NAME_LENGTH, max_items=TAGS),
    Field(
        "topics",
        Kind.TEXT_LIST,
        "Topics",
        nullable=False,
        max_length=NAME_LENGTH,
        max_items=TAGS,
        companions=("topicTitles",),
    ),
    Field("nextReviewDate", Kind.DATE, "Next review"),
    Field(
        "licence",
        Kind.OBJECT,
        "Licence",
        nullable=False,
        parts=(
            Field("url", Kind.URL, "Licence URL", max_length=URL_LENGTH),
            Field("title", Kind.TEXT, "Licence", max_length=TITLE_LENGTH),
        ),
    ),
    Field(
        "contact",
        Kind.OBJECT,
        "Contact",
        nullable=False,
        parts=(
            Field("email", Kind.EMAIL, "Contact email", max_length=254),  # RFC 5321's path
            Field("title", Kind.TEXT, "Contact", max_length=TITLE_LENGTH),
        ),
    ),
    Field(
        "custom",
        Kind.CUSTOM,
        "Custom fields",
        nullable=False,
        doc="Site-defined fields: a string or a list of strings",
    ),
    Field(
        "sharing",
        Kind.CHOICE,
        "Sharing",
        nullable=False,
        max_length=10,
        publish=True,
        choices=("public", "private"),
        default="public",
    ),
    Field(
        "team", Kind.TEAM_REF, "Owner team", max_length=100, publish=True, companions=("teamTitle",)
    ),
    RESOURCE,
    LINK,
    Field(
        "collaborators",
        Kind.USER_REFS,
        "Collaborators",
        nullable=False,
        max_items=MEMBERS,
        publish=True,
        table="none",
    ),
    Field(
        "readusers",
        Kind.USER_REFS,
        "Read users",
        nullable=False,
        max_items=MEMBERS,
        publish=True,
        table="none",
    ),
    Field(
        "readteams",
        Kind.TEAM_REFS,
        "Read teams",
        nullable=False,
        max_length=NAME_LENGTH,
        max_items=MEMBERS,
        publish=True,
        table="none",
    ),
    Field(
        "createdAt",
        Kind.TIMESTAMP,
        "Created",
        nullable=False,
        max_length=24,
        doc=_IMMUTABLE_DOC,
        **_CATALOGUE,  # type: ignore[arg-type]
    ),
    Field(
        "updatedAt",
        Kind.TIMESTAMP,
        "Updated",
        nullable=False,
        max_length=24,
        set_by=SetBy.DERIVED,
        synced=False,
        doc="set to now by an edit, unless a patch sets it",
    ),
    Field(
        "state",
        Kind.CHOICE,
        "State",
        nullable=False,
        max_length=10,
        publish=True,
        choices=("draft", "published"),
        default="draft",
        table="desktop",
        doc="Catalogue Desk extension: publication state",
    ),
    Field(
        "embargoUntil",
        Kind.DATE,
        "Embargo until",
        publish=True,
        table="desktop",
        doc="Catalogue Desk extension: hidden from the public until this date",
    ),
    Field(
        "site",
        Kind.TEXT,
        "Site",
        nullable=False,
        max_length=100,
        default="",
        table="desktop",
        doc=_IMMUTABLE_DOC,
        **_CATALOGUE,  # type: ignore[arg-type]
    ),
)

FIELDS: Mapping[str, Field] = {f.name: f for f in DATASET}
RESOURCE_FIELDS: Mapping[str, Field] = {f.name: f for f in RESOURCE.parts}
LINK_FIELDS: Mapping[str, Field] = {f.name: f for f in LINK.parts}
CHILDREN: Mapping[str, Field] = {"resources": RESOURCE, "links": LINK}

# The keys an edit may not set: the catalogue's and the derived ones.
CATALOGUE_KEYS = frozenset(f.name for f in DATASET if f.set_by is SetBy.CATALOGUE)
DERIVED_KEYS = frozenset(f.name for f in DATASET if f.set_by is SetBy.DERIVED)
# What the three-way sync compares, in table order (resources and links by child id).
SYNC_KEYS: tuple[str, ...] = tuple(f.name for f in DATASET if f.synced)
# Changing these needs publish_dataset.
PUBLISH_KEYS = frozenset(f.name for f in DATASET if f.publish)
RESOURCE_IMMUTABLE_KEYS: tuple[str, ...] = tuple(f.name for f in RESOURCE.parts if f.immutable)
LINK_IMMUTABLE_KEYS: tuple[str, ...] = tuple(f.name for f in LINK.parts if f.immutable)


def label(name: str) -> str:
    """A dataset field's label, for messages and dialogs (the key itself if unknown)."""
    field = FIELDS.get(name)
    return field.label if field else name
