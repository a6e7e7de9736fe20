"""Check c: a dataset's web page as Google Dataset Search reads it.

The page of the first published dataset (`/dataset/{id}`) must be HTML with a schema.org
`Dataset` in a `<script type="application/ld+json">`: the standard library's HTML parser
finds the scripts, and the properties Google documents are looked for. A missing required
property (name, description; a download's contentUrl) is an error, a missing recommended one
a warning.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import orjson

from app.services.harvest_check import feed
from app.services.harvest_check.findings import Finding, error, examples, ok, warning
from app.services.harvest_check.http import Probe, Unusable

NAME = "schema.org (Google Dataset Search)"
REQUIRED = ("name", "description")
RECOMMENDED = (
    "identifier",
    "keywords",
    "license",
    "url",
    "dateModified",
    "publisher",
    "distribution",
)
DESCRIPTION_CHARS = (50, 5000)  # what Google recommends
SCHEMA_ORG = ("http://schema.org", "https://schema.org")


class _JsonLdScripts(HTMLParser):
    """Collects the text of every `<script type="application/ld+json">`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            kind = (dict(attrs).get("type") or "").split(";")[0].strip().lower()
            self._inside = kind == "application/ld+json"
            if self._inside:
                self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.scripts[-1] += data


def json_ld_scripts(html: str) -> list[str]:
    parser = _JsonLdScripts()
    parser.feed(html)
    parser.close()
    return parser.scripts


def check(probe: Probe) -> list[Finding]:
    try:
        ids = feed.dataset_ids(feed.document(probe.get(feed.FEED, "The JSON-LD feed")))
        if not ids:
            return [
                warning(
                    "No published dataset: no dataset page to check",
                    action="Publish a dataset, then check again.",
                )
            ]
        path = f"/dataset/{ids[0]}"
        response = probe.get(path, "The dataset page")
    except Unusable as unusable:
        return [unusable.finding]
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "text/html":
        return [
            error(
                f"{path} is not an HTML page",
                f"GET {probe.url(path)} answers {kind or 'no content type'}"
                + (f" (from {response.url})" if str(response.url) != probe.url(path) else ""),
                "Search engines read a dataset's schema.org description from its HTML page: "
                "this server does not serve one.",
            )
        ]
    nodes, problems = _datasets(json_ld_scripts(response.text), path)
    if not nodes:
        return [
            *problems,
            error(
                f"{path} holds no schema.org Dataset",
                'No <script type="application/ld+json"> in the page holds a node of @type '
                "Dataset with the schema.org context.",
                "Google Dataset Search will not list this catalogue's datasets.",
            ),
        ]
    return [*problems, *_properties(nodes[0], path, probe)]


def _datasets(scripts: list[str], path: str) -> tuple[list[dict[str, Any]], list[Finding]]:
    nodes: list[dict[str, Any]] = []
    problems: list[Finding] = []
    for number, script in enumerate(scripts, 1):
        try:
            value = orjson.loads(script)
        except orjson.JSONDecodeError as exc:
            problems.append(
                error(
                    f"{path}: JSON-LD script {number} is not JSON",
                    str(exc),
                    "Search engines skip it: the page's JSON-LD must be valid JSON.",
                )
            )
            continue
        nodes += _dataset_nodes(value, None)
    return nodes, problems


def _dataset_nodes(value: Any, context: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [node for item in value for node in _dataset_nodes(item, context)]
    if not isinstance(value, dict):
        return []
    context = value.get("@context", context)
    types = value.get("@type")
    types = types if isinstance(types, list) else [types]
    if isinstance(context, dict):  # {"@vocab": "https://schema.org/"}
        context = context.get("@vocab")
    vocabulary = isinstance(context, str) and context.rstrip("/") in SCHEMA_ORG
    if vocabulary and "Dataset" in types:
        return [value]
    return _dataset_nodes(value.get("@graph", []), context)


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def _properties(node: dict[str, Any], path: str, probe: Probe) -> list[Finding]:
    findings: list[Finding] = []
    missing = [name for name in REQUIRED if not _present(node.get(name))]
    if missing:
        findings.append(
            error(
                f"Required properties missing: {', '.join(missing)}",
                f"The Dataset of {path}.",
                "Google Dataset Search does not list a dataset without them: give every "
                "dataset a title and a description.",
            )
        )
    description = node.get("description")
    low, high = DESCRIPTION_CHARS
    if isinstance(description, str) and description and not low <= len(description) <= high:
        findings.append(
            warning(
                f"The description is {len(description):,} characters long",
                f"The Dataset of {path}; Google recommends {low:,} to {high:,}.",
                "Write a description of a few sentences: what the data holds, where it comes "
                "from, what period it covers.",
            )
        )
    absent = [name for name in RECOMMENDED if not _present(node.get(name))]
    if absent:
        findings.append(
            warning(
                f"Recommended properties missing: {', '.join(absent)}",
                f"The Dataset of {path}.",
                _advice(absent),
            )
        )
    findings += _downloads(node.get("distribution"), path, probe)
    if not findings:
        findings.append(
            ok(
                f"{path} describes a schema.org Dataset",
                f"{node.get('name')!r}: every property Google Dataset Search reads is there.",
            )
        )
    return findings


def _advice(absent: list[str]) -> str:
    hints = {
        "license": "choose a licence",
        "keywords": "add tags",
        "distribution": "add a file with a web address",
        "publisher": "set a team",
    }
    said = [hints[name] for name in absent if name in hints]
    return "Search engines show and rank datasets better with them" + (
        ": " + "; ".join(said) + "." if said else "."
    )


def _downloads(value: Any, path: str, probe: Probe) -> list[Finding]:
    downloads = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    no_url = [
        str(d.get("name") or i)
        for i, d in enumerate(downloads, 1)
        if not _present(d.get("contentUrl"))
    ]
    no_format = [
        str(d.get("name") or i)
        for i, d in enumerate(downloads, 1)
        if _present(d.get("contentUrl")) and not _present(d.get("encodingFormat"))
    ]
    findings: list[Finding] = []
    if no_url:
        findings.append(
            error(
                f"{len(no_url)} downloads have no contentUrl",
                f"The Dataset of {path}: {examples(no_url, probe.limits.examples)}.",
                "Give each file its web address.",
            )
        )
    if no_format:
        findings.append(
            warning(
                f"{len(no_format)} downloads have no encodingFormat",
                f"The Dataset of {path}: {examples(no_format, probe.limits.examples)}.",
                "Set each file's format (CSV, XLSX, …).",
            )
        )
    return findings
