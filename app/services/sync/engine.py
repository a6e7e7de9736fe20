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

Where the parts live: `context` (options, the opened remote), `planning` (the preview),
`apply_local` (a pull's writes here), `apply_remote` (a push's writes there), `resolve` (the
person's resolutions), `concurrency` (a few coroutines at a time, with progress and Cancel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from app.models.database import Database
from app.services.progress import NO_PROGRESS, Progress
from app.services.sync import links as db
from app.services.sync.apply_local import apply_pull
from app.services.sync.apply_remote import apply_push
from app.services.sync.context import DEFAULT_OPTIONS, SyncOptions, open_remote
from app.services.sync.plan import ItemFailure, Resolution, SyncPlan, SyncResult
from app.services.sync.planning import Planner
from app.services.sync.refused import stored_token


async def plan_pull(
    database: Database,
    remote: str,
    *,
    progress: Progress = NO_PROGRESS,
    options: SyncOptions = DEFAULT_OPTIONS,
) -> SyncPlan:
    """What a pull from `remote` would write here (and the conflicts). Writes nothing."""
    async with open_remote(database, remote, options) as ctx:
        return await Planner(ctx, "pull", progress, options).run()


async def plan_push(
    database: Database,
    remote: str,
    *,
    progress: Progress = NO_PROGRESS,
    options: SyncOptions = DEFAULT_OPTIONS,
) -> SyncPlan:
    """What a push to `remote` would write there (and the conflicts). Writes nothing."""
    async with open_remote(database, remote, options) as ctx:
        return await Planner(ctx, "push", progress, options).run()


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
    result.failures.extend(
        ItemFailure(item.key, item.state.skipped) for item in plan.items if item.state.skipped
    )
    for item in plan.items:
        for conflict in item.conflicts:
            if (item.key, conflict.unit) not in resolutions:
                result.unresolved.append((item.key, conflict.unit))
    async with open_remote(database, plan.remote, options) as ctx:
        if plan.direction == "pull":
            await apply_pull(ctx, plan, resolutions, progress, options, result)
            token = stored_token(plan.listing.token, plan.refused) if result.ok else None
        else:
            await apply_push(ctx, plan, resolutions, progress, options, result)
            wrote = result.remote_created or result.remote_updated or result.remote_deleted
            # A failed write may have landed (a lost answer): list in full next time.
            token = None if wrote or result.failures else stored_token(ctx.token, ctx.refused)
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
