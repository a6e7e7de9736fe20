"""The OpenAPI (JSON Schema 2020-12) schemas of the record, generated from the field table:
`Dataset`, its objects (`Licence`, `Contact`, `Custom`) and its children (`Resource`, `Link`).
resources/openapi.json holds them as generated; `scripts/update_openapi.py` rewrites them there
and a test checks that the shipped document is current."""

from __future__ import annotations

from typing import Any

from app.services.mappings.datapress import ACCESS_KEYS
from app.services.record.fields import CHILDREN, DATASET, Field, Kind
from app.services.validation import HASH_PATTERN

Schema = dict[str, Any]

_DESCRIPTION = (
    "The full dataset JSON of DataPress (seed 002), as GET and PATCH /api/dataset/{id} "
    "read and write it"
)
_WITHHELD = "shown only to a caller who may manage the dataset (publish_dataset)"
_PATTERNS = {Kind.DATASET_ID: "^[a-z0-9]{5}$", Kind.HASH: HASH_PATTERN}
_FORMATS = {Kind.DATE: "date"}


def component_name(field: Field) -> str:
    """`licence` -> `Licence`, `resources` -> `Resource`."""
    name = field.name[:-1] if field.kind is Kind.CHILDREN else field.name
    return name[0].upper() + name[1:]


def record_schemas() -> dict[str, Schema]:
    """Component name -> schema, for the record and what it is made of."""
    schemas: dict[str, Schema] = {}
    for field in DATASET:
        if field.kind is Kind.OBJECT:
            schemas[component_name(field)] = _object(field)
        elif field.kind is Kind.CUSTOM:
            schemas[component_name(field)] = _custom(field)
    for child in CHILDREN.values():
        schemas[component_name(child)] = _described(_object(child), child.doc)
    dataset = _described(_object_of(DATASET), _DESCRIPTION)
    # Left out for a caller who may not manage the dataset (mappings.datapress.for_reader).
    dataset["required"] = [k for k in dataset["required"] if k not in ACCESS_KEYS]
    for key in ACCESS_KEYS:
        prop = dataset["properties"][key]
        prop["description"] = f"{prop.get('description', '')} ({_WITHHELD})".strip()
    schemas["Dataset"] = dataset
    return schemas


def _object(field: Field) -> Schema:
    return _described(_object_of(field.parts), field.doc if field.kind is Kind.OBJECT else "")


def _object_of(fields: tuple[Field, ...]) -> Schema:
    return {
        "type": "object",
        "properties": {f.name: _property(f, top=fields is DATASET) for f in fields},
        # A field that cannot be null is left out when it has no value (a time frame's bound).
        "required": [f.name for f in fields if f.nullable or f.default is not None or _always(f)],
        "additionalProperties": False,
    }


def _always(field: Field) -> bool:
    """Present in every stored record even though it may not be null."""
    return (
        field.kind in (Kind.OBJECT, Kind.CUSTOM, Kind.CHILDREN)
        or field.is_list
        or (field.is_text and field.kind is not Kind.MONTH)
    )


def _property(field: Field, *, top: bool) -> Schema:
    kind = field.kind
    if kind is Kind.OBJECT:
        schema = (
            {"$ref": f"#/components/schemas/{component_name(field)}"} if top else _object(field)
        )
        return schema
    if kind is Kind.CUSTOM:
        return {"$ref": f"#/components/schemas/{component_name(field)}"}
    if kind is Kind.CHILDREN:
        return {
            "type": "object",
            "additionalProperties": {"$ref": f"#/components/schemas/{component_name(field)}"},
        }
    if kind is Kind.CHOICE:
        schema = {"enum": list(field.choices)}
    elif field.is_list:
        item = "integer" if kind is Kind.USER_REFS else "string"
        schema = {"type": "array", "items": {"type": item}}
    else:
        json_type = "integer" if kind in (Kind.INTEGER, Kind.BYTES) else "string"
        schema = {"type": [json_type, "null"] if field.nullable else json_type}
        if kind in _PATTERNS:
            schema["pattern"] = _PATTERNS[kind]
        if kind in _FORMATS:
            schema["format"] = _FORMATS[kind]
    return _described(schema, field.doc)


def _custom(field: Field) -> Schema:
    item = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    return _described({"type": "object", "additionalProperties": item}, field.doc)


def _described(schema: Schema, doc: str) -> Schema:
    if doc:
        schema["description"] = doc
    return schema
