"""Edit a dataset with an RFC 6902 JSON Patch over its seed-002 record (no HTTP here).

The patch applies to the full record `records.dataset_to_record` gives, the same JSON that
`GET /api/dataset/:id` returns; the server's PATCH route and the sync service both call
`patch_dataset`. One call is one edit: the caller's transaction holds the permission check, the
patch, validation and the history version, so an edit lands whole or not at all.

What a patch may not do, and how it is refused (`status` is the HTTP mapping the server uses):

- not be a JSON Patch (not a list of operation objects, unknown op, bad pointer): InvalidPatch, 400;
- not apply to the current record (a `test` op fails, a path to remove or replace is missing):
  PatchConflict, 409 (RFC 5789 section 2.2, "conflicting state"; the `test` op is how a JSON
  Patch client says "only if nobody changed this meanwhile", as StaleEdit is 409);
- change a field the catalogue sets: `id`, `createdAt`, `site` (set by the catalogue),
  `descriptionText` (derived from `description`), and of a resource or link that stays in the
  dataset the fields seed 002 marks [immutable]: resource `url`, `format`, `hash`, `size`,
  `origin`, link `qa`: ImmutableFieldChanged, 422, naming each JSON pointer. A new resource or
  link may carry them (it is being created), and a whole one may be removed;
- leave a record that fails validation: PatchedRecordInvalid, 422, with the field errors keyed
  by JSON pointer (a wrong type, a value over its field's limit, a duplicate in a list, an
  unknown user or team, or a topic or masthead the catalogue does not list);
- cost more than its size: PatchTooLarge, 422. A patch holds at most MAX_OPERATIONS operations
  (InvalidPatch), no value or path deeper than MAX_DEPTH, and the record it builds stays under
  MAX_RECORD_SIZE as it grows: `copy` (and `move`) are charged the size of what they carry before
  they run, so a chain of copies that doubles the record is refused after a few steps, and the
  work of any patch is linear in its body plus MAX_RECORD_SIZE.

All of it is checked before the session is touched by a write: a refused patch stores nothing.
A patch whose result is the stored record (in its stored form) makes no version.

Rights come from `visibility.permissions_for` only: edit_dataset to patch at all; a patch that
changes publication (`state`, `embargoUntil`) or who may read or edit (`sharing`, `team`,
`collaborators`, `readusers`, `readteams`) also needs publish_dataset, as publishing through
services.publication does (owner-team members have it; collaborators and edit-only rulesets
do not).

`updatedAt` is set to now by an edit, unless the patch sets it itself (seed 002: DataPress does
not touch it on a patch, so clients that sync set it): then the patched value is kept.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import jsonpatch
import jsonpointer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Masthead, Topic
from app.services import datasets
from app.services.clock import parse_utc
from app.services.errors import CatalogueError, PermissionDenied, ValidationFailed
from app.services.mappings.datapress import ACCESS_KEYS
from app.services.permissions import Permission
from app.services.record.fields import (
    CATALOGUE_KEYS,
    DERIVED_KEYS,
    FIELDS,
    LINK_IMMUTABLE_KEYS,
    PUBLISH_KEYS,
    RESOURCE_IMMUTABLE_KEYS,
)
from app.services.record.shape import check_shape
from app.services.records import Record, dataset_to_record
from app.services.visibility import READ, Principal, permissions_for

CONTENT_TYPE = "application/json-patch+json"
MAX_OPERATIONS = 1_000
# Containers deep, a value's place included: the record itself is 4 deep
# (/resources/k93/timeFrame/gte), so nothing a record holds comes near it; deeper values would
# reach Python's recursion limit in copy, comparison and encoding.
MAX_DEPTH = 10
# The patched record's size, in characters of its text plus one per value: what the field table
# allows a record to hold (records.fields limits) fits many times over.
MAX_RECORD_SIZE = 8_000_000
# What an edit may not change, and what needs publish_dataset: from the field table.
FIXED_KEYS = CATALOGUE_KEYS | (DERIVED_KEYS - {"updatedAt"})  # updatedAt: see the docstring


class InvalidPatch(CatalogueError):
    """The body is not an RFC 6902 patch document."""

    code = "invalid_patch"


class PatchConflict(CatalogueError):
    """The patch does not apply to the dataset as it is now."""

    code = "patch_conflict"

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class PatchTestFailed(PatchConflict):
    code = "patch_test_failed"


class PatchUnprocessable(ValidationFailed):
    """The patch is well formed and applies, but the result may not be stored (422)."""


class ImmutableFieldChanged(PatchUnprocessable):
    code = "immutable_field"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.message = "The patch changes fields that cannot be changed: " + ", ".join(errors)
        self.args = (self.message,)


class PatchedRecordInvalid(PatchUnprocessable):
    pass


class PatchTooLarge(PatchUnprocessable):
    """The patch would nest values too deep or build a record too large (module docstring)."""

    code = "patch_too_large"


def parse_patch(document: Any) -> jsonpatch.JsonPatch:
    """A decoded JSON body as a JsonPatch; InvalidPatch if it is not one."""
    if not isinstance(document, list):
        raise InvalidPatch("A JSON Patch is a JSON array of operations (RFC 6902)")
    if len(document) > MAX_OPERATIONS:
        raise InvalidPatch(f"A patch may hold at most {MAX_OPERATIONS} operations")
    for index, operation in enumerate(document):
        if not isinstance(operation, dict):
            raise InvalidPatch(f"Operation {index} is not a JSON object")
        for member in ("op", "path"):
            if not isinstance(operation.get(member), str):
                raise InvalidPatch(f"Operation {index} needs a string {member!r}")
        if operation["op"] in ("move", "copy") and not isinstance(operation.get("from"), str):
            raise InvalidPatch(f"Operation {index} ({operation['op']}) needs a string 'from'")
        if operation["op"] in ("add", "replace", "test") and "value" not in operation:
            raise InvalidPatch(f"Operation {index} ({operation['op']}) needs a 'value'")
        _check_depth(operation)
    try:
        # The constructor builds every operation: an unknown op or a bad pointer fails here.
        patch = jsonpatch.JsonPatch(document)
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException) as error:
        raise InvalidPatch(f"Not a valid JSON Patch: {error}") from error
    return patch


def apply_patch(record: Record, patch: jsonpatch.JsonPatch | Sequence[Any]) -> Any:
    """`record` with `patch` applied (a new object; `record` is left alone). PatchTooLarge if
    a step would make the record larger than MAX_RECORD_SIZE or deeper than MAX_DEPTH."""
    if not isinstance(patch, jsonpatch.JsonPatch):
        patch = parse_patch(list(patch))
    document: Any = copy.deepcopy(record)
    # What the record may still grow by: the body's values are bounded by the body's size (the
    # server's limit), so only what copy and move take from the record itself is counted.
    budget = MAX_RECORD_SIZE - _measure(document, MAX_RECORD_SIZE, "", 0)
    try:
        for raw in patch.patch:
            if raw["op"] in ("copy", "move"):
                carried = jsonpointer.resolve_pointer(document, raw["from"])
                budget -= _measure(carried, budget, raw["path"], raw["path"].count("/"))
            document = jsonpatch.JsonPatch([raw]).apply(document, in_place=True)
    except jsonpatch.JsonPatchTestFailed as error:
        raise PatchTestFailed(f"A test operation failed: {error}") from error
    except jsonpatch.JsonPatchConflict as error:
        raise PatchConflict(f"The patch does not apply to the dataset: {error}") from error
    except jsonpointer.JsonPointerException as error:
        raise PatchConflict(f"The patch does not apply to the dataset: {error}") from error
    except jsonpatch.InvalidJsonPatch as error:
        raise InvalidPatch(f"Not a valid JSON Patch: {error}") from error
    except (TypeError, ValueError, KeyError, IndexError) as error:
        # jsonpatch lets some type mismatches through, e.g. a pointer into a string.
        raise PatchConflict(f"The patch does not apply to the dataset: {error!r}") from error
    return document


def _check_depth(operation: dict[str, Any]) -> None:
    """PatchTooLarge if `operation`'s pointers or value reach deeper than MAX_DEPTH."""
    path = operation["path"]
    depth = path.count("/")  # a pointer's reference tokens; the record's root is level 0
    for pointer in (path, operation.get("from")):
        if isinstance(pointer, str) and pointer.count("/") > MAX_DEPTH:
            raise PatchTooLarge({_shown(pointer): f"is deeper than {MAX_DEPTH} levels"})
    if "value" in operation:
        # The value's size is bounded by the body's; only its depth is checked here.
        _measure(operation["value"], MAX_RECORD_SIZE, path, depth)


