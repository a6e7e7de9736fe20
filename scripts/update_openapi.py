"""Rewrites the generated parts of resources/openapi.json: the record's schemas from the field
table, the parameters' schemas (query and CKAN POST bodies) from server/params.py, the web
pages' paths from server/pages.py, the Opendatasoft search's from
server/opendatasoft_openapi.py, and the quotas' 429 (its headers and body in the components,
and a reference in every operation) from server/quotas.py.

    python scripts/update_openapi.py

tests/server/test_openapi.py fails while the shipped document differs from what this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services.record.openapi import record_schemas  # noqa: E402
from app.services.server import opendatasoft_openapi  # noqa: E402
from app.services.server.pages import PAGES_TAG, openapi_paths  # noqa: E402
from app.services.server.params import openapi_body_schemas, openapi_parameters  # noqa: E402
from app.services.server.quotas import openapi_components, with_quota_answer  # noqa: E402

DOCUMENT = ROOT / "app" / "resources" / "openapi.json"


def main() -> None:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    components = document["components"]
    components["schemas"].update(record_schemas())
    components["schemas"].update(openapi_body_schemas())
    components["parameters"] = openapi_parameters(components["parameters"])
    document["paths"].update(openapi_paths())
    document["paths"].update(opendatasoft_openapi.openapi_paths())
    components["schemas"].update(opendatasoft_openapi.openapi_schemas())
    components["parameters"].update(opendatasoft_openapi.openapi_parameters())
    for section, entries in openapi_components().items():
        components.setdefault(section, {}).update(entries)
    document["paths"] = {path: with_quota_answer(item) for path, item in document["paths"].items()}
    for tag in (PAGES_TAG, opendatasoft_openapi.TAG):
        if tag not in document["tags"]:
            document["tags"].append(tag)
    DOCUMENT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
