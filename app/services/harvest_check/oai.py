"""Check a: an OAI-PMH 2.0 harvest of `/oai`, as an archival aggregator makes it.

`Identify`, then `ListRecords` in `oai_dc` through every resumptionToken: the records and the
deleted headers seen, the protocol errors the provider answers, and whether the live records
are the published datasets (the JSON-LD feed's ids). The answers are parsed with defusedxml:
a server under test is not trusted with entity expansion.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from app.services.harvest_check import feed
from app.services.harvest_check.findings import Finding, error, examples, ok, warning
from app.services.harvest_check.http import Probe, Unusable

NAME = "OAI-PMH harvest"
PATH = "/oai"
NS = "{http://www.openarchives.org/OAI/2.0/}"
AGAIN = "If the catalogue changed during the check, run it again."


@dataclass
class Walk:
    live: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    pages: int = 0
    complete_list_size: int | None = None
    complete: bool = False  # every page read, up to the last (empty) resumptionToken
    capped: bool = False  # stopped at the record cap or the time budget
    problem: Finding | None = None  # why the walk stopped early


def check(probe: Probe) -> list[Finding]:
    try:
        findings = [identify(probe)]
    except Unusable as unusable:
        return [unusable.finding]
    walk = walk_records(probe)
    findings += walk_findings(walk, probe)
    if walk.complete:
        findings += compare_with_feed(walk, probe)
    return findings


def answer(probe: Probe, params: dict[str, str], what: str) -> Element:
    """The OAI-PMH root element of one answer; Unusable if it is not OAI-PMH XML."""
    response = probe.get(
        PATH,
        what,
        params=params,
        action="Archival aggregators harvest over OAI-PMH at /oai: without it they cannot "
        "read this catalogue.",
    )
    try:
        root = SafeET.fromstring(response.content)
    except (ParseError, defusedxml.DefusedXmlException) as exc:
        raise Unusable(
            error(
                f"{what}: the answer is not well-formed XML",
                f"GET {response.url}: {exc}",
                "Harvesters reject the whole answer: look at the server's error log.",
            )
        ) from None
    if root.tag != f"{NS}OAI-PMH":
        raise Unusable(
            error(
                f"{what}: the answer is not OAI-PMH",
                f"GET {response.url}: the root element is {root.tag}, not OAI-PMH 2.0's",
            )
        )
    return root


def protocol_error(root: Element) -> tuple[str, str] | None:
    found = root.find(f"{NS}error")
    if found is None:
        return None
    return found.get("code", "?"), (found.text or "").strip()


def identify(probe: Probe) -> Finding:
    root = answer(probe, {"verb": "Identify"}, "Identify")
    if (failure := protocol_error(root)) is not None:
        raise Unusable(error(f"Identify answered the error {failure[0]}", failure[1]))
    body = root.find(f"{NS}Identify")
    if body is None:
        raise Unusable(error("Identify: the answer has no <Identify>"))

    def text(name: str) -> str:
        return (body.findtext(f"{NS}{name}") or "").strip()

    version, deleted, base_url = text("protocolVersion"), text("deletedRecord"), text("baseURL")
    if version != "2.0":
        raise Unusable(
            error(f"Identify: protocol version {version or 'missing'}", "Harvesters expect 2.0.")
        )
    detail = (
        f"Repository {text('repositoryName')!r} at {base_url}, deleted records {deleted}, "
        f"granularity {text('granularity')}"
    )
    if deleted not in ("persistent", "transient"):
        return warning(
            "Identify: deleted records are not kept",
            detail,
            "Harvesters never hear of withdrawn datasets and keep them in their mirrors.",
        )
    if base_url.rstrip("/") != probe.url(PATH):
        return warning(
            "Identify: the base URL is not the address checked",
            f"{detail}; checked {probe.url(PATH)}",
            "Harvesters follow the base URL: set the server's public URL to where it is reached.",
        )
    return ok("Identify answers OAI-PMH 2.0", detail)


def walk_records(probe: Probe) -> Walk:
    walk = Walk()
    params = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    seen: set[str] = set()
    deadline = probe.deadline()
    while True:
        try:
            root = answer(probe, params, f"ListRecords, page {walk.pages + 1}")
        except Unusable as unusable:
            walk.problem = unusable.finding
            return walk
        if (failure := protocol_error(root)) is not None:
            code, message = failure
            if code == "noRecordsMatch" and walk.pages == 0:
                walk.complete = True  # an empty repository
            else:
                walk.problem = error(
                    f"ListRecords, page {walk.pages + 1}: the provider answered {code}",
                    message,
                    "Harvesters stop here and keep a partial copy. " + _error_action(code),
                )
            return walk
        body = root.find(f"{NS}ListRecords")
        if body is None:
            walk.problem = error(f"ListRecords, page {walk.pages + 1}: no <ListRecords>")
            return walk
        walk.pages += 1
        for record in body.iterfind(f"{NS}record"):
            header = record.find(f"{NS}header")
            identifier = "" if header is None else header.findtext(f"{NS}identifier") or ""
            gone = header is not None and header.get("status") == "deleted"
            (walk.deleted if gone else walk.live).append(dataset_id(identifier.strip()))
        token_element = body.find(f"{NS}resumptionToken")
        token = ""
        if token_element is not None:
            token = (token_element.text or "").strip()
            size = token_element.get("completeListSize")
            if size is not None and size.isdigit():
                walk.complete_list_size = int(size)
        if not token:
            walk.complete = True
            return walk
        if token in seen:
            walk.problem = error(
                "ListRecords: a resumptionToken came back again",
                f"Token {token!r} after {walk.pages} pages.",
                "Harvesters would walk in a circle for ever: the provider's tokens are wrong.",
            )
            return walk
        seen.add(token)
        if walk.complete_list_size:  # the walk is the first half of the check
            probe.done = 0.5 * (len(walk.live) + len(walk.deleted)) / walk.complete_list_size
        if len(walk.live) + len(walk.deleted) >= probe.limits.max_records or (
            time.monotonic() > deadline
        ):
            walk.capped = True
            return walk
        params = {"verb": "ListRecords", "resumptionToken": token}


def dataset_id(identifier: str) -> str:
    """The dataset id of `oai:<repository>:<id>` (the identifier itself if it is not one)."""
    return identifier.rsplit(":", 1)[-1] if identifier.startswith("oai:") else identifier


def walk_findings(walk: Walk, probe: Probe) -> list[Finding]:
    seen = len(walk.live) + len(walk.deleted)
    counts = (
        f"{len(walk.live):,} records and {len(walk.deleted):,} deleted headers "
        f"in {walk.pages:,} page{'' if walk.pages == 1 else 's'}"
    )
    findings: list[Finding] = []
    if walk.problem is not None:
        findings.append(walk.problem)
        findings.append(warning("ListRecords: the walk stopped early", f"Seen before: {counts}."))
    elif walk.capped:
        findings.append(
            warning(
                "ListRecords: the walk was cut short by the check's limit",
                f"Seen: {counts}; the check stops at {probe.limits.max_records:,} records or "
                f"{probe.limits.budget_s:g} s.",
                "Nothing is wrong with that; the rest was not checked.",
            )
        )
    else:
        findings.append(ok("ListRecords walked to the end", f"{counts}."))
    repeated = [i for i, n in Counter(walk.live).items() if n > 1]
    if repeated:
        findings.append(
            warning(
                f"ListRecords: {len(repeated):,} records came twice in one walk",
                f"e.g. {examples(repeated, probe.limits.examples)}",
                "A record edited during the walk may come again; otherwise the provider's "
                "paging overlaps. " + AGAIN,
            )
        )
    if walk.complete and walk.complete_list_size not in (None, seen):
        findings.append(
            warning(
                "ListRecords: completeListSize is not what the walk held",
                f"completeListSize={walk.complete_list_size:,}; the walk held {seen:,}.",
                "Harvesters show a wrong progress; " + AGAIN.lower(),
            )
        )
    return findings


def compare_with_feed(walk: Walk, probe: Probe) -> list[Finding]:
    try:
        published = feed.walk_ids(probe, expected=len(walk.live))
    except Unusable as unusable:
        return [unusable.finding]
    if not published.complete:
        return [
            warning(
                "The live records were not compared with the published datasets",
                f"The feed's walk stopped at the check's limit ({len(published.ids):,} datasets).",
            )
        ]
    live, expected, deleted = set(walk.live), set(published.ids), set(walk.deleted)
    missing, extra = sorted(expected - live), sorted(live - expected)
    findings: list[Finding] = []
    if missing:
        findings.append(
            error(
                f"{len(missing):,} published datasets are missing from OAI-PMH",
                f"e.g. {examples(missing, probe.limits.examples)}",
                "Archival aggregators will not hold them. " + AGAIN,
            )
        )
    if extra:
        findings.append(
            error(
                f"{len(extra):,} OAI-PMH records are not published datasets",
                f"e.g. {examples(extra, probe.limits.examples)}",
                "Aggregators show datasets this catalogue does not publish. " + AGAIN,
            )
        )
    both = sorted(expected & deleted)
    if both:
        findings.append(
            error(
                f"{len(both):,} published datasets are announced as deleted",
                f"e.g. {examples(both, probe.limits.examples)}",
                "Harvesters will drop them from their mirrors. " + AGAIN,
            )
        )
    if not findings:
        findings.append(
            ok(
                "The live records are the published datasets",
                f"{len(expected):,} datasets in the JSON-LD feed, the same in OAI-PMH.",
            )
        )
    return findings


def _error_action(code: str) -> str:
    if code == "badResumptionToken":
        return "The provider refused its own token: tokens must stay valid for a whole walk."
    if code == "cannotDisseminateFormat":
        return "oai_dc is the format every OAI-PMH repository must offer."
    return "The provider's answer is wrong for this request."
