"""Check the external links of datasets, as DataPress QA does, and record what was found.

Each link is fetched with httpx (HEAD, falling back to GET when the server refuses HEAD), a few
at a time (`concurrency`), each within `timeout` seconds. Its `qa` gets the HTTP status, the
Content-Type, the size from Content-Length, the ETag as hash, and the time of the check; a
network failure records no status (None) and keeps the error text in the result. The findings
are written per dataset through datasets.update_dataset (action "link-check", updatedAt left
as it is, refused if the dataset was edited meanwhile), so history and derived data follow.

`probe_links` asks the servers and writes nothing; `record_findings` writes what it found in a
transaction the caller holds (the window's: views.link_checker, as an operation), and says which
datasets it wrote. `check_links` does both, each dataset in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Dataset, Link
from app.models.database import Database
from app.services import datasets, policy
from app.services.clock import now_iso
from app.services.errors import NotFound, StaleEdit
from app.services.progress import NO_PROGRESS, Progress

AUTHOR = "link-check"
USER_AGENT = "CatalogueDesk-LinkCheck/1.0"
# Statuses that mean "this server does not do HEAD here": ask again with GET.
_LENGTH = re.compile(r"[0-9]{1,18}")
_HEAD_REFUSED = frozenset({400, 403, 404, 405, 406, 429, 500, 501, 502, 503})


@dataclass(frozen=True)
class LinkCheckResult:
    dataset_id: str
    lid: str
    url: str
    http_status: int | None
    error: str | None
    checked_at: str

    @property
    def broken(self) -> bool:
        """Whether this check marks its link broken (policy.broken_link)."""
        return policy.is_broken_link(self.http_status, self.checked_at)


def is_broken(qa: dict[str, Any]) -> bool:
    """Whether a link's last check failed (policy.broken_link), from its stored qa."""
    status = qa.get("httpStatus")
    if not isinstance(status, int) or isinstance(status, bool):
        status = None  # a value no check writes: no answer
    return policy.is_broken_link(status, qa.get("timestamp"))


@dataclass(frozen=True)
class _Target:
    dataset_id: str
    version: int
    lid: str
    url: str


