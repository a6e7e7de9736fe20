"""The sync engine: plan a pull or a push (a preview; nothing written anywhere), then apply it.

Public API (coroutines: run them on the GUI's loop through qasync, or with asyncio.run)::

    plan = await plan_pull(database, "portal", progress=progress)   # or plan_push
    for item, conflict in plan.conflicts: ...                         # show them side by side
    result = await apply(database, plan, {(item.key, "title"): KEEP_MINE}, progress=progress)
    plan, result = await pull(database, "portal")                     # plan + apply at once
    plan, result = await push(database, "portal", dry_run=True)       # plan only

How a sync finds out what changed, cheaply (incremental):

- the remote: `adapter.list_datasets(since=token)` (DataPress: export.json, conditional on its
  ETag, so "nothing changed" is one 304); a full record is fetched only for a dataset whose
  listed version differs from its link's `remote_version`, or that is new, or (complete
  listings) missing, to tell deleted (404) from hidden (403);
- here: a link stores the dataset's version at the last agreement (`local_version`); a dataset
  whose version is still that is unchanged and never read.

A pull writes remote changes here; a push writes local changes there. Each leaves the other
direction's changes pending and shows how many (`SyncPlan.pending`). The base snapshot moves
per unit (merge.py), so "keep mine" in a pull or "take theirs" in a push is simply a change the
next sync of the other direction carries.

Writes here go through datasets.create_datasets / update_dataset / delete_dataset with author
`sync:<remote>` (touch=False, carrying the remote's updatedAt when it is later), a batch of
datasets and their links per transaction (links.write_batch). Writes there are made right
after re-reading the remote dataset: if a unit to push moved on the remote since the preview,
that dataset is not written (a failure asking to sync again), so a remote edit is never lost.
A create first records a link with no remote id and records the remote id as soon as the
portal answers; a push interrupted in between finds the dataset with `adapter.find` and adopts
it instead of creating it twice. An interrupted update needs nothing: the next sync sees both
sides hold the same value (converged).

Cancel: `progress.cancel()` stops planning at once (nothing was written) and stops apply
between datasets; what was written stays consistent (links record it) and the next sync
carries on from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services import datasets
from app.services.batches import batched
from app.services.errors import CatalogueError
from app.services.progress import NO_PROGRESS, Cancelled, Progress
from app.services.records import Record
from app.services.sync import links as db
from app.services.sync.adapter import (
    SYNC_FIELDS,
    MappingReport,
    PortalAdapter,
    PortalError,
    PortalForbidden,
    PortalNotFound,
    RemoteRecord,
    RemoteSummary,
)
from app.services.sync.http import HttpOptions
from app.services.sync.merge import (
    FieldConflict,
    canonical,
    get_unit,
    set_units,
    synced_keys,
    three_way,
    unit_values,
)
from app.services.sync.plan import (
    WHOLE,
    Direction,
    ItemFailure,
    PlanItem,
    Resolution,
    SyncPlan,
    SyncResult,
)
from app.services.sync.registry import open_adapter
from app.services.sync.remotes import RemoteInfo, get_remote, remote_info, remote_key
from app.services.validation import DATASET_ID

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SyncOptions:
    http: HttpOptions = field(default_factory=HttpOptions)
    batch_size: int = 200  # local datasets per transaction
    full: bool = False  # ignore versions: fetch every remote dataset
    environ: Mapping[str, str] | None = None  # where `--key-env` variables are read


DEFAULT_OPTIONS = SyncOptions()


class StaleLocal(CatalogueError):
    code = "stale_local"


class _Gone:
    """A fetch found the dataset deleted (404) or hidden from the key (403)."""

    def __init__(self, hidden: bool) -> None:
        self.hidden = hidden


def author_for(remote: str) -> str:
    return f"sync:{remote}"


@dataclass(slots=True)
class _Context:
    database: Database
    info: RemoteInfo
    remote_pk: int
    token: str | None
    adapter: PortalAdapter


@asynccontextmanager
async def _open(database: Database, name: str, options: SyncOptions) -> AsyncIterator[_Context]:
    def read() -> tuple[RemoteInfo, int, str | None, str | None]:
        with database.read() as session:
            remote = get_remote(session, name)
            info = remote_info(session, name)
            pk, token = remote.pk, remote.listing_token
        # In the thread too: an OS keyring may block (a D-Bus call, an unlock prompt).
        return info, pk, token, remote_key(info, options.environ)

    info, pk, token, key = await asyncio.to_thread(read)
    adapter = open_adapter(info.name, info.kind, info.base_url, key, options=options.http)
    adapter.attach_catalogue(database, pk)
    try:
        yield _Context(database, info, pk, token, adapter)
    finally:
        await adapter.http.aclose()


async def _run_all(
    jobs: Sequence[Callable[[], Awaitable[T]]],
    progress: Progress,
    *,
    workers: int,
    done: int = 0,
    total: int | None = None,
) -> list[T]:
    """Run the jobs, `workers` at a time, reporting progress; the first error (or Cancel)
    cancels the rest and is raised."""
    total = done + len(jobs) if total is None else total
    progress.report(done, total)
    results: list[Any] = [None] * len(jobs)
    counter = [done]
    indices = iter(range(len(jobs)))

    async def worker() -> None:
        for index in indices:
            if progress.cancelled:
                raise Cancelled()
            results[index] = await jobs[index]()
            counter[0] += 1

    tasks = {asyncio.ensure_future(worker()) for _ in range(max(1, min(workers, len(jobs))))}
    pending = set(tasks)
    try:
        while pending:
            finished, pending = await asyncio.wait(
                pending, timeout=0.1, return_when=asyncio.FIRST_EXCEPTION
            )
            for task in finished:
                task.result()
            progress.report(counter[0], total)
    except BaseException:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    return results


# -- planning ----------------------------------------------------------------------------------


async def plan_pull(
    database: Database,
    remote: str,
    *,
    progress: Progress = NO_PROGRESS,
    options: SyncOptions = DEFAULT_OPTIONS,
) -> SyncPlan:
    """What a pull from `remote` would write here (and the conflicts). Writes nothing."""
    async with _open(database, remote, options) as ctx:
        return await _Planner(ctx, "pull", progress, options).run()


async def plan_push(
    database: Database,
    remote: str,
    *,
    progress: Progress = NO_PROGRESS,
    options: SyncOptions = DEFAULT_OPTIONS,
) -> SyncPlan:
    """What a push to `remote` would write there (and the conflicts). Writes nothing."""
    async with _open(database, remote, options) as ctx:
        return await _Planner(ctx, "push", progress, options).run()


class _Planner:
    def __init__(
        self, ctx: _Context, direction: Direction, progress: Progress, options: SyncOptions
    ) -> None:
        self.ctx = ctx
        self.direction = direction
        self.progress = progress
        self.options = options
        self.adapter = ctx.adapter
        self.report = MappingReport()
        self.items: list[PlanItem] = []
        self.pending = 0
        self.fetched = 0
        self.bases: dict[int, Record] = {}

    async def _load_bases(self, links: Sequence[db.LinkRow]) -> None:
        pks = [link.pk for link in links]
        self.bases = await asyncio.to_thread(db.load_bases, self.ctx.database, pks)

    async def _fetch_all(self, remote_ids: Sequence[str]) -> dict[str, RemoteRecord | _Gone]:
        adapter = self.adapter

        def job(remote_id: str) -> Callable[[], Awaitable[RemoteRecord | _Gone]]:
            async def fetch() -> RemoteRecord | _Gone:
                try:
                    return await adapter.fetch(remote_id)
                except PortalNotFound:
                    return _Gone(hidden=False)
                except PortalForbidden:
                    return _Gone(hidden=True)

            return fetch

        results = await _run_all(
            [job(r) for r in remote_ids],
            self.progress,
            workers=self.options.http.concurrency * 2,
        )
        self.fetched += len(remote_ids)
        found = dict(zip(remote_ids, results, strict=True))
        for value in found.values():
            if isinstance(value, RemoteRecord):
                self.report.extend(value.report)
        return found

    async def run(self) -> SyncPlan:
        ctx, database = self.ctx, self.ctx.database
        since = None if self.options.full else ctx.token
        listing = await self.adapter.list_datasets(since)
        self.progress.report(0, 0)
        links = await asyncio.to_thread(db.load_links, database, ctx.remote_pk)
        summaries = {s.remote_id: s for s in listing.summaries}
        by_remote = {link.remote_id: link for link in links if link.remote_id is not None}
        changed: list[tuple[db.LinkRow, RemoteSummary]] = []
        new: list[RemoteSummary] = []
        for summary in summaries.values():
            link = by_remote.get(summary.remote_id)
            if link is None:
                new.append(summary)
            elif (
                self.options.full
                or summary.version is None
                or summary.version != link.remote_version
            ):
                changed.append((link, summary))
        missing = (
            [link for rid, link in by_remote.items() if rid not in summaries]
            if listing.complete
            else []
        )
        changed_ids = {link.pk for link, _ in changed}
        unchanged = sum(
            1
            for link in links
            if link.pk not in changed_ids
            and not link.local_changed
            and link.remote_id
            and (not listing.complete or link.remote_id in summaries)
        )
        if self.direction == "pull":
            await self._plan_pull(links, changed, new, missing)
        else:
            await self._plan_push(links, changed, missing)
        return SyncPlan(
            remote=ctx.info.name,
            kind=ctx.info.kind,
            direction=self.direction,
            items=self.items,
            report=self.report,
            listing=listing,
            listed=len(listing.summaries),
            fetched=self.fetched,
            unchanged=unchanged,
            pending=self.pending,
        )

    # -- pull ---------------------------------------------------------------------------------

    async def _plan_pull(
        self,
        links: list[db.LinkRow],
        changed: list[tuple[db.LinkRow, RemoteSummary]],
        new: list[RemoteSummary],
        missing: list[db.LinkRow],
    ) -> None:
        database = self.ctx.database
        adopted = await self._find_interrupted_creates(links, new)
        fetch_ids = [s.remote_id for _, s in changed] + [s.remote_id for s in new]
        fetch_ids += [link.remote_id for link in missing if link.remote_id]
        fetched = await self._fetch_all(fetch_ids)
        linked_ids = {link.dataset_id for link in links}
        candidates = {s.local_id or s.remote_id for s in new} - linked_ids
        changed_pks = {link.pk for link, _ in changed}
        wanted = [link.dataset_id for link, _ in changed]
        wanted += [link.dataset_id for link in missing]
        local = await asyncio.to_thread(db.load_records, database, [*wanted, *candidates])
        await self._load_bases([link for link, _ in changed] + missing)
        self.pending = sum(1 for link in links if link.local_changed and link.pk not in changed_pks)
        for link, summary in changed:
            answer = fetched[summary.remote_id]
            self._pull_linked(link, summary, answer, local.get(link.dataset_id))
        for link in missing:
            answer = fetched[link.remote_id or ""]
            summary = RemoteSummary(link.remote_id or "", None)
            self._pull_linked(link, summary, answer, local.get(link.dataset_id))
        for summary in new:
            answer = fetched[summary.remote_id]
            if isinstance(answer, _Gone):
                continue  # listed, then gone before we could read it: nothing to pull
            if summary.remote_id in adopted:
                self._pull_adopt(adopted[summary.remote_id], summary, answer)
                continue
            candidate = summary.local_id or summary.remote_id
            match = local.get(candidate) if candidate not in linked_ids else None
            self._pull_new(summary, answer, match)

    async def _find_interrupted_creates(
        self, links: list[db.LinkRow], new: list[RemoteSummary]
    ) -> dict[str, tuple[db.LinkRow, Record, int]]:
        """Remote datasets that a push made without hearing back (its link has no remote id
        yet): remote id -> (link, local record, version). A pull adopts them rather than
        bringing them here a second time."""
        creating = [link for link in links if link.remote_id is None]
        if not creating or not new or not self.adapter.can_create:
            return {}
        ids = [link.dataset_id for link in creating]
        local = await asyncio.to_thread(db.load_records, self.ctx.database, ids)
        listed = {s.remote_id for s in new}
        adopted: dict[str, tuple[db.LinkRow, Record, int]] = {}
        for link in creating:
            if link.dataset_id not in local:
                continue
            record, version = local[link.dataset_id]
            found = await self.adapter.find(record)
            if found is not None and found.remote_id in listed:
                adopted[found.remote_id] = (link, record, version)
        return adopted

    def _pull_adopt(
        self,
        adopted: tuple[db.LinkRow, Record, int],
        summary: RemoteSummary,
        answer: RemoteRecord,
    ) -> None:
        link, record, version = adopted
        remote_c = canonical(answer.record)
        keys = synced_keys(remote_c)
        item = PlanItem(link.dataset_id, link.dataset_id, summary.remote_id, record["title"])
        state = item.state
        state.link_pk = link.pk
        state.keys = keys
        state.base = remote_c  # what differs here is left for a push, as an adopting push does
        state.remote = remote_c
        state.remote_full = answer.record
        state.remote_version = summary.version
        state.local_full, state.local_version = record, version
        state.local = canonical(record, keys)
        state.refresh = True
        item.notes.append("found on the remote from an interrupted push: adopted")
        if unit_values(state.local, keys) != unit_values(remote_c, keys):
            self.pending += 1
        self.items.append(item)

    def _pull_linked(
        self,
        link: db.LinkRow,
        summary: RemoteSummary,
        answer: RemoteRecord | _Gone,
        local: tuple[Record, int] | None,
    ) -> None:
        base = self.bases.get(link.pk, {})
        item = PlanItem(
            key=link.dataset_id,
            dataset_id=link.dataset_id,
            remote_id=link.remote_id,
            title=str((local[0] if local else base).get("title") or ""),
        )
        state = item.state
        state.link_pk = link.pk
        state.base = base
        state.remote_version = summary.version
        if local is not None:
            state.local_full, state.local_version = local
        if isinstance(answer, _Gone):
            if answer.hidden:
                item.notes.append("no longer visible to this key on the remote: left alone")
                self.report.add(link.dataset_id, "*", "pull", "the remote refuses to show it (403)")
                self.items.append(item)
                return
            keys = list(base)
            state.keys = keys
            if local is None:
                item.local = "unlink"
                item.notes.append("deleted on both sides")
            else:
                state.local = canonical(local[0], keys)
                if unit_values(state.local, keys) == unit_values(base, keys):
                    item.local = "delete"
                    item.notes.append("deleted on the remote")
                else:
                    item.notes.append("deleted on the remote, edited here")
                    item.conflicts.append(_whole(base, state.local, None))
            self.items.append(item)
            return
        remote_c = canonical(answer.record)
        keys = synced_keys(remote_c)
        state.keys = keys
        state.remote = remote_c
        state.remote_full = answer.record
        item.title = item.title or str(remote_c.get("title") or "")
        if local is None:
            if unit_values(remote_c, keys) != unit_values(base, keys):
                item.notes.append("deleted here, edited on the remote")
                item.conflicts.append(_whole(base, None, remote_c))
            else:
                state.refresh = True
                self.pending += 1
            self.items.append(item)
            return
        state.local = canonical(local[0], keys)
        merge = three_way(base, state.local, remote_c, keys)
        item.to_local = merge.to_local
        item.conflicts = merge.conflicts
        state.converged = merge.converged
        if merge.to_local:
            item.local = "update"
        if merge.to_remote:
            self.pending += 1
        state.refresh = True
        self.items.append(item)

    def _pull_new(
        self, summary: RemoteSummary, answer: RemoteRecord, match: tuple[Record, int] | None
    ) -> None:
        remote_c = canonical(answer.record)
        keys = synced_keys(remote_c)
        title = str(remote_c.get("title") or summary.title)
        if match is not None:
            record, version = match
            item = PlanItem(record["id"], record["id"], summary.remote_id, title)
            state = item.state
            state.local_full, state.local_version = record, version
            state.local = canonical(record, keys)
            merge = three_way(None, state.local, remote_c, keys)
            item.conflicts = merge.conflicts
            state.converged = merge.converged
            item.notes.append("matched by id with a dataset here (first sync)")
            state.refresh = True
        else:
            planned = answer.record.get("id") or summary.local_id or summary.remote_id
            item = PlanItem(f"remote:{summary.remote_id}", None, summary.remote_id, title)
            state = item.state
            state.local_full = {"id": planned} if DATASET_ID.match(str(planned)) else None
            item.local = "create"
            item.to_local = unit_values(remote_c, keys)
        state.keys = keys
        state.remote = remote_c
        state.remote_full = answer.record
        state.remote_version = summary.version
        self.items.append(item)

    # -- push ---------------------------------------------------------------------------------

    async def _plan_push(
        self,
        links: list[db.LinkRow],
        changed: list[tuple[db.LinkRow, RemoteSummary]],
        missing: list[db.LinkRow],
    ) -> None:
        database, adapter = self.ctx.database, self.adapter
        remote_changed = {link.pk: summary for link, summary in changed}
        missing_pks = {link.pk for link in missing}
        dirty = [
            link
            for link in links
            if link.local_changed and link.remote_id is not None and link.pk not in missing_pks
        ]
        creating = [link for link in links if link.remote_id is None]
        fetch_ids = [link.remote_id or "" for link in dirty if link.pk in remote_changed]
        fetched = await self._fetch_all(fetch_ids)
        new_ids: list[str] = []
        if adapter.can_create:
            new_ids = await asyncio.to_thread(db.unlinked_local_ids, database, self.ctx.remote_pk)
        wanted = [link.dataset_id for link in dirty + creating] + new_ids
        local = await asyncio.to_thread(db.load_records, database, wanted)
        await self._load_bases(dirty)
        self.pending = sum(
            1 for link in links if link.pk in remote_changed and not link.local_changed
        )
        self.pending += len(missing)
        for link in missing:
            self.report.add(
                link.dataset_id,
                "*",
                "push",
                "not on the remote any more (deleted there, or hidden from this key): "
                "pull to handle it",
            )
        for link in dirty:
            summary = remote_changed.get(link.pk)
            answer = fetched.get(link.remote_id or "") if summary else None
            self._push_linked(link, summary, answer, local.get(link.dataset_id))
        for link in creating:
            await self._push_creating(link, local.get(link.dataset_id))
        if not adapter.can_create:
            unlinked = await asyncio.to_thread(db.unlinked_local_ids, database, self.ctx.remote_pk)
            for dataset_id in unlinked:
                self.report.add(
                    dataset_id,
                    "*",
                    "push",
                    f"exists only here, and a {self.ctx.info.kind} portal's API cannot "
                    "create datasets",
                )
        for dataset_id in new_ids:
            if dataset_id in local:
                self._push_new(*local[dataset_id])

    def _push_linked(
        self,
        link: db.LinkRow,
        summary: RemoteSummary | None,
        answer: RemoteRecord | _Gone | None,
        local: tuple[Record, int] | None,
    ) -> None:
        base = self.bases.get(link.pk, {})
        item = PlanItem(link.dataset_id, link.dataset_id, link.remote_id, "")
        state = item.state
        state.link_pk = link.pk
        state.base = base
        if isinstance(answer, _Gone):
            item.title = str(base.get("title") or "")
            item.notes.append("not on the remote any more: pull to handle it")
            self.pending += 1
            self.items.append(item)
            return
        if answer is not None:
            remote_c = canonical(answer.record)
            state.remote_full = answer.record
            state.remote_version = summary.version if summary else None
        else:
            remote_c = dict(base)
            state.remote_version = link.remote_version
        keys = synced_keys(remote_c)
        state.keys = keys
        state.remote = remote_c
        if local is None:
            item.title = str(base.get("title") or "")
            if not self.adapter.can_delete:
                item.notes.append("deleted here")
                self.report.add(
                    link.dataset_id,
                    "*",
                    "push",
                    f"deleted here, and a {self.ctx.info.kind} portal's API cannot delete "
                    "datasets: delete it on the portal, or restore it here",
                )
            elif unit_values(remote_c, keys) != unit_values(base, keys):
                item.notes.append("deleted here, edited on the remote")
                item.conflicts.append(_whole(base, None, remote_c))
            else:
                item.remote = "delete"
            self.items.append(item)
            return
        state.local_full, state.local_version = local
        state.local = canonical(local[0], keys)
        item.title = str(state.local.get("title") or "")
        merge = three_way(base, state.local, remote_c, keys)
        item.to_remote = merge.to_remote
        item.conflicts = merge.conflicts
        state.converged = merge.converged
        if merge.to_remote:
            item.remote = "update"
            for issue in self.adapter.outgoing_report(link.dataset_id, local[0]).issues:
                if any(u.split("/")[0] == issue.field.split("/")[0] for u in merge.to_remote):
                    self.report.issues.append(issue)
        if merge.to_local:
            self.pending += 1
        state.refresh = True
        self.items.append(item)

    async def _push_creating(self, link: db.LinkRow, local: tuple[Record, int] | None) -> None:
        """A create that was interrupted: adopt what it made, or create again."""
        if local is None:
            item = PlanItem(link.dataset_id, link.dataset_id, None, "", local="unlink")
            item.state.link_pk = link.pk
            item.notes.append("deleted here before its create finished")
            self.items.append(item)
            return
        if not self.adapter.can_create:
            return
        record, version = local
        found = await self.adapter.find(record)
        if found is None:
            self._push_new(record, version, link_pk=link.pk)
            return
        answer = (await self._fetch_all([found.remote_id]))[found.remote_id]
        if isinstance(answer, _Gone):
            self._push_new(record, version, link_pk=link.pk)
            return
        remote_c = canonical(answer.record)
        keys = synced_keys(remote_c)
        item = PlanItem(link.dataset_id, link.dataset_id, found.remote_id, record["title"])
        state = item.state
        state.link_pk = link.pk
        state.keys = keys
        state.base = remote_c
        state.remote = remote_c
        state.remote_full = answer.record
        state.remote_version = found.version
        state.local_full, state.local_version = record, version
        state.local = canonical(record, keys)
        state.adopt = True
        merge = three_way(remote_c, state.local, remote_c, keys)
        item.to_remote = merge.to_remote
        item.remote = "update" if merge.to_remote else None
        state.refresh = True
        item.notes.append("found on the remote from an interrupted push: adopted")
        self.items.append(item)

    def _push_new(self, record: Record, version: int, *, link_pk: int | None = None) -> None:
        local_c = canonical(record, SYNC_FIELDS)
        item = PlanItem(record["id"], record["id"], None, record["title"], remote="create")
        item.to_remote = unit_values(local_c, SYNC_FIELDS)
        state = item.state
        state.link_pk = link_pk
        state.keys = list(SYNC_FIELDS)
        state.local = local_c
        state.local_full, state.local_version = record, version
        self.report.extend(self.adapter.outgoing_report(record["id"], record))
        self.items.append(item)


def _whole(base: Record | None, local: Record | None, remote: Record | None) -> FieldConflict:
    return FieldConflict(WHOLE, base, local, remote)


# -- applying ----------------------------------------------------------------------------------


async def apply(
    database: Database,
    plan: SyncPlan,
    resolutions: Mapping[tuple[str, str], Resolution] | None = None,
    *,
    progress: Progress = NO_PROGRESS,
    options: SyncOptions = DEFAULT_OPTIONS,
) -> SyncResult:
    """Carry out `plan`; conflicts without a resolution are left alone on both sides."""
    resolutions = dict(resolutions or {})
    result = SyncResult(plan.remote, plan.direction)
    for item in plan.items:
        for conflict in item.conflicts:
            if (item.key, conflict.unit) not in resolutions:
                result.unresolved.append((item.key, conflict.unit))
    async with _open(database, plan.remote, options) as ctx:
        if plan.direction == "pull":
            await _apply_pull(ctx, plan, resolutions, progress, options, result)
            token = plan.listing.token if result.ok else None
        else:
            await _apply_push(ctx, plan, resolutions, progress, options, result)
            wrote = result.remote_created or result.remote_updated or result.remote_deleted
            # A failed write may have landed (a lost answer): list in full next time.
            token = None if wrote or result.failures else ctx.token
        await asyncio.to_thread(db.finish, database, ctx.remote_pk, token)
    return result


async def pull(
    database: Database,
    remote: str,
    resolutions: Mapping[tuple[str, str], Resolution] | None = None,
    *,
    progress: Progress = NO_PROGRESS,
    options: SyncOptions = DEFAULT_OPTIONS,
) -> tuple[SyncPlan, SyncResult]:
    """Plan and apply a pull; conflicts (without resolutions) are left alone and reported."""
    plan = await plan_pull(database, remote, progress=progress, options=options)
    return plan, await apply(database, plan, resolutions, progress=progress, options=options)


async def push(
    database: Database,
    remote: str,
    resolutions: Mapping[tuple[str, str], Resolution] | None = None,
    *,
    dry_run: bool = False,
    progress: Progress = NO_PROGRESS,
    options: SyncOptions = DEFAULT_OPTIONS,
) -> tuple[SyncPlan, SyncResult | None]:
    """Plan and (unless dry_run) apply a push."""
    plan = await plan_push(database, remote, progress=progress, options=options)
    if dry_run:
        return plan, None
    return plan, await apply(database, plan, resolutions, progress=progress, options=options)


def _resolve(
    item: PlanItem, resolutions: Mapping[tuple[str, str], Resolution]
) -> tuple[dict[str, tuple[Resolution, Any, Any]], list[str]]:
    """unit -> (resolution, local value, remote value) for resolved conflicts; unresolved."""
    resolved: dict[str, tuple[Resolution, Any, Any]] = {}
    unresolved: list[str] = []
    for conflict in item.conflicts:
        choice = resolutions.get((item.key, conflict.unit))
        if choice is None:
            unresolved.append(conflict.unit)
        else:
            resolved[conflict.unit] = (choice, conflict.local, conflict.remote)
    return resolved, unresolved


def _clean(record: Record | None, base: Record, keys: Sequence[str]) -> bool:
    return record is not None and unit_values(record, keys) == unit_values(base, keys)


# -- pull: writes here -------------------------------------------------------------------------


async def _apply_pull(
    ctx: _Context,
    plan: SyncPlan,
    resolutions: Mapping[tuple[str, str], Resolution],
    progress: Progress,
    options: SyncOptions,
    result: SyncResult,
) -> None:
    author = author_for(ctx.info.name)
    writes: list[tuple[str, db.LocalWrite | db.LocalCreate]] = []
    by_key: dict[str, PlanItem] = {}
    for item in plan.items:
        write = _pull_write(item, resolutions, author, ctx.remote_pk)
        if write is not None:
            writes.append((item.key, write))
            by_key[item.key] = item
    size = max(1, options.batch_size)
    done = 0
    progress.report(0, len(writes))
    for batch in batched(writes, size):
        outcomes = await asyncio.to_thread(db.write_batch, ctx.database, batch)
        for outcome in outcomes:
            if outcome.error is not None:
                result.failures.append(ItemFailure(outcome.key, outcome.error.message))
                continue
            action, dataset_id = outcome.value
            if action == "create":
                result.local_created.append(dataset_id)
            elif action == "update":
                result.local_updated.append(dataset_id)
            elif action == "delete":
                result.local_deleted.append(dataset_id)
            elif action == "unlink":
                result.unlinked.append(dataset_id)
        done += len(batch)
        progress.report(done, len(writes))


def _pull_write(
    item: PlanItem,
    resolutions: Mapping[tuple[str, str], Resolution],
    author: str,
    remote_pk: int,
) -> db.LocalWrite | db.LocalCreate | None:
    """The local write of one pull item (run in a worker thread), or None."""
    state = item.state
    resolved, unresolved = _resolve(item, resolutions)
    if WHOLE in unresolved:
        return None
    whole = resolved.get(WHOLE)
    if item.local == "create":
        return _create_local(item, author, remote_pk)
    if item.local == "unlink" or (whole and whole[0].choice == "mine" and state.remote is None):
        # deleted on both sides; or deleted there, kept here by choice: the link goes
        return lambda session: _unlink(session, item, remote_pk)
    if item.local == "delete" or (whole and whole[0].choice == "theirs" and state.remote is None):
        return lambda session: _delete_local(session, item, author, remote_pk)
    if whole and state.local is None and state.remote is not None:
        if whole[0].choice == "theirs":  # deleted here, edited there: bring it back
            return _create_local(item, author, remote_pk)
        # keep it deleted here: agree on the remote state, the deletion is left for a push
        return lambda session: _save(session, remote_pk, item, state.remote or {}, None, [])
    if not (state.refresh or item.to_local or resolved) or state.remote is None:
        return None
    changes = dict(item.to_local)
    for unit, (choice, _local, remote) in resolved.items():
        if choice.choice == "theirs":
            changes[unit] = remote
        elif choice.choice == "merged":
            changes[unit] = choice.value
    # The new base: the remote state, except where a conflict is left unresolved.
    new_base = dict(state.remote)
    old = state.base or {}
    new_base = set_units(new_base, {u: get_unit(old, u) for u in unresolved})

    def write(session: Session) -> tuple[str, str]:
        dataset_id = item.dataset_id or ""
        current = db.local_version(session, dataset_id)
        if current is None or current != state.local_version:
            raise StaleLocal(f"Dataset {dataset_id} changed here since the preview; sync again")
        action = "refresh"
        local_now = state.local
        version: int | None = current
        if changes:
            record = set_units(datasets.get_record(session, dataset_id), changes)
            remote_updated = (state.remote_full or {}).get("updatedAt")
            touch = True
            if isinstance(remote_updated, str) and remote_updated >= str(record["updatedAt"]):
                record["updatedAt"] = remote_updated
                touch = False
            stored = datasets.update_dataset(
                session,
                dataset_id,
                record,
                author=author,
                expected_version=state.local_version,
                touch=touch,
            )
            local_now = canonical(stored, state.keys)
            version = db.local_version(session, dataset_id)
            action = "update"
        _save(session, remote_pk, item, new_base, local_now, unresolved, version=version)
        return action, dataset_id

    return write


def _save(
    session: Session,
    remote_pk: int,
    item: PlanItem,
    new_base: Record,
    local_now: Record | None,
    unresolved: list[str],
    *,
    version: int | None = None,
    dataset_id: str | None = None,
) -> tuple[str, str]:
    state = item.state
    keys = state.keys
    dataset_id = dataset_id or item.dataset_id or ""
    db.save_link(
        session,
        remote_pk,
        db.LinkUpdate(
            dataset_id=dataset_id,
            remote_id=item.remote_id,
            remote_version=None if unresolved else state.remote_version,
            local_version=version if _clean(local_now, new_base, keys) else None,
            base={k: new_base[k] for k in keys if k in new_base},
            link_pk=state.link_pk,
        ),
    )
    return "refresh", dataset_id


def _create_local(item: PlanItem, author: str, remote_pk: int) -> db.LocalCreate:
    state = item.state
    remote = state.remote_full or {}
    record: Record = {k: remote[k] for k in state.keys if k in remote}
    for key in ("createdAt", "updatedAt"):
        if isinstance(remote.get(key), str):
            record[key] = remote[key]
    wanted = (state.local_full or {}).get("id") or item.dataset_id
    if wanted:
        record["id"] = wanted  # (if it is taken here, the dataset gets a fresh one)

    def link(session: Session, created: datasets.Created) -> tuple[str, str]:
        dataset_id = created.record["id"]
        _save(
            session,
            remote_pk,
            item,
            state.remote or {},
            canonical(created.record, state.keys),
            [],
            version=created.version,
            dataset_id=dataset_id,
        )
        return "create", dataset_id

    return db.LocalCreate(record, author, link)


def _delete_local(session: Session, item: PlanItem, author: str, remote_pk: int) -> tuple[str, str]:
    dataset_id = item.dataset_id or ""
    current = db.local_version(session, dataset_id)
    if current is not None:
        if current != item.state.local_version:
            raise StaleLocal(f"Dataset {dataset_id} changed here since the preview; sync again")
        datasets.delete_dataset(session, dataset_id, author=author)
    db.save_link(
        session, remote_pk, db.LinkUpdate(dataset_id, delete=True, link_pk=item.state.link_pk)
    )
    return "delete", dataset_id


def _unlink(session: Session, item: PlanItem, remote_pk: int) -> tuple[str, str]:
    dataset_id = item.dataset_id or ""
    db.save_link(
        session, remote_pk, db.LinkUpdate(dataset_id, delete=True, link_pk=item.state.link_pk)
    )
    return "unlink", dataset_id


# -- push: writes there ------------------------------------------------------------------------


async def _apply_push(
    ctx: _Context,
    plan: SyncPlan,
    resolutions: Mapping[tuple[str, str], Resolution],
    progress: Progress,
    options: SyncOptions,
    result: SyncResult,
) -> None:
    pusher = _Pusher(ctx, resolutions, result, options)
    jobs = [pusher.job(item) for item in plan.items if pusher.has_work(item)]
    try:
        await _run_all(jobs, progress, workers=options.http.concurrency * 2)
    finally:
        await asyncio.to_thread(db.save_links, ctx.database, ctx.remote_pk, pusher.links)


class _Pusher:
    def __init__(
        self,
        ctx: _Context,
        resolutions: Mapping[tuple[str, str], Resolution],
        result: SyncResult,
        options: SyncOptions,
    ) -> None:
        self.ctx = ctx
        self.adapter = ctx.adapter
        self.resolutions = resolutions
        self.result = result
        self.options = options
        self.links: list[db.LinkUpdate] = []

    def has_work(self, item: PlanItem) -> bool:
        return bool(item.remote or item.local == "unlink" or item.state.refresh or item.conflicts)

    def job(self, item: PlanItem) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await self._push(item)
            except PortalError as error:
                self.result.failures.append(ItemFailure(item.key, error.message))

        return run

    async def _push(self, item: PlanItem) -> None:
        resolved, unresolved = _resolve(item, self.resolutions)
        whole = resolved.get(WHOLE)
        if WHOLE in unresolved:
            return
        if item.local == "unlink":
            self.links.append(
                db.LinkUpdate(item.dataset_id or "", delete=True, link_pk=item.state.link_pk)
            )
            self.result.unlinked.append(item.dataset_id or "")
        elif item.remote == "create":
            await self._create(item)
        elif item.remote == "delete" or (whole and whole[0].choice == "mine"):
            await self.adapter.delete(item.remote_id or "")
            self.links.append(
                db.LinkUpdate(item.dataset_id or "", delete=True, link_pk=item.state.link_pk)
            )
            self.result.remote_deleted.append(item.dataset_id or "")
        elif whole is None:
            await self._update(item, resolved, unresolved)

    async def _update(
        self,
        item: PlanItem,
        resolved: dict[str, tuple[Resolution, Any, Any]],
        unresolved: list[str],
    ) -> None:
        state = item.state
        remote_id = item.remote_id or ""
        changes = dict(item.to_remote)
        base_moves: dict[str, Any] = dict(state.converged)
        # Units whose base is the local value after the push, so that the next pull brings
        # the remote's value home: theirs (not sent) and a merged value (sent there only).
        home: dict[str, Any] = {}
        for unit, (choice, local, _remote) in resolved.items():
            if choice.choice == "mine":
                changes[unit] = local
            elif choice.choice == "merged":
                changes[unit] = choice.value
                if choice.value != local:
                    home[unit] = local
            else:
                home[unit] = local
        assumed = state.remote or {}
        keys = state.keys
        version = state.remote_version
        remote_now: Record = dict(assumed)
        returned: RemoteRecord | None = None
        if changes:
            fresh = await self.adapter.fetch(remote_id)
            fresh_c = canonical(fresh.record)
            moved = sorted(u for u in changes if get_unit(fresh_c, u) != get_unit(assumed, u))
            if moved:
                self.result.failures.append(
                    ItemFailure(
                        item.key,
                        f"changed on the remote since the preview ({', '.join(moved)}): "
                        "nothing pushed for it; sync again",
                    )
                )
                return
            keys = [k for k in keys if k in fresh_c]
            before = {k: fresh_c[k] for k in keys}
            after = set_units(before, changes)
            local_full = state.local_full or {}
            if isinstance(local_full.get("updatedAt"), str):
                after["updatedAt"] = local_full["updatedAt"]
            returned = await self.adapter.update(remote_id, before, after)
            after.pop("updatedAt", None)
            if returned is not None:
                self.result.report.extend(returned.report)
            remote_now = canonical(returned.record, keys) if returned is not None else after
            version = returned.version if returned is not None else None
            self.result.remote_updated.append(item.dataset_id or "")
        new_base = set_units(state.base or {}, base_moves)
        new_base = set_units(new_base, {u: get_unit(remote_now, u) for u in changes})
        if state.adopt:
            new_base = dict(remote_now)
        new_base = set_units(new_base, home)
        pending_remote = unresolved or not _clean(remote_now, new_base, keys)
        self.links.append(
            db.LinkUpdate(
                dataset_id=item.dataset_id or "",
                remote_id=remote_id,
                remote_version=None if pending_remote else version,
                local_version=(
                    state.local_version if _clean(state.local, new_base, keys) else None
                ),
                base={k: new_base[k] for k in keys if k in new_base},
                link_pk=state.link_pk,
            )
        )

    async def _create(self, item: PlanItem) -> None:
        state = item.state
        dataset_id = item.dataset_id or ""
        record = state.local_full or {}
        database, remote_pk = self.ctx.database, self.ctx.remote_pk
        if state.link_pk is None:
            # A create in flight: if we are interrupted after the portal made it, the next
            # push finds this link and looks the dataset up instead of creating it again.
            await asyncio.to_thread(db.save_links, database, remote_pk, [db.LinkUpdate(dataset_id)])
        created = await self.adapter.create(record)
        self.result.report.extend(created.report)
        base = canonical(created.record)
        keys = synced_keys(base)
        link = db.LinkUpdate(
            dataset_id=dataset_id,
            remote_id=created.remote_id,
            remote_version=created.version,
            local_version=(
                state.local_version if _clean(canonical(record, keys), base, keys) else None
            ),
            base=base,
        )
        await asyncio.to_thread(db.save_links, database, remote_pk, [link])
        self.result.remote_created.append(dataset_id)
