"""The OpenAPI description of seed 003's dataset search and lookup (server.opendatasoft_api),
written from the same tables the server reads: the facets and sortable fields of
query_language.fields, the bounds of dataset_search.request, the formats of
formats.opendatasoft. scripts/update_openapi.py puts it into resources/openapi.json."""

from __future__ import annotations

from typing import Any

from app.services.dataset_search.request import (
    ALL_FACETS,
    MAX_ROWS,
    MAX_START,
    MAX_VALUE,
    SORTABLE,
)
from app.services.formats import opendatasoft as ods
from app.services.query_language.syntax import MAX_LENGTH

TAG = {
    "name": "Opendatasoft (Search API v1)",
    "description": "Seed 003's dataset catalog API: search with the query language and facets, "
    "and lookup",
}
_ERROR = {"$ref": "#/components/schemas/OdsError"}


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}  # fmt: skip


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _output_parameters(formats: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        _query(
            "format",
            "json (default), or csv or rss for a search; a callback makes JSON into JSONP",
            {"type": "string", "enum": list(formats)},
        ),
        _query("pretty_print", "Indent the JSON", {"type": "string", "enum": ["true", "false"]}),
        _query(
            "callback",
            "JSONP: the answer as a call of this JavaScript function",
            {"type": "string", "pattern": f"^{ods.CALLBACK.pattern}$", "maxLength": 100},
        ),
        _query("apikey", "An API key (or Authorization: Apikey KEY)", {"type": "string"}),
    ]


def _search_parameters() -> list[dict[str, Any]]:
    sorts = [*SORTABLE, *(f"-{name}" for name in SORTABLE)]
    parameters = [
        _query(
            "q",
            "The query language of seed 003: words (each the beginning of a word), "
            '"phrases", AND, OR, NOT, parentheses, field:value, comparisons and ranges on '
            "dates and numbers (modified >= 2024/01/01, modified:[2020 TO 2024]), "
            "#now(), #null(), #exact(), #search(), #startswith(). A malformed query is a "
            "400 that says where.",
            {"type": "string", "maxLength": MAX_LENGTH},
        ),
        _query(
            "facet",
            "Count this facet's values (repeatable)",
            {"type": "array", "items": {"type": "string", "enum": list(ALL_FACETS)}},
            style="form",
            explode=True,
        ),
        _query(
            "sort",
            "Descending by this field; ascending with a leading -",
            {"type": "string", "enum": sorts},
        ),
        _query(
            "rows", "Datasets in the page", {"type": "integer", "minimum": 0, "maximum": MAX_ROWS}
        ),
        _query(
            "start",
            "Index of the first dataset of the page, from 0",
            {"type": "integer", "minimum": 0, "maximum": MAX_START},
        ),
    ]
    value = {"type": "string", "maxLength": MAX_VALUE}
    for facet in ALL_FACETS:
        parameters += [
            _query(f"refine.{facet}", f"Only datasets with this {facet}", value),
            _query(f"exclude.{facet}", f"No dataset with this {facet}", value),
            _query(
                f"disjunctive.{facet}",
                f"Several refine.{facet} values: any of them rather than all",
                {"type": "string", "enum": ["true", "false"]},
            ),
        ]
    return parameters + _output_parameters(("json", "csv", "rss"))


def _ref(parameter: dict[str, Any]) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{_component_name(parameter['name'])}"}


def _component_name(name: str) -> str:
    return "ods_" + name.replace(".", "_")


def openapi_parameters() -> dict[str, Any]:
    """The parameters of the search and the lookup, for `components.parameters`."""
    found = {_component_name(p["name"]): p for p in _search_parameters()}
    found["ods_lookup_format"] = _output_parameters(("json",))[0]
    return found


def _search_ok() -> dict[str, Any]:
    return {
        "description": "A page of the search, its facets",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/OdsSearch"}},
            "application/javascript": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/rss+xml": {"schema": {"type": "string"}},
        },
    }


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> Any:
    return {"operationId": operation_id, "summary": summary, "tags": [TAG["name"]],
            "security": [{}, {"apiKey": []}], **extra, "responses": responses}  # fmt: skip


def _head(operation: dict[str, Any]) -> dict[str, Any]:
    """The HEAD Starlette answers for a GET: its headers only."""
    responses = {
        status: {k: v for k, v in response.items() if k != "content"}
        for status, response in operation["responses"].items()
    }
    return {**operation, "operationId": operation["operationId"] + "Head",
            "summary": f"Headers of: {operation['summary']}", "responses": responses}  # fmt: skip


