"""Check d: a round of an incremental harvest, as a mirror makes it each day.

The feed's `Last-Modified-Version` N, then what changed since N (`dataset.jsonld?since=N`) and
what left the published set since N (`deleted.json?since=N`), each answering 200 with what it
should; then the manifest (`manifest.json`), if the server has one, and its smallest dump,
downloaded and checked against the manifest's byte count and SHA-256.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.services.harvest_check import feed
from app.services.harvest_check.findings import Finding, error, ok, warning
from app.services.harvest_check.http import Probe, Unusable

NAME = "Incremental harvest"
VERSION_HEADER = "Last-Modified-Version"
DELETED = "/api/v1/deleted.json"
MANIFEST = "/api/v1/manifest.json"
MAX_DUMP_BYTES = 256 * 1024 * 1024  # the smallest dump is downloaded only up to this size
AGAIN = "If the catalogue changed during the check, run it again."


def check(probe: Probe) -> list[Finding]:
    findings: list[Finding] = []
    try:
        response = probe.get(feed.FEED, "The JSON-LD feed")
        version = _version(response.headers.get(VERSION_HEADER))
        if version is None:
            return [
                error(
                    f"The feed has no {VERSION_HEADER} header",
                    f"GET {response.url}",
                    "Harvesters cannot ask for changes since their last visit, and walk the "
                    "whole catalogue every time.",
                )
            ]
        findings.append(ok(f"The feed is at catalogue version {version}"))
        findings.append(_changes(probe, version))
        findings.append(_deletions(probe, version))
    except Unusable as unusable:
        findings.append(unusable.finding)
        return findings
    findings += _manifest(probe)
    return findings


def _version(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def _changes(probe: Probe, version: int) -> Finding:
    response = probe.get(feed.FEED, "Changes since a version", params={"since": version})
    ids = feed.dataset_ids(feed.document(response))
    answered = _version(response.headers.get(VERSION_HEADER))
    if answered is None or answered < version:
        return error(
            f"Changes since {version}: the answer's {VERSION_HEADER} is {answered}",
            f"GET {response.url}",
            "A harvester would keep a version older than what it holds, or none.",
        )
    return ok(
        f"Changes since version {version} answer",
        f"{len(ids):,} datasets on the first page; version {answered}.",
    )


def _deletions(probe: Probe, version: int) -> Finding:
    response = probe.get(DELETED, "Deletions since a version", params={"since": version})
    body = _json(response.content)
    datasets = body.get("datasets") if isinstance(body, dict) else None
    answered = body.get("version") if isinstance(body, dict) else None
    if (
        not isinstance(datasets, list)
        or not all(isinstance(i, str) for i in datasets)
        or not isinstance(answered, int)
    ):
        return error(
            'Deletions since a version: not {"version": N, "datasets": [ids]}',
            f"GET {response.url}\n{response.text[:300]}",
            "Harvesters cannot learn what was withdrawn and keep it in their mirrors.",
        )
    if answered < version:
        return error(
            f"Deletions since {version}: the answer's version {answered} is older",
            f"GET {response.url}",
            "A harvester would step back to an older version. " + AGAIN,
        )
    return ok(
        f"Deletions since version {version} answer",
        f"{len(datasets):,} datasets withdrawn since; version {answered}.",
    )


def _json(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _manifest(probe: Probe) -> list[Finding]:
    try:
        response = probe.get(MANIFEST, "The manifest", expect=(200, 404))
    except Unusable as unusable:
        return [unusable.finding]
    if response.status_code == 404:
        return [
            warning(
                "No manifest.json",
                f"GET {response.url}: 404",
                "Harvesters cannot check the dumps they download.",
            )
        ]
    body = _json(response.content)
    dumps = body.get("dumps") if isinstance(body, dict) else None
    if (
        not isinstance(dumps, list)
        or not dumps
        or not all(_dump_entry(d) for d in dumps)
        or not isinstance(body.get("version"), int)
    ):
        return [
            error(
                "The manifest is not what harvesters expect",
                'It should be {"version": N, "datasets": N, "dumps": [{"url", '
                '"bytes", "sha256"}, …]}.\n' + response.text[:300],
                "Harvesters cannot check the dumps they download.",
            )
        ]
    findings = [
        ok(
            f"The manifest lists {len(dumps)} dumps",
            f"Version {body['version']}, {_count(body.get('datasets'))} published datasets.",
        )
    ]
    smallest = min(dumps, key=lambda d: d["bytes"])
    if smallest["bytes"] > MAX_DUMP_BYTES:
        findings.append(
            warning(
                "No dump was downloaded: the smallest is too large for a quick check",
                f"{smallest['url']}: {smallest['bytes']:,} bytes.",
            )
        )
        return findings
    try:
        got = probe.download(smallest["url"], "A dump of the manifest", MAX_DUMP_BYTES)
    except Unusable as unusable:
        return [*findings, unusable.finding]
    detail = (
        f"{smallest['url']}: the manifest says {smallest['bytes']:,} bytes, SHA-256 "
        f"{smallest['sha256']}; the download has {got.bytes:,} bytes, SHA-256 {got.sha256}."
    )
    if (got.bytes, got.sha256) == (smallest["bytes"], smallest["sha256"].lower()):
        findings.append(ok("A dump matches the manifest", detail))
    elif got.version is not None and got.version != str(body["version"]):
        findings.append(
            warning(
                "A dump differs from the manifest: the catalogue changed in between",
                f"{detail}\nManifest version {body['version']}, dump version {got.version}.",
                AGAIN,
            )
        )
    else:
        findings.append(
            error(
                "A dump does not match the manifest",
                detail,
                "Harvesters that check their downloads will refuse it. " + AGAIN,
            )
        )
    return findings


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "an unknown number of"


def _dump_entry(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("url"), str)
        and isinstance(value.get("bytes"), int)
        and isinstance(value.get("sha256"), str)
    )
