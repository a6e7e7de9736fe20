"""The part of planning an import that needs no database, for a chunk of records at a time, so
that a worker process may do it while the planner reads the catalogue (importing.plan,
services.worker_ahead): each record's shape check, and for a record that names its id, the
record a create would write (its stored form) and what validation finds in it. The planner
uses that create when the id turns out to be new, and makes its own otherwise (a copy, an
update, a record without an id).
"""

from __future__ import annotations

from typing import Any

from app.services.errors import ValidationFailed
from app.services.new_datasets import stored_record
from app.services.record.shape import check_shape
from app.services.validation import validate_record

Record = dict[str, Any]
# A record's shape checked (`check_shape`'s record, its problems by dotted path), then the
# create made of it when it names an id (else None) and that create's validation problems.
# With a create, the shaped record is left out (None): it is sent back from a worker, and the
# create is what a plan needs of nearly every record (the planner shapes it again if not).
Shaped = tuple[Record | None, dict[str, str], Record | None, dict[str, str]]
_CHILDREN = ("resources", "links")


def shaped_chunk(records: list[Record], now: str | None, existing: set[str]) -> list[Shaped]:
    """Each record shaped, and made into a create when it names an id that is not one of the
    catalogue's (`existing`); `now`: the plan's time, of a create whose file gives none (None:
    no creates, the planner makes those it needs). The shape check only drops values: a
    record with a create kept its id as given."""
    shaped: list[Shaped] = []
    for given in records:
        record, found = check_shape(given)
        problems = {".".join(path): message for path, message in found.items()}
        dataset_id = record.get("id")
        new = now is not None and dataset_id and dataset_id not in existing
        created = created_form(record, now) if new and now is not None else None
        invalid = validation_problems(created) if created is not None else {}
        shaped.append((None if created is not None else record, problems, created, invalid))
    return shaped


def created_form(record: Record, now: str) -> Record:
    """The dataset a create of `record` (shaped, its id set) writes, in its stored form: the
    description's text derived rather than read, the times the file leaves out are `now`, a
    child without an order has its position. `record` is left as it is."""
    full = dict(record)
    full.pop("descriptionText", None)
    for key in ("createdAt", "updatedAt"):
        full[key] = full.get(key) or now
    for key in _CHILDREN:
        children = full.get(key)
        if not isinstance(children, dict):
            continue
        full[key] = ordered = {}
        for position, (child_id, child) in enumerate(children.items()):
            if isinstance(child, dict) and child.get("order") is None:
                child = {**child, "order": position}
            ordered[child_id] = child
    return stored_record(full)


def validation_problems(record: Record) -> dict[str, str]:
    """What `validate_record` finds wrong with `record`, by path (nothing: an empty dict)."""
    try:
        validate_record(record)
    except ValidationFailed as failure:
        return dict(failure.errors)
    return {}
