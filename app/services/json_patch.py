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
- leave a record that fails validation: PatchedRecordInvalid, 422, with the field errors.

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
from sqlalchemy.orm import Session

from app.services import datasets
from app.services.clock import parse_utc
from app.services.errors import CatalogueError, PermissionDenied, ValidationFailed
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
MAX_OPERATIONS = 10_000
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
    try:
        # The constructor builds every operation: an unknown op or a bad pointer fails here.
        patch = jsonpatch.JsonPatch(document)
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException) as error:
        raise InvalidPatch(f"Not a valid JSON Patch: {error}") from error
    return patch


def apply_patch(record: Record, patch: jsonpatch.JsonPatch | Sequence[Any]) -> Any:
    """`record` with `patch` applied (a new object; `record` is left alone)."""
    if not isinstance(patch, jsonpatch.JsonPatch):
        patch = parse_patch(list(patch))
    try:
        return patch.apply(copy.deepcopy(record), in_place=True)
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
    before = dataset_to_record(dataset)
    after = apply_patch(before, patch)
    immutable = immutable_changes(before, after)
    if immutable:
        raise ImmutableFieldChanged(immutable)
    shape = shape_errors(after)
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
        raise PatchedRecordInvalid(error.errors) from error


_MISSING = object()


def _pointer(*parts: str) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _is_timestamp(value: str) -> bool:
    try:
        parse_utc(value)
    except ValueError:
        return False
    return True