def _measure(value: Any, budget: int, path: str, depth: int) -> int:
    """The size of `value` (characters of its text and keys, plus one per value), walked
    without recursion and no further than it must: PatchTooLarge as soon as the size passes
    `budget` or a container sits deeper than MAX_DEPTH once placed at `path` (`depth` deep)."""
    size = 0
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        size += 1
        if isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                raise PatchTooLarge({_shown(path): f"nests values deeper than {MAX_DEPTH} levels"})
            if isinstance(item, dict):
                size += sum(len(key) for key in item)
                stack.extend((child, level + 1) for child in item.values())
            else:
                stack.extend((child, level + 1) for child in item)
        elif isinstance(item, str):
            size += len(item)
        if size > budget:
            too_large = f"would make the dataset larger than {MAX_RECORD_SIZE:,} characters"
            raise PatchTooLarge({_shown(path): too_large})
    return size


def _shown(pointer: str) -> str:
    """A pointer as an error names it: cut (a body may send a megabyte of one)."""
    return pointer[:200]


def immutable_changes(before: Record, after: Any) -> dict[str, str]:
    """JSON pointers of the fields `after` changes that no edit may change."""
    changed: dict[str, str] = {}
    if not isinstance(after, dict):
        return changed
    for key in sorted(FIXED_KEYS):
        if after.get(key, _MISSING) != before.get(key, _MISSING):
            reason = "is derived" if key in DERIVED_KEYS else "is immutable"
            changed[_pointer(key)] = reason
    for kind, keys in (
        ("resources", RESOURCE_IMMUTABLE_KEYS),
        ("links", LINK_IMMUTABLE_KEYS),
    ):
        old_children = before.get(kind) or {}
        new_children = after.get(kind)
        if not isinstance(new_children, dict):
            continue
        for child_id, new in new_children.items():
            old = old_children.get(child_id)
            if old is None or not isinstance(new, dict):
                continue  # a new child, or a shape error that validation reports
            for key in keys:
                if new.get(key, _MISSING) != old.get(key, _MISSING):
                    changed[_pointer(kind, child_id, key)] = "is immutable"
    return changed


