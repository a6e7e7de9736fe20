"""The CKAN adapter: CKAN's action API (`/api/3/action/...`), mapped by mappings.ckan.

- auth: the API token in the `Authorization` header (CKAN 2.10). CKAN does not reject a token it
  does not know: the caller is then anonymous, so `check_access` reports what the key may do
  (organizations it may read or create in) rather than "accepted".
- list: `package_search` paged with rows/start (1000 a page, the most CKAN gives), private and
  draft datasets included, sorted by id so pages do not shift, only `id`, `name`, `title`,
  `metadata_modified` (fl). The version of a dataset is its `metadata_modified`. A listing is
  kept only if nothing was modified and the count did not move while it was paged (else it is
  paged again), so a concurrent change never makes a dataset look deleted.
- incremental: the token holds the latest `metadata_modified` seen and the count. "Anything
  modified since?" (`fq=metadata_modified:{T TO *]`) and the count are two rows=0 searches:
  both unchanged means nothing changed (an empty, incomplete listing); otherwise the listing is
  redone in full, which also shows deletions (a deleted package leaves the search index).
- read: `package_show`. Write: `package_patch` with only the package fields that change (the
  whole resource list when a file or link changes, each with the CKAN id it already has, so
  CKAN updates resources in place), after re-reading the package: if a field we change moved on
  the portal since the caller read it, nothing is written (PortalConflict). Create:
  `package_create` in the organization our team names, else the only one the key may create
  in. Delete: `package_delete`.
- errors: CKAN's `{"success": false, "error": {"__type", "message" | field errors}}`, 403
  Authorization Error, 404 Not Found Error, 409 Validation Error (turned into PortalError by
  sync.http); an answer without `success: true` and a `result` is MalformedAnswer naming the
  dataset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import select

from app.models import Team
from app.models.database import Database
from app.services.mappings import ckan as mapping
from app.services.records import Record
from app.services.sync.adapter import (
    Access,
    Item,
    Listing,
    MappingReport,
    PortalAdapter,
    PortalConflict,
    PortalForbidden,
    PortalNotFound,
    RemoteRecord,
    RemoteSummary,
    collect_pages,
    stable_listing,
)
from app.services.sync.ckan_patch import merged_extras, merged_resources
from app.services.sync.ckan_reads import read_packages
from app.services.sync.http import PortalHttp
from app.services.sync.merge import canonical, unit_key, unit_values
from app.services.sync.registry import register

ACTION = "/api/3/action/"
NAME_TAKEN = "That URL is already in use."
PAGE = 1000
LISTING_FIELDS = "id,name,title,metadata_modified"


@register
class CkanAdapter(PortalAdapter):
    kind = "ckan"
    can_create = True
    can_delete = True

    page_size = PAGE

    def __init__(self, name: str, http: PortalHttp) -> None:
        super().__init__(name, http)
        self._vocabulary: mapping.PortalVocabulary | None = None
        self._vocabulary_lock = asyncio.Lock()
        self._database: Database | None = None
        self._teams: frozenset[str] | None = None  # our team ids, once read
        self._read: dict[str, Any] = {}  # packages prefetched by id (sync.ckan_reads)

    def attach_catalogue(self, database: Database, remote_pk: int) -> None:
        """Our teams are the portal's organizations (by name): a pulled organization that is
        no team here is reported, not written."""
        del remote_pk
        self._database = database

    async def _local_teams(self) -> frozenset[str] | None:
        if self._database is not None and self._teams is None:
            self._teams = await asyncio.to_thread(team_ids, self._database)
        return self._teams

    # -- the action API -------------------------------------------------------------------------

    async def _call(
        self,
        action: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        dataset: str | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """The `result` of one action: GET with `params`, or POST with a JSON `body`."""
        if body is None:
            answer = await self.http.get_json(ACTION + action, params=params, dataset=dataset)
        else:
            answer = await self.http.send_json(
                "POST", ACTION + action, dict(body), dataset=dataset, idempotent=idempotent
            )
        if not isinstance(answer, dict) or answer.get("success") is not True:
            raise self.http.malformed(
                f"{action}: the answer is not a CKAN success ({{'success': true, 'result'}})",
                dataset=dataset,
            )
        if "result" not in answer:
            raise self.http.malformed(f"{action}: the answer has no result", dataset=dataset)
        return answer["result"]

    async def vocabulary(self) -> mapping.PortalVocabulary:
        """The portal's licences, groups and the organizations the key may create datasets
        in, read once per adapter."""
        async with self._vocabulary_lock:
            if self._vocabulary is None:
                licences, groups, orgs = await asyncio.gather(
                    self._call("license_list"),
                    self._call("group_list"),
                    self._call(
                        "organization_list_for_user", params={"permission": "create_dataset"}
                    ),
                )
                if not all(isinstance(v, list) for v in (licences, groups, orgs)):
                    raise self.http.malformed(
                        "license_list, group_list or organization_list_for_user is not a list"
                    )
                register_ = [
                    mapping.CkanLicence(
                        str(entry.get("id") or ""),
                        str(entry.get("title") or ""),
                        str(entry.get("url") or "") or None,
                    )
                    for entry in licences
                    if isinstance(entry, dict) and entry.get("id")
                ]
                names = frozenset(g for g in groups if isinstance(g, str))
                organizations = frozenset(
                    str(o["name"]) for o in orgs if isinstance(o, dict) and o.get("name")
                )
                self._vocabulary = mapping.PortalVocabulary(tuple(register_), names, organizations)
            return self._vocabulary

    # -- access ---------------------------------------------------------------------------------

    async def check_access(self) -> Access:
        search = await self._call(
            "package_search",
            params={"rows": 0, "include_private": "true", "include_drafts": "true"},
        )
        count = search.get("count") if isinstance(search, dict) else None
        readable = await self._call("organization_list_for_user", params={"permission": "read"})
        creatable = await self._call(
            "organization_list_for_user", params={"permission": "create_dataset"}
        )
        member = isinstance(readable, list) and bool(readable)
        editor = isinstance(creatable, list) and bool(creatable)
        notes = ["CKAN does not reject a key it does not know: such a key reads as anonymous"]
        if not member:
            notes.append("the key belongs to no organization: public datasets only")
        return Access(
            reachable=True,
            authenticated=member,
            read=True,
            read_private=member,
            edit=editor,
            create=editor,
            delete=editor,
            datasets=count if isinstance(count, int) else None,
            notes=tuple(notes),
        )

    # -- listing --------------------------------------------------------------------------------

    def _search_params(self, **extra: str | int) -> dict[str, str | int]:
        return {"q": "*:*", "include_private": "true", "include_drafts": "true", **extra}

    async def _count(self, fq: str | None = None) -> int:
        params = self._search_params(rows=0)
        if fq:
            params["fq"] = fq
        result = await self._call("package_search", params=params)
        count = result.get("count") if isinstance(result, dict) else None
        if not isinstance(count, int):
            raise self.http.malformed("package_search: no count")
        return count

    async def list_datasets(self, since: str | None) -> Listing:
        if since:
            previous = _token(since)
            if previous is not None:
                latest, count = previous
                changed, total = await asyncio.gather(
                    self._count(f"metadata_modified:{{{_solr_time(latest)} TO *]"),
                    self._count(),
                )
                if changed == 0 and total == count:
                    return Listing([], complete=False, token=since)
        return await stable_listing(self._full_listing, remote=self.name)

    async def _full_listing(self) -> Listing | None:
        """Every package, or None if the catalogue changed while it was paged."""

        async def page(start: int) -> tuple[list[Item], int]:
            params = self._search_params(
                rows=self.page_size, start=start, sort="id asc", fl=LISTING_FIELDS
            )
            result = await self._call("package_search", params=params)
            results = result.get("results") if isinstance(result, dict) else None
            count = result.get("count") if isinstance(result, dict) else None
            if not isinstance(results, list) or not isinstance(count, int):
                raise self.http.malformed("package_search: no results and count")
            return results, count

        def package_id(row: Item) -> str:
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise self.http.malformed("package_search: a result without an id")
            return str(row["id"])

        rows = await collect_pages(page, package_id)
        if rows is None:
            return None
        latest = max((str(r.get("metadata_modified") or "") for r in rows.values()), default="")
        if latest:
            moved = await self._count(f"metadata_modified:{{{_solr_time(latest)} TO *]")
            if moved:
                return None
        if await self._count() != len(rows):
            return None
        summaries = [
            RemoteSummary(
                remote_id=row["id"],
                version=_version(row.get("metadata_modified")),
                title=str(row.get("title") or row.get("name") or ""),
            )
            for row in rows.values()
        ]
        token = orjson.dumps({"m": latest, "n": len(rows)}).decode()
        return Listing(summaries, complete=True, token=token)

    # -- reading --------------------------------------------------------------------------------

    async def prefetch(self, remote_ids: Sequence[str]) -> None:
        self._read.update(await read_packages(self._call, remote_ids))

    async def fetch(self, remote_id: str) -> RemoteRecord:
        package = self._read.pop(remote_id, None)
        if package is None:
            package = await self._call("package_show", params={"id": remote_id}, dataset=remote_id)
        if isinstance(package, dict) and package.get("state") == "deleted":
            # CKAN's soft delete: package_show still answers it, to members.
            raise PortalNotFound("deleted on the portal", remote=self.name, dataset=remote_id)
        return await self._remote(remote_id, package)

    async def _remote(self, remote_id: str, package: Any) -> RemoteRecord:
        try:
            record, losses = mapping.from_ckan(package, teams=await self._local_teams())
        except mapping.Malformed as error:
            raise self.http.malformed(f"package_show: {error}", dataset=remote_id) from None
        report = MappingReport()
        for loss in [*losses, *mapping.pull_losses(package)]:
            report.add(remote_id, loss.field, "pull", loss.reason)
        return RemoteRecord(
            remote_id=package["id"],
            record=mapping.settled(record),
            version=_version(package.get("metadata_modified")),
            report=report,
        )

    async def prepare(self) -> None:
        await self.vocabulary()

    def normal_form(self, record: Record) -> Record:
        """`record` as this portal would hold it: what a comparison with the portal uses."""
        vocabulary = self._vocabulary or mapping.PortalVocabulary()
        return {**record, **mapping.carried(record, vocabulary)}

    # -- writing --------------------------------------------------------------------------------

    async def update(self, remote_id: str, before: Record, after: Record) -> RemoteRecord | None:
        vocabulary = await self.vocabulary()
        raw = await self._call("package_show", params={"id": remote_id}, dataset=remote_id)
        if isinstance(raw, dict) and raw.get("state") == "deleted":
            raise PortalNotFound("deleted on the portal", remote=self.name, dataset=remote_id)
        current = await self._remote(remote_id, raw)
        keys = [k for k in mapping.CARRIED if k in after]
        # Compared as the portal would hold them, so what CKAN cannot take is no change.
        was = unit_values(canonical(mapping.carried(before, vocabulary), keys), keys)
        wanted = unit_values(canonical(mapping.carried(after, vocabulary), keys), keys)
        now = unit_values(canonical(current.record, keys), keys)
        changing = [u for u in sorted(was.keys() | wanted.keys()) if was.get(u) != wanted.get(u)]
        # CKAN has no If-Match: re-read, and refuse to overwrite a unit that moved meanwhile.
        moved = [u for u in changing if now.get(u) not in (was.get(u), wanted.get(u))]
        if moved:
            raise PortalConflict(
                f"changed on the portal since it was read ({', '.join(moved)}): not written",
                remote=self.name,
                dataset=remote_id,
            )
        report = MappingReport()
        label = str(after.get("id") or remote_id)
        changed_keys = sorted({unit_key(u) for u in changing})
        package, losses = mapping.to_ckan(after, vocabulary, keys=changed_keys)
        for loss in losses:
            report.add(label, loss.field, "push", loss.reason)
        if "resources" in package:
            package["resources"] = merged_resources(raw, before, after)
        if "extras" in package:
            package["extras"] = merged_extras(raw, package["extras"])
        if not package:
            return RemoteRecord(current.remote_id, current.record, current.version, report)
        answer = await self._call(
            "package_patch", body={"id": remote_id, **package}, dataset=remote_id
        )
        updated = await self._remote(remote_id, answer)
        return RemoteRecord(updated.remote_id, updated.record, updated.version, report)

    async def create(self, record: Record) -> RemoteRecord:
        """A new package, private unless the dataset is public here now, carrying our marker;
        a name another package holds is refused with a free one suggested, nothing written."""
        vocabulary = await self.vocabulary()
        package, _losses = mapping.to_ckan(record, vocabulary)
        report = MappingReport()
        for loss in mapping.outgoing_losses(record, vocabulary):
            report.add(record["id"], loss.field, "push", loss.reason)
        name = mapping.package_name(record)
        package["name"] = name
        package["extras"] = [*package["extras"], {"key": mapping.MARKER, "value": record["id"]}]
        if not package.get("owner_org"):
            owner, note = _owner_org(vocabulary)
            package["owner_org"] = owner
            if note:
                report.add(record["id"], "team", "push", note)
        try:
            answer = await self._call("package_create", body=package, dataset=record["id"])
        except PortalConflict as error:
            if NAME_TAKEN not in error.reason:
                raise
            suggestion = await self._free_name(name)
            raise PortalConflict.name_taken(
                self.name, record["id"], "name", name, suggestion
            ) from None
        created = await self._remote(record["id"], answer)
        return RemoteRecord(created.remote_id, created.record, created.version, report)

    async def _free_name(self, name: str) -> str | None:
        for number in range(2, 6):
            candidate = f"{name[:96]}-{number}"
            try:
                await self._call("package_show", params={"id": candidate})
            except PortalNotFound:
                return candidate
            except PortalForbidden:
                continue  # a private or deleted package holds it
        return None

    async def find(self, record: Record) -> RemoteSummary | None:
        """The package a create of ours made for `record`, by the marker it carries (never by
        a name: a name says nothing of who made the package)."""
        dataset_id = str(record.get("id") or "")
        result = await self._call(
            "package_search",
            params=self._search_params(fq=f'extras_{mapping.MARKER}:"{dataset_id}"', rows=10),
            dataset=dataset_id,
        )
        results = result.get("results") if isinstance(result, dict) else None
        if not isinstance(results, list):
            raise self.http.malformed("package_search: no results", dataset=dataset_id)
        for package in results:
            if not isinstance(package, dict) or not isinstance(package.get("id"), str):
                continue
            extras = package.get("extras")
            if not isinstance(extras, list):
                continue
            if any(
                isinstance(e, dict)
                and e.get("key") == mapping.MARKER
                and e.get("value") == dataset_id
                for e in extras
            ):
                return RemoteSummary(
                    remote_id=package["id"],
                    version=_version(package.get("metadata_modified")),
                    title=str(package.get("title") or ""),
                    local_id=dataset_id,
                )
        return None

    async def delete(self, remote_id: str) -> None:
        # Deleting twice is harmless, so a lost answer may be retried.
        await self._call(
            "package_delete", body={"id": remote_id}, dataset=remote_id, idempotent=True
        )

    def outgoing_report(self, dataset: str, record: Record) -> MappingReport:
        report = MappingReport()
        vocabulary = self._vocabulary or mapping.PortalVocabulary()
        for loss in mapping.outgoing_losses(record, vocabulary):
            # Licences, groups and organizations are judged against the portal's lists, once
            # they are read.
            if self._vocabulary is None and loss.field in ("licence/url", "topics", "team"):
                continue
            report.add(dataset, loss.field, "push", loss.reason)
        if record.get("state") != "published":
            # CKAN ignores a state sent by a non-sysadmin: `private` is what hides it.
            report.add(dataset, "state", "push", "a draft here: kept private there until published")
        return report


def _owner_org(vocabulary: mapping.PortalVocabulary) -> tuple[str | None, str | None]:
    """The organization a new package without a team the portal has goes to: the only one the
    key may create in, else the first, with a note saying so."""
    names = sorted(vocabulary.organizations or ())
    if len(names) == 1:
        return names[0], None
    if not names:
        return None, "the key may create datasets in no organization"
    return names[0], f"created in organization {names[0]}, the first of {', '.join(names)}"


def team_ids(database: Database) -> frozenset[str]:
    with database.read() as session:
        return frozenset(session.scalars(select(Team.id)))


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


def _version(value: Any) -> str | None:
    """A package's version, its `metadata_modified`, to the millisecond: package_show gives
    microseconds, the search index milliseconds with a Z; both say the same version."""
    if not isinstance(value, str) or not value:
        return None
    text = value.removesuffix("Z")
    head, dot, fraction = text.partition(".")
    return f"{head}.{(fraction + '000')[:3]}" if dot else f"{head}.000"


def _solr_time(naive: str) -> str:
    """A CKAN naive-UTC timestamp as Solr takes it in a range: with a Z, colons escaped."""
    value = naive if naive.endswith("Z") else naive + "Z"
    return value.replace(":", "\\:")