def openapi_paths() -> dict[str, Any]:
    """The search's and the lookup's entries of `paths`, each with and without the final /."""
    search_responses = {
        "200": _search_ok(),
        "400": _error("A parameter or the query cannot be served (the query: where)"),
        "401": _error("The API key is not valid"),
    }
    post_body = {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
    }
    lookup_responses = {
        "200": {
            "description": "The dataset",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OdsDataset"}},
                "application/javascript": {"schema": {"type": "string"}},
            },
        },
        "400": _error("A parameter cannot be served"),
        "401": _error("The API key is not valid"),
        "404": _error("No dataset the caller may see has this id"),
    }
    dataset_id = {
        "name": "dataset_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 200},
    }
    paths: dict[str, Any] = {}
    for path, suffix in (("/api/datasets/1.0/search/", ""), ("/api/datasets/1.0/search", "Bare")):
        paths[path] = {
            "get": _operation(
                f"odsSearch{suffix}",
                "Search the datasets (seed 003)",
                search_responses,
            ),
            "post": _operation(
                f"odsSearchPost{suffix}",
                "Search the datasets, the parameters as a form",
                {**search_responses, "413": _error("The form is too large")},
                requestBody=post_body,
            ),
            "parameters": [_ref(parameter) for parameter in _search_parameters()],
        }
    for path, suffix in (
        ("/api/datasets/1.0/{dataset_id}/", ""),
        ("/api/datasets/1.0/{dataset_id}", "Bare"),
    ):
        paths[path] = {
            "get": _operation(
                f"odsLookup{suffix}",
                "One dataset (seed 003)",
                lookup_responses,
            ),
            "parameters": [
                dataset_id,
                {"$ref": "#/components/parameters/ods_lookup_format"},
                *(_ref(p) for p in _output_parameters(("json",))[1:]),
            ],
        }
    for item in paths.values():
        item["head"] = _head(item["get"])
    return paths


def openapi_schemas() -> dict[str, Any]:
    """The search answer's schemas, for `components.schemas`."""
    facet_value = {
        "type": "object",
        "required": ["name", "path", "count", "state"],
        "properties": {
            "name": {"type": "string"},
            "path": {"type": "string"},
            "count": {"type": "integer", "minimum": 0},
            "state": {"type": "string", "enum": ["displayed", "refined", "excluded"]},
            "facets": {"type": "array", "items": {"$ref": "#/components/schemas/OdsFacet"}},
        },
    }
    text_or_null = {"type": ["string", "null"]}
    return {
        "OdsError": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string"},
                "code": {"type": "string"},
                "position": {
                    "type": "object",
                    "properties": {"offset": {"type": "integer"}, "column": {"type": "integer"}},
                },
            },
        },
        "OdsFacet": facet_value,
        "OdsDataset": {
            "type": "object",
            "required": ["datasetid", "metas", "has_records", "fields", "attachments", "features"],
            "properties": {
                "datasetid": {"type": "string"},
                "has_records": {"type": "boolean"},
                "metas": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "theme": {"type": "array", "items": {"type": "string"}},
                        "keyword": {"type": "array", "items": {"type": "string"}},
                        "license": text_or_null,
                        "license_url": text_or_null,
                        "publisher": text_or_null,
                        "language": {"type": "string"},
                        "modified": {"type": "string"},
                        "issued": text_or_null,
                        "references": {"type": "string"},
                        "records_count": {"type": "integer", "minimum": 0},
                        "visibility": {"type": "string", "enum": ["domain", "restricted"]},
                    },
                },
                "fields": {"type": "array"},
                "features": {"type": "array", "items": {"type": "string"}},
                "attachments": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "mimetype": {"type": "string"},
                            "url": {"type": "string"},
                        },
                    },
                },
            },
        },
        "OdsSearch": {
            "type": "object",
            "required": ["nhits", "parameters", "datasets", "facet_groups"],
            "properties": {
                "nhits": {"type": "integer", "minimum": 0},
                "parameters": {"type": "object"},
                "datasets": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/OdsDataset"},
                },
                "facet_groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "count", "facets"],
                        "properties": {
                            "name": {"type": "string"},
                            "count": {"type": "integer", "minimum": 0},
                            "facets": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/OdsFacet"},
                            },
                        },
                    },
                },
            },
        },
    }