def shape_errors(after: Any) -> dict[str, str]:
    """Type errors that would stop the record from being read at all (validation checks the
    values), unknown keys included; keyed by JSON pointer."""
    if not isinstance(after, dict):
        return {"": "the dataset must be a JSON object"}
    _, found = check_shape(after, unknown=True)
    errors = {_pointer(*path): message for path, message in found.items()}
    updated = after.get("updatedAt")
    if isinstance(updated, str) and not _is_timestamp(updated):
        errors["/updatedAt"] = "must be an ISO 8601 timestamp"
    return errors


def patch_dataset(
    session: Session,
    principal: Principal,
    dataset_id: str,
    patch: jsonpatch.JsonPatch | Sequence[Any],
    *,
    author: str,
    expected_version: int | None = None,
) -> Record:
    """Apply `patch` to dataset `dataset_id` as `principal`; the stored record.

    NotFound if there is no such dataset; PermissionDenied without read and edit rights (or
    publish rights for the publication and access fields); InvalidPatch, PatchConflict,
    ImmutableFieldChanged or PatchedRecordInvalid as the module docstring says. Call inside
    `Database.transaction()`; the new history version is authored by `author`.
    """
    if not isinstance(patch, jsonpatch.JsonPatch):
        patch = parse_patch(list(patch))
    dataset = datasets.get_dataset(session, dataset_id)
    granted = permissions_for(session, principal, dataset)
    if not granted & READ:
        raise PermissionDenied(f"You may not read dataset {dataset_id}")
    if not granted & Permission.EDIT_DATASET:
        raise PermissionDenied(f"You may not edit dataset {dataset_id} (edit_dataset)")
    if not granted & Permission.PUBLISH_DATASET:
        _refuse_reading_withheld(patch, dataset_id)
    before = dataset_to_record(dataset)
    after = apply_patch(before, patch)
    immutable = immutable_changes(before, after)
    if immutable:
        raise ImmutableFieldChanged(immutable)
    shape = shape_errors(after) or unknown_entries(session, before, after)
    if shape:
        raise PatchedRecordInvalid(shape)
    needs_publish = sorted(k for k in PUBLISH_KEYS if after.get(k) != before.get(k))
    if needs_publish and not granted & Permission.PUBLISH_DATASET:
        fields = ", ".join(_pointer(k) for k in needs_publish)
        raise PermissionDenied(
            f"Changing {fields} of dataset {dataset_id} needs publish_dataset, which you lack"
        )
    updated = after.get("updatedAt")
    own_timestamp = isinstance(updated, str) and updated != before["updatedAt"]
    record = {k: v for k, v in after.items() if k not in FIXED_KEYS}
    # update_dataset merges onto the stored record: a removed field must be cleared, not kept.
    for key in FIELDS.keys() - set(after) - FIXED_KEYS - {"updatedAt"}:
        record[key] = None
    if not own_timestamp:
        record.pop("updatedAt", None)
    try:
        return datasets.update_dataset(
            session,
            dataset_id,
            record,
            author=author,
            expected_version=expected_version,
            action="patch",
            touch=not own_timestamp,
        )
    except PatchUnprocessable:
        raise
    except ValidationFailed as error:
        # Validation names fields by dotted path (`resources.k93.timeFrame.lte`): as pointers.
        pointers = {_dotted_pointer(path): message for path, message in error.errors.items()}
        raise PatchedRecordInvalid(pointers) from error


