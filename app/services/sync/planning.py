"""Planning a pull or a push: list the remote, fetch what changed, compare three ways.

Writes nothing anywhere. The result is the SyncPlan (sync.plan) the person previews.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from app.services.clock import today_iso
from app.services.errors import ValidationFailed
from app.services.new_datasets import stored_record
from app.services.progress import Progress
from app.services.records import Record
from app.services.sync import links as db
from app.services.sync.adapter import (
    SYNC_FIELDS,
    MalformedAnswer,
    MappingReport,
    PortalForbidden,
    PortalNotFound,
    RemoteRecord,
    RemoteSummary,
)
from app.services.sync.concurrency import run_all
from app.services.sync.context import SyncContext, SyncOptions
from app.services.sync.merge import (
    FieldConflict,
    canonical,
    set_units,
    synced_keys,
    three_way,
    unit_values,
)
from app.services.sync.plan import WHOLE, Direction, PlanItem, SyncPlan
from app.services.sync.refused import Refused
from app.services.validation import DATASET_ID, validate_record

CANNOT_HOLD = "cannot be held here"


class _Gone:
    """A fetch found the dataset deleted (404) or hidden from the key (403)."""

    def __init__(self, hidden: bool) -> None:
        self.hidden = hidden


class _Skipped:
    """A fetch got no usable answer, even retried: this dataset sits this sync out."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Planner:
    """Builds the SyncPlan of one pull or push over an opened remote (`run`)."""

    def __init__(
        self, ctx: SyncContext, direction: Direction, progress: Progress, options: SyncOptions
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
        self.refused: Refused = {}

    def _local(self, record: Record, keys: Sequence[str]) -> Record:
        """A local record compared with the remote: in the portal's normal form."""
        return canonical(self.adapter.normal_form(record), keys)

    async def _load_bases(self, links: Sequence[db.LinkRow]) -> None:
        pks = [link.pk for link in links]
        self.bases = await asyncio.to_thread(db.load_bases, self.ctx.database, pks)

    async def _fetch_all(
        self, remote_ids: Sequence[str]
    ) -> dict[str, RemoteRecord | _Gone | _Skipped]:
        adapter = self.adapter

        def job(remote_id: str) -> Callable[[], Awaitable[RemoteRecord | _Gone | _Skipped]]:
            async def fetch() -> RemoteRecord | _Gone | _Skipped:
                try:
                    return await adapter.fetch(remote_id)
                except PortalNotFound:
                    return _Gone(hidden=False)
                except PortalForbidden:
                    return _Gone(hidden=True)
                except MalformedAnswer as error:  # one bad answer costs one dataset
                    return _Skipped(error.message)

            return fetch

        await adapter.prefetch(remote_ids)
        results = await run_all(
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

    def _skip(
        self, key: str, dataset_id: str | None, remote_id: str | None, answer: _Skipped
    ) -> None:
        """A dataset whose answer was unusable: shown, written on neither side, a failure of
        the sync (so the listing token stays and the next sync reads it again)."""
        item = PlanItem(key, dataset_id, remote_id, "", notes=[f"skipped: {answer.reason}"])
        item.state.skipped = answer.reason
        self.items.append(item)

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
        self.refused = {
            rid: entry
            for rid, entry in ctx.refused.items()
            if (rid in summaries or not listing.complete)
        }
        for summary in summaries.values():
            link = by_remote.get(summary.remote_id)
            if self._still_refused(summary):
                continue
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
            refused=self.refused,
        )

    def _still_refused(self, summary: RemoteSummary) -> bool:
        """A dataset a pull could not hold, unchanged since: reported again, not fetched."""
        entry = self.refused.get(summary.remote_id)
        if entry is None or self.options.full:
            return False
        version, why = entry
        if version is None or version != summary.version:
            del self.refused[summary.remote_id]  # changed there: read it again
            return False
        self.report.add(summary.remote_id, "*", self.direction, f"{CANNOT_HOLD} (unchanged): {why}")
        return True

    def _refuse(self, summary: RemoteSummary, record: Record, item: PlanItem) -> bool:
        """Whether `record` (what a pull would write here) is one this catalogue cannot hold:
        if so the item writes nothing, says why once, and is remembered (`sync.refused`)."""
        try:
            validate_record(stored_record({**record, "id": record.get("id") or "xxxxx"}))
        except ValidationFailed as failure:
            why = "; ".join(f"{path}: {message}" for path, message in failure.errors.items())
            self.refused[summary.remote_id] = (summary.version, why)
            self.report.add(
                item.dataset_id or summary.remote_id, "*", "pull", f"{CANNOT_HOLD}: {why}"
            )
            item.notes.append(f"{CANNOT_HOLD}: {why}")
            item.local, item.to_local = None, {}
            item.state.refresh = False
            return True
        return False

    # -- pull ---------------------------------------------------------------------------------

    async def _plan_pull(
        self,
        links: list[db.LinkRow],
        changed: list[tuple[db.LinkRow, RemoteSummary]],
        new: list[RemoteSummary],
        missing: list[db.LinkRow],
    ) -> None:
        database = self.ctx.database
        if changed or missing or new:
            await self.adapter.prepare()
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
            if isinstance(answer, _Skipped):
                self._skip(link.dataset_id, link.dataset_id, link.remote_id, answer)
                continue
            self._pull_linked(link, summary, answer, local.get(link.dataset_id))
        for link in missing:
            answer = fetched[link.remote_id or ""]
            if isinstance(answer, _Skipped):
                self._skip(link.dataset_id, link.dataset_id, link.remote_id, answer)
                continue
            summary = RemoteSummary(link.remote_id or "", None)
            self._pull_linked(link, summary, answer, local.get(link.dataset_id))
        for summary in new:
            answer = fetched[summary.remote_id]
            if isinstance(answer, _Skipped):
                self._skip(f"remote:{summary.remote_id}", None, summary.remote_id, answer)
                continue
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
        item = _adopted(link, record, version, summary.remote_id, summary.version, answer)
        item.state.local = self._local(record, item.state.keys)
        state = item.state
        if unit_values(state.local, state.keys) != unit_values(state.remote, state.keys):
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
                state.local = self._local(local[0], keys)
                if unit_values(state.local, keys) == unit_values(base, keys):
                    item.local = "delete"
                    item.notes.append("deleted on the remote")
                    item.notes.append("deleted here too, restorable from its history")
                else:
                    item.notes.append(
                        "deleted there, edited here: keep mine creates it there again on the "
                        "next push, take theirs deletes it here"
                    )
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
        state.local = self._local(local[0], keys)
        merge = three_way(base, state.local, remote_c, keys)
        item.to_local = merge.to_local
        item.conflicts = merge.conflicts
        state.converged = merge.converged
        if merge.to_local:
            item.local = "update"
            if self._refuse(summary, set_units(local[0], merge.to_local), item):
                self.items.append(item)
                return
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
            state.local = self._local(record, keys)
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
            if self._refuse(summary, {k: answer.record[k] for k in keys}, item):
                self.items.append(item)
                return
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
        # An embargo that passed changes what the portal may show, with no edit here.
        opened = await asyncio.to_thread(
            db.embargo_passed_ids, database, self.ctx.remote_pk, today_iso()
        )
        dirty = [
            link
            for link in links
            if (link.local_changed or link.dataset_id in opened)
            and link.remote_id is not None
            and link.pk not in missing_pks
        ]
        creating = [link for link in links if link.remote_id is None]
        fetch_ids = [link.remote_id or "" for link in dirty if link.pk in remote_changed]
        fetch_ids += [link.remote_id or "" for link in missing]
        new_ids: list[str] = []
        if adapter.can_create:
            new_ids = await asyncio.to_thread(db.unlinked_local_ids, database, self.ctx.remote_pk)
        if fetch_ids or dirty or creating or new_ids:
            await adapter.prepare()
        fetched = await self._fetch_all(fetch_ids)
        wanted = [link.dataset_id for link in dirty + creating + missing] + new_ids
        local = await asyncio.to_thread(db.load_records, database, wanted)
        await self._load_bases(dirty + missing)
        self.pending = sum(
            1 for link in links if link.pk in remote_changed and not link.local_changed
        )
        for link in missing:
            answer = fetched.get(link.remote_id or "")
            if isinstance(answer, RemoteRecord):  # the listing lagged: it is there
                if link.local_changed:
                    lagged = RemoteSummary(link.remote_id or "", answer.version)
                    self._push_linked(link, lagged, answer, local.get(link.dataset_id))
                continue
            if isinstance(answer, _Skipped):  # unreadable, not gone: nothing is deleted for it
                self._skip(link.dataset_id, link.dataset_id, link.remote_id, answer)
                continue
            self._push_gone(link, answer or _Gone(hidden=False), local.get(link.dataset_id))
        for link in dirty:
            summary = remote_changed.get(link.pk)
            answer = fetched.get(link.remote_id or "") if summary else None
            if isinstance(answer, _Skipped):
                self._skip(link.dataset_id, link.dataset_id, link.remote_id, answer)
                continue
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
            self._push_gone(link, answer, local)
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
        state.local = self._local(local[0], keys)
        item.title = str(local[0].get("title") or "")
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

    def _push_gone(self, link: db.LinkRow, answer: _Gone, local: tuple[Record, int] | None) -> None:
        """A linked dataset the remote no longer shows: deleted there, or hidden from the key."""
        base = self.bases.get(link.pk, {})
        item = PlanItem(link.dataset_id, link.dataset_id, link.remote_id, "")
        state = item.state
        state.link_pk, state.base, state.keys = link.pk, base, list(base)
        item.title = str((local[0] if local else base).get("title") or "")
        if answer.hidden:
            item.notes.append("no longer visible to this key on the remote: left alone")
            self.report.add(link.dataset_id, "*", "push", "the remote refuses to show it (403)")
        elif local is None:
            item.local = "unlink"
            item.notes.append("deleted on both sides")
        elif not link.local_changed:
            item.notes.append("deleted there: the next pull deletes it here")
            self.pending += 1
        else:
            state.local_full, state.local_version = local
            state.local = self._local(local[0], state.keys)
            item.notes.append(
                "deleted there, edited here: keep mine creates it there again, take theirs "
                "leaves it for the next pull to delete here"
            )
            item.conflicts.append(_whole(base, state.local, None))
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
        if isinstance(answer, _Skipped):  # found, not readable: never created a second time
            self._skip(link.dataset_id, link.dataset_id, found.remote_id, answer)
            return
        if isinstance(answer, _Gone):
            self._push_new(record, version, link_pk=link.pk)
            return
        item = _adopted(link, record, version, found.remote_id, found.version, answer)
        state = item.state
        state.local = self._local(record, state.keys)
        state.adopt = True
        assert state.remote is not None and state.local is not None  # set by _adopted
        merge = three_way(state.remote, state.local, state.remote, state.keys)
        item.to_remote = merge.to_remote
        item.remote = "update" if merge.to_remote else None
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


def _adopted(
    link: db.LinkRow,
    record: Record,
    version: int,
    remote_id: str,
    remote_version: str | None,
    answer: RemoteRecord,
) -> PlanItem:
    """The plan item of a dataset an interrupted push created on the remote, found again and
    adopted: the remote's record is the base, so what differs here is left for a push."""
    remote_c = canonical(answer.record)
    keys = synced_keys(remote_c)
    item = PlanItem(link.dataset_id, link.dataset_id, remote_id, record["title"])
    state = item.state
    state.link_pk = link.pk
    state.keys = keys
    state.base = remote_c
    state.remote = remote_c
    state.remote_full = answer.record
    state.remote_version = remote_version
    state.local_full, state.local_version = record, version
    state.local = canonical(record, keys)
    state.refresh = True
    item.notes.append("found on the remote from an interrupted push: adopted")
    return item
