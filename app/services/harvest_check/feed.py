"""The JSON-LD feed as a harvester reads it (`/api/v1/dataset.jsonld`): a page, its dataset
ids, and a walk of every page by the `next` link, bounded like every walk of the checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.services.harvest_check.findings import error
from app.services.harvest_check.http import Probe, Unusable

FEED = "/api/v1/dataset.jsonld"


@dataclass(frozen=True, slots=True)
class FeedWalk:
    ids: tuple[str, ...]
    complete: bool  # False: stopped at the record cap or the time budget


def document(response: httpx.Response) -> dict[str, Any]:
    """The page as JSON; Unusable if it is not a JSON object."""
    try:
        value = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise Unusable(
            error(
                "The feed page is not JSON",
                f"GET {response.url}: {exc}",
                "The server sent something else than JSON-LD: look at its error log.",
            )
        ) from None
    if not isinstance(value, dict):
        raise Unusable(error("The feed page is not a JSON-LD object", f"GET {response.url}"))
    return value


def dataset_ids(page: dict[str, Any]) -> list[str]:
    """The `identifier` of every Dataset node of a page, in its order."""
    ids: list[str] = []
    for node in _datasets(page):
        identifier = node.get("identifier", node.get("dct:identifier"))
        if isinstance(identifier, dict):
            identifier = identifier.get("@value")
        if isinstance(identifier, str):
            ids.append(identifier)
    return ids


def _datasets(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _datasets(item)
    elif isinstance(value, dict):
        types = value.get("@type")
        types = types if isinstance(types, list) else [types]
        if any(
            t in ("Dataset", "dcat:Dataset", "http://www.w3.org/ns/dcat#Dataset") for t in types
        ):
            yield value
            return
        for key, item in value.items():
            if key != "@context":
                yield from _datasets(item)


def walk_ids(probe: Probe, expected: int = 0) -> FeedWalk:
    """Every published dataset id, page by page; Unusable if a page cannot be read.
    `expected`: about how many, for the progress (the second half of the check)."""
    ids: list[str] = []
    url: str | None = FEED
    deadline = probe.deadline()
    while url is not None:
        response = probe.get(url, "The JSON-LD feed")
        ids += dataset_ids(document(response))
        if expected:
            probe.done = 0.5 + 0.5 * len(ids) / expected
        link = response.links.get("next")
        url = link.get("url") if link else None
        if url is not None and (
            len(ids) >= probe.limits.max_records or time.monotonic() > deadline
        ):
            return FeedWalk(tuple(ids), complete=False)
    return FeedWalk(tuple(ids), complete=True)