def _refuse_reading_withheld(patch: jsonpatch.JsonPatch, dataset_id: str) -> None:
    """The access lists and embargo are withheld from a caller who may not publish the dataset
    (mappings.datapress.for_reader); a `test`, or a `copy`/`move` out of them (or of the whole
    record), would read them back one guess at a time, so it needs publish_dataset too."""
    for operation in patch.patch:
        pointers = [operation.get("from")] if operation.get("op") in ("copy", "move") else []
        if operation.get("op") == "test":
            pointers.append(operation.get("path"))
        for pointer in pointers:
            if not isinstance(pointer, str):
                continue
            first = pointer.split("/")[1] if pointer.startswith("/") else ""
            if pointer == "" or first in ACCESS_KEYS:
                raise PermissionDenied(
                    f"Reading {pointer or 'the whole record'} of dataset {dataset_id} "
                    "needs publish_dataset, which you lack"
                )


def unknown_entries(session: Session, before: Record, after: Record) -> dict[str, str]:
    """The topics and the masthead `after` names that the catalogue's managed lists lack,
    keyed by pointer. Only what the patch brings in: an imported record may keep an entry the
    lists have since lost, and an edit of its title must not fail over it."""
    errors: dict[str, str] = {}
    topics = [t for t in after.get("topics") or [] if t not in (before.get("topics") or [])]
    if topics:
        known = set(session.scalars(select(Topic.id).where(Topic.id.in_(topics))))
        for index, topic in enumerate(after["topics"]):
            if topic in topics and topic not in known:
                errors[_pointer("topics", str(index))] = f"is not a topic of the catalogue: {topic}"
    masthead = after.get("masthead")
    if (
        masthead
        and masthead != before.get("masthead")
        and session.scalar(select(Masthead.id).where(Masthead.id == masthead)) is None
    ):
        errors["/masthead"] = f"is not a masthead of the catalogue: {masthead}"
    return errors


_MISSING = object()


def _pointer(*parts: str) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _dotted_pointer(path: str) -> str:
    return path if not path or path.startswith("/") else _pointer(*path.split("."))


def _is_timestamp(value: str) -> bool:
    try:
        parse_utc(value)
    except ValueError:
        return False
    return True
