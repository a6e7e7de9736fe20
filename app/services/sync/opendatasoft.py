"""The Opendatasoft adapter: read through Search API v1 (seed 003), write through the
Automation API v1.0 (seed 004); the mapping is mappings.opendatasoft's.

- auth: `Authorization: Apikey <key>` on both APIs.
- list: `GET /api/datasets/1.0/search`, paged with rows/start (1000 a page), sorted by
  `modified` ascending (`sort=-modified`: seed 003 sorts descending unless `-`). A dataset's
  version is a hash of its metas, which move with every publication. A listing is kept only if
  nothing was modified and the count held while it was paged, else it is paged again, so a
  change during the listing never makes a dataset look deleted. Published datasets only: the
  Search API shows nothing else, so when the key may use the Automation API its dataset list
  (`GET /api/automation/v1.0/datasets/`) adds the unpublished ones (as drafts), and a dataset
  we created unpublished is not taken for deleted.
- incremental: the token holds the latest `modified` and the count. `q=modified > T` and the
  count are two rows=0 searches; both unchanged means nothing changed (an empty, incomplete
  listing). Otherwise the full listing runs again, which also shows deletions. (Seed 003
  offers no other change feed: a change that leaves `modified` and the count alone, e.g. one
  made with `modified_updates_on_metadata_change` off, shows at the next full listing.)
- read: the listing's own entry (no second request) or `GET /api/datasets/1.0/<id>`; the
  resources from the Automation API (`.../datasets/<uid>/resources/`); a dataset the Search API
  does not show is read from the Automation API (`.../datasets/<uid>/`). The uid of a dataset
  id comes from the Automation listing, or `?dataset_id=`.
- another Catalogue Desk: its server answers the Search API v1 (server.opendatasoft_api) and has
  no Automation API (a 404 there). Such a remote is read only (check_access says so, and a
  write is refused, PortalForbidden saying why): its
  published datasets are listed and read as above, and their resources come from the v1
  dataset's `attachments`, which our server writes from our resources
  (mappings.opendatasoft.attachments_to_children). Only then: a real portal's attachments are
  files attached to the dataset, and its resources are the Automation API's. (A portal whose
  Automation API refuses the key, 401 or 403, stays a portal: no resources are read.)
- write: each changed default-template field with `PUT .../metadata/default/<field>/`,
  `is_restricted` with `PUT .../datasets/<uid>/`, resources created, updated and deleted one by
  one, then the dataset is published (`publish`, or `publish_metadata` when only metadata
  changed) or unpublished, and `.../status` is polled until it is idle again (an `error` or
  `limit_reached` status fails the push with the portal's message). Before writing, the
  dataset is re-read: a field that moved on the portal meanwhile is not overwritten
  (PortalConflict). Then the user and group security rulesets are made to match our
  permissions (opendatasoft_grants; the engine attaches the catalogue).
- create: `POST .../datasets/` with the dataset id `<slug>-<our id>` and our marker in the
  default template's `references`, then resources, rulesets and publication as above. A
  dataset_id another dataset holds is a PortalConflict naming a free one; nothing is written.
  `find` answers only with a dataset carrying our marker (an interrupted create), never with
  one found by its dataset_id.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from app.models.database import Database
from app.services.mappings import opendatasoft as mapping
from app.services.records import Record
from app.services.sync.adapter import (
    Access,
    Item,
    Listing,
    MappingReport,
    PortalAdapter,
    PortalAuthError,
    PortalConflict,
    PortalForbidden,
    PortalNotFound,
    PortalRejected,
    PortalServerError,
    RemoteRecord,
    RemoteSummary,
    collect_pages,
    stable_listing,
)
from app.services.sync.http import PortalHttp
from app.services.sync.merge import canonical
from app.services.sync.opendatasoft_grants import CatalogueGrants
from app.services.sync.registry import register

SEARCH = "/api/datasets/1.0/search"
LOOKUP = "/api/datasets/1.0/"
DATASETS = "/api/automation/v1.0/datasets/"
LISTING_PAGE = 1000  # the most seed 004 lets a listing page hold
METADATA_KEYS = ("title", "description", "tags")


@register
class OpendatasoftAdapter(PortalAdapter):
    kind = "opendatasoft"
    can_create = True
    can_delete = True

    page_size = 1000  # Search API rows a page
    automation_page = 1000  # Automation API limit a page (its maximum)
    language = "en"  # the default template requires one for a new dataset
    poll_interval = 2.0  # longest wait between status reads while publishing (starts short)
    poll_timeout = 600.0

    def __init__(self, name: str, http: PortalHttp) -> None:
        super().__init__(name, http)
        self.grants: CatalogueGrants | None = None
        self._uids: dict[str, str] = {}  # dataset_id -> uid
        self._listed: dict[str, dict[str, Any]] = {}  # dataset_id -> last listing's entry
        self._drafts: set[str] = set()  # dataset ids only the Automation API shows
        self._automation: bool | None = None  # whether the key may use the Automation API
        self._no_automation_api = False  # a 404 there: another Catalogue Desk (see above)

    @classmethod
    def auth_headers(cls, key: str) -> dict[str, str]:
        return {"Authorization": f"Apikey {key}"}

    def attach_catalogue(self, database: Database, remote_pk: int) -> None:
        self.grants = CatalogueGrants(database, remote_pk)

    # -- access ---------------------------------------------------------------------------------

    async def check_access(self) -> Access:
        search = await self.http.get_json(SEARCH, params={"rows": 0})
        nhits = search.get("nhits") if isinstance(search, dict) else None
        notes: list[str] = []
        editable = 0
        try:
            answer = await self.http.get_json(DATASETS, params={"limit": 0})
            self._automation = True
            total = answer.get("total_count") if isinstance(answer, dict) else None
            editable = total if isinstance(total, int) else 0
        except (PortalAuthError, PortalForbidden) as error:
            self._automation = False
            notes.append(f"the Automation API refuses the key: {error.reason}")
        except PortalNotFound:
            self._absent()
            notes.append(
                "no Automation API here (another Catalogue Desk, or a portal that serves only "
                "the Search API): read only; resources are read from the datasets' attachments"
            )
        automation = bool(self._automation)
        if automation:
            notes.append(
                "creating datasets needs the create_dataset permission, which the API "
                "cannot test without creating one"
            )
        return Access(
            reachable=True,
            authenticated=automation,
            read=True,
            read_private=automation,
            edit=automation and editable > 0,
            create=automation,
            delete=automation and editable > 0,
            datasets=nhits if isinstance(nhits, int) else None,
            notes=tuple(notes),
        )

    async def _automation_ok(self) -> bool:
        if self._automation is None:
            try:
                await self.http.get_json(DATASETS, params={"limit": 0})
                self._automation = True
            except (PortalAuthError, PortalForbidden):
                self._automation = False
            except PortalNotFound:
                self._absent()
        return bool(self._automation)

    def _absent(self) -> None:
        """The server has no Automation API (a 404 there): read only, resources from the
        attachments."""
        self._automation = False
        self._no_automation_api = True

    def _writable(self, dataset: str) -> None:
        """PortalForbidden, saying why, for a write to a server without the Automation API."""
        if self._no_automation_api:
            raise PortalForbidden(
                "read only: this server has no Automation API (another Catalogue Desk, or a "
                "portal that serves only the Search API)",
                remote=self.name,
                dataset=dataset,
            )

    # -- listing --------------------------------------------------------------------------------

    async def _nhits(self, q: str | None = None) -> int:
        params: dict[str, str | int] = {"rows": 0}
        if q:
            params["q"] = q
        answer = await self.http.get_json(SEARCH, params=params)
        nhits = answer.get("nhits") if isinstance(answer, dict) else None
        if not isinstance(nhits, int):
            raise self.http.malformed("the dataset search has no nhits")
        return nhits

    async def list_datasets(self, since: str | None) -> Listing:
        previous = _token(since) if since else None
        if previous is not None:
            latest, count = previous
            changed, total = await asyncio.gather(
                self._nhits(f"modified > {latest}"), self._nhits()
            )
            if changed == 0 and total == count:
                return Listing([], complete=False, token=since)
        return await stable_listing(self._full_listing, remote=self.name)

    async def _full_listing(self) -> Listing | None:
        async def page(start: int) -> tuple[list[Item], int]:
            params: dict[str, str | int] = {
                "rows": self.page_size,
                "start": start,
                "sort": "-modified",
            }
            answer = await self.http.get_json(SEARCH, params=params)
            datasets = answer.get("datasets") if isinstance(answer, dict) else None
            nhits = answer.get("nhits") if isinstance(answer, dict) else None
            if not isinstance(datasets, list) or not isinstance(nhits, int):
                raise self.http.malformed("the dataset search has no datasets and nhits")
            return datasets, nhits

        def dataset_id(entry: Item) -> str:
            if not isinstance(entry, dict) or not isinstance(entry.get("datasetid"), str):
                raise self.http.malformed("the dataset search lists one without datasetid")
            return str(entry["datasetid"])

        entries = await collect_pages(page, dataset_id)
        if entries is None:
            return None
        latest = max((_modified(e) for e in entries.values()), default="")
        if latest and await self._nhits(f"modified > {latest}"):
            return None
        if await self._nhits() != len(entries):
            return None
        summaries = [
            RemoteSummary(
                remote_id=dataset_id,
                version=mapping.search_version(entry),
                title=str((entry.get("metas") or {}).get("title") or ""),
            )
            for dataset_id, entry in entries.items()
        ]
        drafts = await self._unpublished(set(entries))
        summaries.extend(drafts)
        self._listed = entries
        self._drafts = {s.remote_id for s in drafts}
        token = orjson.dumps({"m": latest, "n": len(entries)}).decode()
        return Listing(summaries, complete=True, token=token)

    async def _unpublished(self, published: set[str]) -> list[RemoteSummary]:
        """The datasets the Search API does not show but the key may edit (unpublished)."""
        if not await self._automation_ok():
            return []
        found: list[RemoteSummary] = []
        offset = 0
        while True:
            answer = await self.http.get_json(
                DATASETS, params={"limit": self.automation_page, "offset": offset}
            )
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list):
                raise self.http.malformed("the Automation dataset list has no results")
            for entry in results:
                if not isinstance(entry, dict):
                    raise self.http.malformed("the Automation dataset list holds a non-object")
                uid, dataset_id = entry.get("uid"), entry.get("dataset_id")
                if not isinstance(uid, str) or not isinstance(dataset_id, str):
                    raise self.http.malformed("an Automation dataset without uid or dataset_id")
                self._uids[dataset_id] = uid
                if dataset_id not in published and entry.get("is_published") is not True:
                    found.append(RemoteSummary(dataset_id, mapping.draft_version(entry)))
            if not results or not answer.get("next"):
                return found
            offset += len(results)

    # -- reading --------------------------------------------------------------------------------

    async def fetch(self, remote_id: str) -> RemoteRecord:
        report = MappingReport()
        entry = self._listed.pop(remote_id, None)
        if entry is None and remote_id not in self._drafts:
            try:
                entry = await self.http.get_json(LOOKUP + remote_id, dataset=remote_id)
            except PortalNotFound:
                entry = None  # unpublished, or gone: the Automation API tells
        automation = await self._automation_ok()
        if entry is not None:
            try:
                record = mapping.search_dataset_to_record(entry)
            except mapping.Malformed as error:
                raise self.http.malformed(str(error), dataset=remote_id) from None
            version = mapping.search_version(entry)
            uid = await self._uid(remote_id) if automation else None
        else:
            if not automation:
                raise PortalNotFound(
                    "not in the Search API (unpublished or deleted)",
                    remote=self.name,
                    dataset=remote_id,
                )
            uid = await self._uid(remote_id)
            dataset = await self.http.get_json(f"{DATASETS}{uid}/", dataset=remote_id)
            try:
                record = mapping.automation_dataset_to_record(dataset)
            except mapping.Malformed as error:
                raise self.http.malformed(str(error), dataset=remote_id) from None
            version = mapping.draft_version(dataset)
        if uid is not None:
            record["resources"] = await self._resources(uid, remote_id)
        elif self._no_automation_api and entry is not None:
            try:
                record["resources"] = mapping.attachments_to_children(entry.get("attachments"))
            except mapping.Malformed as error:
                raise self.http.malformed(str(error), dataset=remote_id) from None
        else:
            report.add(
                remote_id,
                "resources",
                "pull",
                "the key may not use the Automation API, which holds the resources",
            )
        return RemoteRecord(remote_id, record, version, report)

    async def _uid(self, dataset_id: str) -> str:
        if dataset_id not in self._uids:
            answer = await self.http.get_json(
                DATASETS, params={"dataset_id": dataset_id}, dataset=dataset_id
            )
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list):
                raise self.http.malformed(
                    "the Automation dataset list has no results", dataset=dataset_id
                )
            for entry in results:
                if isinstance(entry, dict) and entry.get("dataset_id") == dataset_id:
                    self._uids[dataset_id] = str(entry.get("uid"))
            if dataset_id not in self._uids:
                raise PortalNotFound(
                    "no such dataset in the Automation API", remote=self.name, dataset=dataset_id
                )
        return self._uids[dataset_id]

    async def _raw_resources(self, uid: str, dataset_id: str) -> list[dict[str, Any]]:
        return await self._listing(f"{DATASETS}{uid}/resources/", "resource", dataset_id)

    async def _listing(self, path: str, what: str, dataset_id: str) -> list[dict[str, Any]]:
        """Every item of an Automation API listing, page after page (seed 004: `limit` at most
        1000, `offset`, `total_count`)."""
        results: list[dict[str, Any]] = []
        while True:
            params = {"limit": LISTING_PAGE, "offset": len(results)}
            answer = await self.http.get_json(path, params=params, dataset=dataset_id)
            page = answer.get("results") if isinstance(answer, dict) else None
            total = answer.get("total_count") if isinstance(answer, dict) else None
            if not isinstance(page, list) or not all(isinstance(r, dict) for r in page):
                raise self.http.malformed(f"the {what} list has no results", dataset=dataset_id)
            results.extend(page)
            if not page or not isinstance(total, int) or len(results) >= total:
                return results

    async def _resources(self, uid: str, dataset_id: str) -> dict[str, Record]:
        raw = await self._raw_resources(uid, dataset_id)
        try:
            return mapping.resources_to_children(raw)
        except mapping.Malformed as error:
            raise self.http.malformed(str(error), dataset=dataset_id) from None

    def normal_form(self, record: Record) -> Record:
        """Published there only while public here now: an embargo that starts, or ends, is
        a change of state to carry (it is no field the portal holds)."""
        return {**record, "state": "published" if mapping.wants_published(record) else "draft"}

    # -- writing --------------------------------------------------------------------------------

    async def update(self, remote_id: str, before: Record, after: Record) -> RemoteRecord | None:
        await self._automation_ok()
        self._writable(remote_id)
        uid = await self._uid(remote_id)
        self._listed.pop(remote_id, None)
        label = str(after.get("id") or remote_id)
        keys = [k for k in mapping.CARRIED if k in after]
        # Compared as the portal would hold them, so what it cannot take is no change.
        was = canonical(mapping.carried(before), keys)
        wanted = canonical(mapping.carried(after), keys)
        changing = [k for k in keys if was.get(k) != wanted.get(k)]
        report = MappingReport()
        attached = self.grants is not None
        for issue in mapping.outgoing_losses(after, keys=changing, grants_attached=attached):
            report.add(label, issue.field, "push", issue.reason)
        current = await self.http.get_json(f"{DATASETS}{uid}/", dataset=remote_id)
        try:
            now = canonical(mapping.automation_dataset_to_record(current), keys)
        except mapping.Malformed as error:
            raise self.http.malformed(str(error), dataset=remote_id) from None
        # The Automation API has no If-Match: refuse to overwrite a field that moved meanwhile.
        moved = [
            k
            for k in changing
            if k in (*METADATA_KEYS, "sharing") and now.get(k) not in (was.get(k), wanted.get(k))
        ]
        if moved:
            raise PortalConflict(
                f"changed on the portal since it was read ({', '.join(moved)}): not written",
                remote=self.name,
                dataset=remote_id,
            )
        metadata = [k for k in changing if k in METADATA_KEYS]
        if "sharing" in changing:
            # PUT replaces the dataset: send it back as read, is_restricted changed.
            body = {
                "dataset_id": current["dataset_id"],
                "is_restricted": wanted["sharing"] == "private",
                "metadata": current.get("metadata") or {},
            }
            await self.http.send_json("PUT", f"{DATASETS}{uid}/", body, dataset=remote_id)
        for name, value in mapping.default_metadata(after, metadata).items():
            await self.http.send_json(
                "PUT",
                f"{DATASETS}{uid}/metadata/default/{name}/",
                {"value": value},
                dataset=remote_id,
            )
        data_changed = False
        if "resources" in changing:
            data_changed = await self._push_resources(uid, remote_id, was, wanted, after)
        await self._push_grants(uid, remote_id, label, report, await self._grants_remote(remote_id))
        published = current.get("is_published") is True
        want = wanted.get("state", "published" if published else "draft") == "published"
        if want and (not published or data_changed):
            await self._publication(uid, remote_id, "publish")
        elif want and (metadata or "sharing" in changing):
            await self._publication(uid, remote_id, "publish_metadata")
        elif not want and published:
            await self._publication(uid, remote_id, "unpublish")
        fresh = await self.fetch(remote_id)
        report.extend(fresh.report)
        return RemoteRecord(fresh.remote_id, fresh.record, fresh.version, report)

    async def _push_resources(
        self, uid: str, dataset_id: str, was: Record, wanted: Record, after: Record
    ) -> bool:
        """Make the portal's resources go from `was` to `wanted`; whether anything was sent."""
        remote: dict[str, str] = {}
        for resource in await self._raw_resources(uid, dataset_id):
            datasource = resource.get("datasource") or {}
            url = datasource.get("url") if isinstance(datasource, dict) else None
            _url, child_id, _order = mapping.split_url(str(url or ""))
            remote[child_id or mapping.resource_child_id(str(resource.get("uid")))] = str(
                resource.get("uid")
            )
        old = was.get("resources") or {}
        new = wanted.get("resources") or {}
        bodies = {b.child_id: b.body for b in mapping.resource_bodies(after)[0]}
        sent = False
        for child_id, child in new.items():
            if old.get(child_id) == child or child_id not in bodies:
                continue
            if child_id in remote:
                path = f"{DATASETS}{uid}/resources/{remote[child_id]}/"
                await self.http.send_json("PUT", path, bodies[child_id], dataset=dataset_id)
            else:
                await self.http.send_json(
                    "POST", f"{DATASETS}{uid}/resources/", bodies[child_id], dataset=dataset_id
                )
            sent = True
        for child_id in old:
            if child_id not in new and child_id in remote:
                path = f"{DATASETS}{uid}/resources/{remote[child_id]}/"
                await self.http.request("DELETE", path, dataset=dataset_id)
                sent = True
        return sent

    async def _grants_remote(self, remote_id: str) -> mapping.DatasetGrants | None:
        return await self.grants.for_remote(remote_id) if self.grants is not None else None

    async def _push_grants(
        self,
        uid: str,
        dataset_id: str,
        label: str,
        report: MappingReport,
        grants: mapping.DatasetGrants | None,
    ) -> None:
        """Make the portal's user and group rulesets match our permissions: add and change
        rulesets, revoke those of our users and groups we no longer grant."""
        if grants is None:
            return
        for issue in grants.issues:
            report.add(label, issue.field, "push", issue.reason)
        for kind, wanted, managed in (
            ("user", grants.users, grants.managed_users),
            ("group", grants.groups, grants.managed_groups),
        ):
            path = f"{DATASETS}{uid}/security/{kind}s/"
            try:
                rulesets = await self._listing(path, "ruleset", dataset_id)
            except PortalForbidden as error:
                report.add(label, "permissions", "push", f"not pushed: {error.reason}")
                return
            existing: dict[str, set[str]] = {}
            for ruleset in rulesets:
                target = ruleset.get(kind) if isinstance(ruleset, dict) else None
                name = (target or {}).get("username" if kind == "user" else "uid")
                if isinstance(name, str):
                    existing[name] = set(ruleset.get("permissions") or [])
            for name, permissions in wanted.items():
                body = mapping.ruleset_body(kind, name, permissions)
                try:
                    if name not in existing:
                        await self.http.send_json("POST", path, body, dataset=dataset_id)
                    elif existing[name] != set(permissions):
                        await self.http.send_json("PUT", f"{path}{name}/", body, dataset=dataset_id)
                except PortalRejected as error:
                    report.add(
                        label, f"permissions/{kind}/{name}", "push", f"not granted: {error.reason}"
                    )
            for name in existing:
                if name in managed and name not in wanted:
                    await self.http.request("DELETE", f"{path}{name}/", dataset=dataset_id)

    async def _publication(self, uid: str, dataset_id: str, action: str) -> None:
        """Publish, publish metadata or unpublish, and wait until the portal is done."""
        await self.http.request("POST", f"{DATASETS}{uid}/{action}", dataset=dataset_id)
        deadline = time.monotonic() + self.poll_timeout
        wait = 0.05  # most publications of metadata take moments: look again soon, then less
        while True:
            status = await self.http.get_json(f"{DATASETS}{uid}/status", dataset=dataset_id)
            if not isinstance(status, dict) or not isinstance(status.get("status"), str):
                raise self.http.malformed("the dataset status has no status", dataset=dataset_id)
            state = status["status"]
            published = status.get("is_published") is True
            if state == "idle" and (
                action == "publish_metadata" or published == (action == "publish")
            ):
                return
            if state in ("error", "limit_reached"):
                raise PortalRejected(
                    f"{action} failed: {status.get('message') or state}",
                    remote=self.name,
                    dataset=dataset_id,
                )
            if time.monotonic() > deadline:
                raise PortalServerError(
                    f"{action} still {state} after {self.poll_timeout:.0f} s",
                    remote=self.name,
                    dataset=dataset_id,
                )
            await asyncio.sleep(wait)
            wait = min(self.poll_interval, wait * 2)

    async def create(self, record: Record) -> RemoteRecord:
        await self._automation_ok()
        self._writable(str(record.get("id") or ""))
        body = mapping.create_body(record, language=self.language)
        dataset_id = body["dataset_id"]
        report = MappingReport()
        grants = await self.grants.for_dataset(record["id"]) if self.grants is not None else None
        attached = self.grants is not None
        for issue in mapping.outgoing_losses(record, grants_attached=attached):
            report.add(record["id"], issue.field, "push", issue.reason)
        try:
            created = await self.http.send_json("POST", DATASETS, body, dataset=record["id"])
        except PortalRejected as error:
            if not await self._taken(dataset_id, error):
                raise
            suggestion = await self._free_id(dataset_id)
            raise PortalConflict.name_taken(
                self.name, record["id"], "dataset_id", dataset_id, suggestion
            ) from None
        if not isinstance(created, dict) or not isinstance(created.get("uid"), str):
            raise self.http.malformed("the created dataset has no uid", dataset=record["id"])
        uid = created["uid"]
        self._uids[dataset_id] = uid
        self._drafts.add(dataset_id)
        for resource in mapping.resource_bodies(record)[0]:
            await self.http.send_json(
                "POST", f"{DATASETS}{uid}/resources/", resource.body, dataset=dataset_id
            )
        await self._push_grants(uid, dataset_id, record["id"], report, grants)
        if mapping.wants_published(record):
            await self._publication(uid, dataset_id, "publish")
            self._drafts.discard(dataset_id)
        fresh = await self.fetch(dataset_id)
        report.extend(fresh.report)
        return RemoteRecord(fresh.remote_id, fresh.record, fresh.version, report)

    async def _taken(self, dataset_id: str, error: PortalRejected) -> bool:
        """Whether a refused create was refused because the dataset_id is held: the portal
        says so, or the dataset is there for us to see."""
        if "dataset_id" in error.reason and "exist" in error.reason:
            return True
        return await self._dataset_id_seen(dataset_id)

    async def _dataset_id_seen(self, dataset_id: str) -> bool:
        answer = await self.http.get_json(DATASETS, params={"dataset_id": dataset_id})
        results = answer.get("results") if isinstance(answer, dict) else None
        return isinstance(results, list) and any(
            isinstance(r, dict) and r.get("dataset_id") == dataset_id for r in results
        )

    async def _free_id(self, dataset_id: str) -> str | None:
        """A dataset_id near `dataset_id` no dataset the key sees holds (the portal may still
        hold it for a dataset the key may not see: a suggestion, not a promise)."""
        for number in range(2, 6):
            candidate = f"{dataset_id}-{number}"
            if not await self._dataset_id_seen(candidate):
                return candidate
        return None

    async def find(self, record: Record) -> RemoteSummary | None:
        """The dataset an interrupted create of ours made for `record`: one carrying our
        marker (`mapping.made_by_us`), never one that merely holds the dataset_id we would
        give it. The Automation listing names the candidates (a dataset_id ending with our id,
        which the create gave it whatever the title was then, or a listed marker); each is
        read to see the marker."""
        if not await self._automation_ok():
            return None
        dataset_id = str(record.get("id") or "")
        if not dataset_id:
            return None
        entries = await self._listing(DATASETS, "dataset", dataset_id)
        candidates = [
            e
            for e in entries
            if isinstance(e.get("uid"), str)
            and isinstance(e.get("dataset_id"), str)
            and (e["dataset_id"].endswith(dataset_id) or mapping.made_by_us(e, dataset_id))
        ]
        for entry in candidates:
            uid, remote_id = entry["uid"], entry["dataset_id"]
            self._uids[remote_id] = uid
            try:
                dataset = await self.http.get_json(f"{DATASETS}{uid}/", dataset=dataset_id)
            except PortalNotFound:
                continue
            if mapping.made_by_us(dataset, dataset_id):
                return RemoteSummary(remote_id, None, str(record.get("title") or ""), dataset_id)
        return None

    async def delete(self, remote_id: str) -> None:
        await self._automation_ok()
        self._writable(remote_id)
        uid = await self._uid(remote_id)
        await self.http.request("DELETE", f"{DATASETS}{uid}/", dataset=remote_id)
        self._uids.pop(remote_id, None)

    def outgoing_report(self, dataset: str, record: Record) -> MappingReport:
        report = MappingReport()
        attached = self.grants is not None
        for issue in mapping.outgoing_losses(record, grants_attached=attached):
            report.add(dataset, issue.field, "push", issue.reason)
        return report


def _modified(entry: dict[str, Any]) -> str:
    metas = entry.get("metas")
    value = metas.get("modified") if isinstance(metas, dict) else None
    return value if isinstance(value, str) else ""


def _token(token: str) -> tuple[str, int] | None:
    try:
        data = orjson.loads(token)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    latest, count = data.get("m"), data.get("n")
    if not isinstance(latest, str) or not isinstance(count, int) or not latest:
        return None
    return latest, count
