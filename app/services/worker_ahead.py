"""Work done a few jobs ahead by one worker process, for the batch write path (`generate`):
the worker prepares the next chunks (records in their stored form, validation, the packed
history) while this process does what needs the database. A thread would not do: the writer
gives up the GIL on every row SQLite steps, then waits for it. Worth it only when the worker
sends back much less work than it did: records read from a file (an import) would travel to
the worker and back for about what the worker saves.

The worker is spawned, not forked: it needs none of this process's state (its database
connections above all). A function it runs must be importable by name and its jobs and
results picklable; what it does must not depend on where it runs, so that a small run, done
here, gives what the worker would.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, TypeVar

Result = TypeVar("Result")
Job = tuple[Any, ...]
AHEAD = 2  # jobs the worker works on ahead of the caller


@contextmanager
def worker() -> Iterator[ProcessPoolExecutor]:
    """One worker process, started with its first job (none for no job), and shut down on the
    way out, whatever happens."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def worked_ahead(
    function: Callable[..., Result],
    jobs: Iterable[Job],
    *,
    pool: ProcessPoolExecutor | None,
    ahead: int = AHEAD,
) -> Iterator[tuple[Job, Result]]:
    """Each job with `function(*job)`, in the jobs' order: by the worker `pool` (see `worker`),
    which has the next `ahead` jobs while the caller works on a result, or without one here,
    one job at a time (a worker takes a second or so to start: worth it for many jobs only).
    With a worker, the first job is done here, while the worker starts on the next ones.
    `jobs` is read lazily, as the worker needs more."""
    if pool is None:
        for job in jobs:
            yield job, function(*job)
        return
    remaining = iter(jobs)
    first = next(remaining, None)
    if first is None:
        return
    pending: deque[tuple[Job, Future[Result]]] = deque(
        (job, pool.submit(function, *job)) for job in itertools.islice(remaining, ahead)
    )
    yield first, function(*first)
    for job in remaining:
        pending.append((job, pool.submit(function, *job)))
        if len(pending) > ahead:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()
