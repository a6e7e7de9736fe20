"""Run the harvest checks against a server's URL: first whether it answers at all, then each
check in turn (docs/ARCHITECTURE.md: off the GUI thread; the window runs this on a worker).

Progress is reported before every request, so Cancel stops between requests. It counts STEP
units a check: check number * STEP plus how far the check is (a walk knows), so the bar moves
during a long walk and `done // STEP` names the check under way. A check that raises anything
but Cancelled is a bug of ours; it is reported as an error finding of that check and the
others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from app.services.harvest_check import dcat, incremental, oai, schema_org
from app.services.harvest_check.feed import FEED
from app.services.harvest_check.findings import CheckResult, Finding, Level, Report, error, ok
from app.services.harvest_check.http import DEFAULT_LIMITS, Limits, Probe, Unusable
from app.services.progress import NO_PROGRESS, Cancelled, Progress

SERVER = "Server"
Check = Callable[[Probe], list[Finding]]
CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("oai", oai.NAME, oai.check),
    ("dcat", dcat.NAME, dcat.check),
    ("schema_org", schema_org.NAME, schema_org.check),
    ("incremental", incremental.NAME, incremental.check),
)
STEPS = (SERVER, *(name for _, name, _ in CHECKS))  # what progress step n is checking
STEP = 1000  # progress units a check


def run_checks(
    url: str, progress: Progress = NO_PROGRESS, limits: Limits = DEFAULT_LIMITS
) -> Report:
    if (refused := _not_an_address(url)) is not None:
        return Report(url, (CheckResult("server", SERVER, (refused,)),))
    total = len(STEPS) * STEP
    step = 0

    def tick() -> None:
        progress.report(step * STEP + int(min(1.0, probe.done) * (STEP - 1)), total)

    results: list[CheckResult] = []
    with Probe(url, limits, tick) as probe:
        server = CheckResult("server", SERVER, (_answers(probe),))
        results.append(server)
        if server.level is Level.OK:
            for step, (key, name, check) in enumerate(CHECKS, 1):  # noqa: B007 - tick reads step
                probe.done = 0.0
                results.append(CheckResult(key, name, tuple(_run(check, probe))))
    progress.report(total, total)
    return Report(probe.base, tuple(results))


def _not_an_address(url: str) -> Finding | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        reason = str(exc)
    else:
        if parts.scheme in ("http", "https") and parts.hostname:
            return None
        reason = "it needs http:// or https:// and a host"
    return error(
        f"Not a server address: {url!r}",
        reason,
        "Give the address the server listens on, e.g. http://127.0.0.1:8080.",
    )


def _answers(probe: Probe) -> Finding:
    try:
        response = probe.get(FEED, "The server", params={"limit": 1})
    except Unusable as unusable:
        return unusable.finding
    version = response.headers.get(incremental.VERSION_HEADER)
    return ok(
        f"The server answers at {probe.base}",
        f"Catalogue version {version}." if version else "",
    )


def _run(check: Check, probe: Probe) -> list[Finding]:
    try:
        return check(probe)
    except Cancelled:
        raise
    except Exception as exc:  # a bug of the check: said in the report, the others still run
        return [
            error(
                "The check itself failed",
                f"{type(exc).__name__}: {exc}",
                "This is a fault of Catalogue Desk, not of the server: please report it with "
                "this text.",
            )
        ]
