"""Many coroutines run a few at a time, with progress and Cancel: the sync's fetches and pushes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from app.services.progress import Cancelled, Progress

T = TypeVar("T")


async def run_all(
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
