"""The worker that prepares the batch write path's next chunks (services.worker_ahead): what it
gives is what this process gives, in the jobs' order, the first job done here while the worker
starts."""

from __future__ import annotations

from typing import Any

from app.services.new_datasets import Prepared
from app.services.synthetic import prepared_chunk
from app.services.worker_ahead import worked_ahead, worker


def _rows(prepared: Prepared) -> tuple[Any, ...]:
    rows = prepared.rows
    return (
        prepared.batch,
        rows.datasets,
        rows.resources,
        rows.links,
        rows.versions,
        rows.collaborators,
        rows.read_users,
        rows.read_teams,
    )


def test_a_worker_prepares_the_chunks_this_process_prepares() -> None:
    jobs = [(5, 1, 4), (5, 5, 3), (5, 8, 4), (5, 12, 2)]
    here = [
        (job, _rows(prepared)) for job, prepared in worked_ahead(prepared_chunk, jobs, pool=None)
    ]
    with worker() as pool:
        there = [
            (job, _rows(p)) for job, p in worked_ahead(prepared_chunk, jobs, pool=pool, ahead=2)
        ]
        workers = list(pool._processes.values())
    assert len(workers) == 1 and workers[0].pid is not None  # the chunks were sent to it
    assert there == here
    assert [job for job, _ in there] == jobs
    assert [len(rows[0]) for _, rows in there] == [4, 3, 4, 2]


def test_no_job_no_worker_started() -> None:
    with worker() as pool:
        assert list(worked_ahead(prepared_chunk, [], pool=pool)) == []
        assert not pool._processes  # nothing was sent: no process was spawned
