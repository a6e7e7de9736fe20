"""The DataPress adapter (seeds 001 and 002), also the way to sync with another Catalogue Desk.

- list: `GET /api/datasets/export.json` with the key (`Authorization: KEY`, bare, as DataPress
  and our server take it), so private datasets come too; conditional on the last ETag
  (`If-None-Match`), so a 304 means nothing changed. An entry's version is a SHA-256 of the
  entry itself: a change shows even when the portal leaves `updatedAt` alone (seed 002: a PATCH
  does not touch it).
- read: `GET /api/dataset/:id` — 200, 403 (hidden from this key), 404 (gone).
- write: `PATCH /api/dataset/:id`, `application/json-patch+json`, an RFC 6902 patch computed
  from the change: one `add` per changed field (`add` replaces an existing member) and per
  changed sub-field of a resource or link, `remove` for a resource or link gone, and
  `/updatedAt` set to the local edit time, since DataPress does not move it on a patch.
- create, delete: not offered; neither seed documents an endpoint for them (`can_create` and
  `can_delete` are False). A dataset that exists only here is reported by a push.
- file uploads: not offered; seed 002 marks a resource's `url`, `format`, `hash`, `size` and
  `origin` immutable and documents no upload. A new resource is sent with its URL (a link to
  the file); a change to an existing file's immutable fields is reported, not sent.
- test connection: the keyed export (read; read private when private datasets show), then a
  `test`-only PATCH (changes nothing) on up to three datasets for edit.

What is carried is mappings.datapress.SYNC: every field but the people (user and team ids mean
different people on each side), which are reported when set; state and embargoUntil only when
the portal's record has them (a Catalogue Desk server does, DataPress does not). Link QA is
pulled, never pushed (the portal computes it).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from app.services.clock import now_iso
from app.services.datasets import new_child_id
from app.services.mappings import datapress
from app.services.record.shape import check_shape
from app.services.records import Record
from app.services.sync.adapter import (
    CHILD_FIELDS,
    Access,
    Listing,
    MappingReport,
    PortalAdapter,
    PortalAuthError,
    PortalError,
    PortalForbidden,
    RemoteRecord,
    RemoteSummary,
)
from app.services.sync.registry import register

EXPORT_PATH = "/api/datasets/export.json"
PATCH_TYPE = "application/json-patch+json"
CARRIED = tuple(sorted(datapress.SYNC.carried))
RESOURCE_IMMUTABLE = ("url", "format", "hash", "size", "origin")
LINK_IMMUTABLE = ("qa",)


def dataset_path(remote_id: str) -> str:
    return f"/api/dataset/{remote_id}"


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def entry_version(entry: Any) -> str:
    """A listing entry's version: its content, hashed (key order does not matter)."""
    return hashlib.sha256(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@register
class DataPressAdapter(PortalAdapter):
    kind = "datapress"
    can_create = False
    can_delete = False

    # -- read ---------------------------------------------------------------------------------

    async def list_datasets(self, since: str | None) -> Listing:
        headers = {"If-None-Match": since} if since else None
        response, entries = await self.http.get_answer(EXPORT_PATH, headers=headers)
        if response.status_code == 304:
            return Listing([], complete=False, token=since)
        if not isinstance(entries, list):
            raise self.http.malformed("export.json is not a JSON array", response=response)
        summaries: list[RemoteSummary] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise self.http.malformed(
                    f"export.json entry {index} has no string id", response=response
                )
            title = entry.get("title")
            summaries.append(
                RemoteSummary(
                    remote_id=entry["id"],
                    version=entry_version(entry),
                    title=title if isinstance(title, str) else "",
                    local_id=entry["id"],
                )
            )
        return Listing(summaries, complete=True, token=response.headers.get("etag"))

    async def fetch(self, remote_id: str) -> RemoteRecord:
        response, data = await self.http.get_answer(dataset_path(remote_id), dataset=remote_id)
        return self._to_record(remote_id, data, response)

    def _to_record(self, remote_id: str, data: Any, response: Any) -> RemoteRecord:
        """Their seed-002 JSON as our record (the same shape, checked), with the report."""

        def bad(reason: str) -> PortalError:
            return self.http.malformed(reason, dataset=remote_id, response=response)

        if not isinstance(data, dict):
            raise bad("the dataset JSON is not an object")
        if data.get("id") != remote_id:
            raise bad(f"the dataset JSON has id {data.get('id')!r}")
        # Read by the DataPress mapping, checked as an import of the same JSON is.
        read = datapress.from_datapress(data, new_child_id)
        record, problems = check_shape({k: read[k] for k in CARRIED if k in read})
        if problems:
            path, problem = next(iter(problems.items()))
            raise bad(f"{'.'.join(path)} {problem}")
        if "title" not in record:
            raise bad("the dataset JSON has no title")
        record["id"] = remote_id
        for key in ("createdAt", "updatedAt"):
            if isinstance(data.get(key), str):
                record[key] = data[key]
        report = MappingReport()
        for loss in datapress.SYNC.losses(read):
            report.add(remote_id, loss.field, "pull", loss.reason)
        return RemoteRecord(remote_id, record, None, report)

    # -- write --------------------------------------------------------------------------------

    async def update(self, remote_id: str, before: Record, after: Record) -> RemoteRecord | None:
        report = MappingReport()
        patch = build_patch(remote_id, before, after, report)
        if not patch:
            return RemoteRecord(remote_id, dict(before), None, report) if report else None
        patch.append(
            {"op": "add", "path": "/updatedAt", "value": after.get("updatedAt") or now_iso()}
        )
        data = await self.http.send_json(
            "PATCH",
            dataset_path(remote_id),
            patch,
            dataset=remote_id,
            content_type=PATCH_TYPE,
            idempotent=False,
        )
        answer = self._to_record(remote_id, data, None)
        # What the pull side cannot carry was reported when the dataset was read.
        return RemoteRecord(remote_id, answer.record, None, report)

    def outgoing_report(self, dataset: str, record: Record) -> MappingReport:
        report = MappingReport()
        for loss in datapress.SYNC.losses(record):
            report.add(dataset, loss.field, "push", loss.reason)
        return report

    # -- test connection ----------------------------------------------------------------------

    async def check_access(self) -> Access:
        keyed = self.http.has_authorization
        response, entries = await self.http.get_answer(EXPORT_PATH)
        if not isinstance(entries, list):
            raise self.http.malformed("export.json is not a JSON array", response=response)
        ids = [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]
        private = [
            e["id"]
            for e in entries
            if isinstance(e, dict)
            and e.get("sharing") == "private"
            and isinstance(e.get("id"), str)
        ]
        notes = [
            "create: DataPress's API (seeds 001/002) has no endpoint to create a dataset",
            "file uploads: no upload endpoint is documented; new resources are sent as URLs",
        ]
        if private:
            notes.append(f"the key sees {len(private)} private dataset(s)")
        elif keyed:
            notes.append("the key sees no private dataset (it may still have the right)")
        edit = False
        if keyed:
            for dataset_id in [*private, *ids][:3]:
                probe = [{"op": "test", "path": "/id", "value": dataset_id}]
                try:
                    await self.http.send_json(
                        "PATCH",
                        dataset_path(dataset_id),
                        probe,
                        dataset=dataset_id,
                        content_type=PATCH_TYPE,
                    )
                except (PortalForbidden, PortalAuthError):
                    continue
                edit = True
                notes.append(f"edit: the key may edit dataset {dataset_id} (probed, no change)")
                break
            else:
                if ids:
                    notes.append("edit: the key may not edit the datasets probed")
        return Access(
            reachable=True,
            authenticated=keyed,
            read=True,
            read_private=bool(private),
            edit=edit,
            create=False,
            datasets=len(ids),
            notes=tuple(notes),
        )


def build_patch(
    dataset: str, before: Record, after: Record, report: MappingReport
) -> list[dict[str, Any]]:
    """RFC 6902 operations taking the portal's dataset from `before` to `after` (our canonical
    records); what DataPress cannot take (immutable file fields, link QA) goes to `report`."""
    ops: list[dict[str, Any]] = []
    for key, value in after.items():
        if key not in CARRIED:
            continue
        old = before.get(key)
        if key in CHILD_FIELDS:
            ops.extend(_child_ops(dataset, key, old or {}, value or {}, report))
        elif key not in before or old != value:
            ops.append({"op": "add", "path": _pointer(key), "value": value})
    return ops


def _child_ops(
    dataset: str,
    kind: str,
    before: dict[str, Any],
    after: dict[str, Any],
    report: MappingReport,
) -> list[dict[str, Any]]:
    immutable = RESOURCE_IMMUTABLE if kind == "resources" else LINK_IMMUTABLE
    ops: list[dict[str, Any]] = []
    for child_id in before:
        if child_id not in after:
            ops.append({"op": "remove", "path": _pointer(kind, child_id)})
    for child_id, child in after.items():
        old = before.get(child_id)
        if old is None:
            value = {k: v for k, v in child.items() if v is not None and v != {}}
            if kind == "links":
                value.pop("qa", None)  # the portal's QA fills it
            ops.append({"op": "add", "path": _pointer(kind, child_id), "value": value})
            continue
        for sub, value in child.items():
            if old.get(sub) == value:
                continue
            if sub in immutable:
                reason = (
                    "a file's URL, format, hash, size and origin cannot be changed on DataPress "
                    "(seed 002 marks them immutable; no upload endpoint): replace the file on "
                    "the portal"
                    if kind == "resources"
                    else "link QA is computed by the portal"
                )
                report.add(dataset, f"{kind}/{child_id}/{sub}", "push", reason)
                continue
            ops.append({"op": "add", "path": _pointer(kind, child_id, sub), "value": value})
    return ops