@dataclass(frozen=True)
class DatasetFindings:
    """One dataset's checked links: lid -> (the url checked, its new qa), and the version that
    was checked (a dataset edited since is left alone: its links may have changed)."""

    dataset_id: str
    version: int
    links: dict[str, tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Findings:
    """What a check found, not yet written: its results, and the findings per dataset."""

    results: list[LinkCheckResult]
    datasets: list[DatasetFindings]


async def check_links(
    database: Database,
    *,
    dataset_ids: Sequence[str] | None = None,
    concurrency: int = 8,
    timeout: float = 10.0,
    progress: Progress = NO_PROGRESS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[LinkCheckResult]:
    """Check the links of `dataset_ids` (every dataset when None) and record the findings.

    Progress counts links checked. Cancelled (from `progress`) stops the checks; what was
    checked before is not written. `transport` is for tests (e.g. an ASGI app)."""
    findings = await probe_links(
        database,
        dataset_ids=dataset_ids,
        concurrency=concurrency,
        timeout=timeout,
        progress=progress,
        transport=transport,
    )
    await asyncio.to_thread(_record, database, findings)
    return findings.results


async def probe_links(
    database: Database,
    *,
    dataset_ids: Sequence[str] | None = None,
    concurrency: int = 8,
    timeout: float = 10.0,
    progress: Progress = NO_PROGRESS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Findings:
    """Check the links as `check_links` does, and write nothing."""
    targets = await asyncio.to_thread(_targets, database, dataset_ids)
    total = len(targets)
    progress.report(0, total)
    semaphore = asyncio.Semaphore(max(1, concurrency))
    found: dict[tuple[str, str], tuple[LinkCheckResult, dict[str, Any]]] = {}
    done = 0
    limits = httpx.Limits(max_connections=max(1, concurrency))
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        limits=limits,
        headers={"User-Agent": USER_AGENT},
        transport=transport,
    ) as client:

        async def run(target: _Target) -> None:
            nonlocal done
            async with semaphore:
                if progress.cancelled:
                    return
                result, qa = await _check(client, target)
            found[(target.dataset_id, target.lid)] = (result, qa)
            done += 1
            progress.report(done, total)

        tasks = [asyncio.create_task(run(target)) for target in targets]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    progress.report(done, total)
    by_dataset: dict[str, DatasetFindings] = {}
    for target in targets:
        checked = found.get((target.dataset_id, target.lid))
        if checked is not None:
            entry = by_dataset.setdefault(
                target.dataset_id, DatasetFindings(target.dataset_id, target.version, {})
            )
            entry.links[target.lid] = (target.url, checked[1])
    results = [found[(t.dataset_id, t.lid)][0] for t in targets if (t.dataset_id, t.lid) in found]
    return Findings(results, list(by_dataset.values()))


def _targets(database: Database, dataset_ids: Sequence[str] | None) -> list[_Target]:
    statement = (
        select(Dataset.id, Dataset.version, Link.lid, Link.url)
        .join(Link, Link.dataset_pk == Dataset.pk)
        .order_by(Dataset.pk, Link.position, Link.pk)
    )
    if dataset_ids is not None:
        statement = statement.where(Dataset.id.in_(set(dataset_ids)))
    with database.read() as session:
        return [_Target(*row) for row in session.execute(statement).all()]


async def _check(
    client: httpx.AsyncClient, target: _Target
) -> tuple[LinkCheckResult, dict[str, Any]]:
    checked_at = now_iso()
    try:
        response = await _head_or_get(client, target.url)
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        message = str(error) or type(error).__name__
        # As DataPress QA: no answer, so no status, type, size or hash.
        failed = dict.fromkeys(("httpStatus", "mimetype", "size", "hash"))
        failed["timestamp"] = checked_at
        failed_result = LinkCheckResult(
            target.dataset_id, target.lid, target.url, None, message, checked_at
        )
        return failed_result, failed
    headers = response.headers
    length = headers.get("content-length")
    qa: dict[str, Any] = {
        "timestamp": checked_at,
        "httpStatus": response.status_code,
        "mimetype": headers.get("content-type"),
        # A size SQLite can store, in ASCII digits (str.isdigit() accepts "²").
        "size": int(length) if length and _LENGTH.fullmatch(length) else None,
        "hash": headers.get("etag"),
    }
    result = LinkCheckResult(
        target.dataset_id, target.lid, target.url, response.status_code, None, checked_at
    )
    return result, qa


async def _head_or_get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """HEAD, or GET when the server refuses HEAD or drops it; only the headers are read."""
    try:
        response = await client.head(url)
        if response.status_code not in _HEAD_REFUSED:
            return response
    except (httpx.TimeoutException, httpx.InvalidURL, httpx.UnsupportedProtocol):
        raise
    except httpx.TransportError:
        pass  # some servers drop HEAD requests: GET decides
    async with client.stream("GET", url) as streamed:
        return streamed


def _record(database: Database, findings: Findings) -> None:
    """Each dataset's findings in a transaction of its own."""
    for dataset in findings.datasets:
        with database.transaction() as session:
            record_findings(session, [dataset])


def record_findings(session: Session, findings: Sequence[DatasetFindings]) -> list[str]:
    """Write the findings in the caller's transaction, each dataset in a savepoint: one edited
    (or deleted) since it was checked is left alone, the others are written. The ids of the
    datasets written."""
    written: list[str] = []
    for dataset in findings:
        try:
            with session.begin_nested():
                record = datasets.get_record(session, dataset.dataset_id)
                links = record["links"]
                for lid, (url, qa) in dataset.links.items():
                    link = links.get(lid)
                    if link is None or link["url"] != url:
                        continue
                    link["qa"] = {**link["qa"], **qa}
                datasets.update_dataset(
                    session,
                    dataset.dataset_id,
                    {"links": links},
                    author=AUTHOR,
                    expected_version=dataset.version,
                    action="link-check",
                    touch=False,
                )
        except (StaleEdit, NotFound):
            continue
        written.append(dataset.dataset_id)
    return written
