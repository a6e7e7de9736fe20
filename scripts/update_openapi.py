"""Rewrites the record's schemas in resources/openapi.json from the field table.

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

DOCUMENT = ROOT / "app" / "resources" / "openapi.json"


def main() -> None:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    document["components"]["schemas"].update(record_schemas())
    DOCUMENT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
