"""Work done a few jobs ahead by one worker process, for the batch write path (`generate`,
import): the worker prepares the next chunks (records in their stored form, validation, the
packed history) while this process does what needs the database. A thread would not do: the
writer gives up the GIL on every row SQLite steps, then waits for it.

The worker is spawned, not forked: it needs none of this process's state (its database
connections above all). `function` must be importable by name and its jobs and results
picklable; what it does must not depend on where it runs, so that a small run, done here,
gives what the worker would.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

Result = TypeVar("Result")
Job = tuple[Any, ...]
AHEAD = 2  # jobs the worker works on ahead of the caller


def worked_ahead(
    function: Callable[..., Result],
    jobs: Iterable[Job],
    *,
    in_worker: bool,
    ahead: int = AHEAD,
) -> Iterator[tuple[Job, Result]]:
    """Each job with `function(*job)`, in the jobs' order: when `in_worker`, by a worker process
    that has the next `ahead` jobs while the caller works on a result (a worker takes a second
    or so to start: worth it for many jobs only), else here, one job at a time. `jobs` is read
    lazily, as the worker needs more."""
    if not in_worker:
        for job in jobs:
            yield job, function(*job)
        return
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        pending: deque[tuple[Job, Future[Result]]] = deque()
        for job in jobs:
            pending.append((job, pool.submit(function, *job)))
            if len(pending) > ahead:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
