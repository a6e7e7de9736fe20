"""Applying a push: the local changes written to the portal, each right after re-reading the
remote dataset, so a remote edit made since the preview is never overwritten.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from app.services.progress import Progress
from app.services.records import Record
from app.services.sync import links as db
from app.services.sync.adapter import PortalError, RemoteRecord
from app.services.sync.concurrency import run_all
from app.services.sync.context import SyncContext, SyncOptions
from app.services.sync.merge import canonical, get_unit, set_units, synced_keys
from app.services.sync.plan import WHOLE, ItemFailure, PlanItem, Resolution, SyncPlan, SyncResult
from app.services.sync.resolve import agrees, resolve


async def apply_push(
    ctx: SyncContext,
    plan: SyncPlan,
    resolutions: Mapping[tuple[str, str], Resolution],
    progress: Progress,
    options: SyncOptions,
    result: SyncResult,
) -> None:
    pusher = _Pusher(ctx, resolutions, result, options)
    jobs = [pusher.job(item) for item in plan.items if pusher.has_work(item)]
    if jobs:
        await ctx.adapter.prepare()
    try:
        await run_all(jobs, progress, workers=options.http.concurrency * 2)
    finally:
        await asyncio.to_thread(db.save_links, ctx.database, ctx.remote_pk, pusher.links)


class _Pusher:
    def __init__(
        self,
        ctx: SyncContext,
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
        resolved, unresolved = resolve(item, self.resolutions)
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
        elif whole and item.state.remote is None and item.state.local is not None:
            await self._gone_there(item, whole[0])
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
        pending_remote = unresolved or not agrees(remote_now, new_base, keys)
        self.links.append(
            db.LinkUpdate(
                dataset_id=item.dataset_id or "",
                remote_id=remote_id,
                remote_version=None if pending_remote else version,
                local_version=(
                    state.local_version if agrees(state.local, new_base, keys) else None
                ),
                base={k: new_base[k] for k in keys if k in new_base},
                link_pk=state.link_pk,
            )
        )

    async def _gone_there(self, item: PlanItem, choice: Resolution) -> None:
        """Deleted there, edited here: keep mine creates it there again; take theirs agrees
        with the deletion, so the next pull deletes it here (restorable from history)."""
        state = item.state
        if choice.choice == "theirs":
            self.links.append(
                db.LinkUpdate(
                    dataset_id=item.dataset_id or "",
                    remote_id=item.remote_id,
                    remote_version=None,
                    local_version=state.local_version,
                    base=dict(state.local or {}),
                    link_pk=state.link_pk,
                )
            )
            return
        # The link forgets the deleted dataset before the create, so an interrupted create is
        # found again by the adapter (`find`), never matched with the deleted one.
        await asyncio.to_thread(
            db.save_links,
            self.ctx.database,
            self.ctx.remote_pk,
            [db.LinkUpdate(item.dataset_id or "", link_pk=state.link_pk)],
        )
        await self._create(item)

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
        local = canonical(self.adapter.normal_form(record), keys)
        link = db.LinkUpdate(
            dataset_id=dataset_id,
            remote_id=created.remote_id,
            remote_version=created.version,
            local_version=state.local_version if agrees(local, base, keys) else None,
            base=base,
        )
        await asyncio.to_thread(db.save_links, database, remote_pk, [link])
        self.result.remote_created.append(dataset_id)
