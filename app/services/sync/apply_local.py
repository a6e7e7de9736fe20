"""Applying a pull: the remote's changes written here, a batch of datasets and links per
transaction (links.write_batch), through the datasets service with author `sync:<remote>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from app.services import datasets
from app.services.batches import batched
from app.services.errors import CatalogueError
from app.services.progress import Progress
from app.services.records import Record
from app.services.sync import links as db
from app.services.sync.context import SyncContext, SyncOptions
from app.services.sync.merge import canonical, get_unit, set_units
from app.services.sync.plan import WHOLE, ItemFailure, PlanItem, Resolution, SyncPlan, SyncResult
from app.services.sync.resolve import agrees, resolve


class StaleLocal(CatalogueError):
    code = "stale_local"


def author_for(remote: str) -> str:
    return f"sync:{remote}"


async def apply_pull(
    ctx: SyncContext,
    plan: SyncPlan,
    resolutions: Mapping[tuple[str, str], Resolution],
    progress: Progress,
    options: SyncOptions,
    result: SyncResult,
) -> None:
    author = author_for(ctx.info.name)
    writes: list[tuple[str, db.LocalWrite | db.LocalCreate]] = []
    by_key: dict[str, PlanItem] = {}
    if plan.items:
        await ctx.adapter.prepare()
    normal = ctx.adapter.normal_form
    for item in plan.items:
        write = _pull_write(item, resolutions, author, ctx.remote_pk, normal)
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
    normal: Callable[[Record], Record],
) -> db.LocalWrite | db.LocalCreate | None:
    """The local write of one pull item (run in a worker thread), or None."""
    state = item.state
    resolved, unresolved = resolve(item, resolutions)
    if WHOLE in unresolved:
        return None
    whole = resolved.get(WHOLE)
    if item.local == "create":
        return _create_local(item, author, remote_pk, normal)
    if item.local == "unlink" or (whole and whole[0].choice == "mine" and state.remote is None):
        # deleted on both sides; or deleted there, kept here by choice: the link goes
        return lambda session: _unlink(session, item, remote_pk)
    if item.local == "delete" or (whole and whole[0].choice == "theirs" and state.remote is None):
        return lambda session: _delete_local(session, item, author, remote_pk)
    if whole and state.local is None and state.remote is not None:
        if whole[0].choice == "theirs":  # deleted here, edited there: bring it back
            return _create_local(item, author, remote_pk, normal)
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
            local_now = canonical(normal(stored), state.keys)
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
            local_version=version if agrees(local_now, new_base, keys) else None,
            base={k: new_base[k] for k in keys if k in new_base},
            link_pk=state.link_pk,
        ),
    )
    return "refresh", dataset_id


def _create_local(
    item: PlanItem, author: str, remote_pk: int, normal: Callable[[Record], Record]
) -> db.LocalCreate:
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
            canonical(normal(created.record), state.keys),
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
