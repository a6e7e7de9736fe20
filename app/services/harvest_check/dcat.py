"""Check b: DCAT-AP 3.0.1 SHACL validation of the feed's first page, as European portals
(data.europa.eu) validate what they harvest.

The official shapes ship with the application (resources/dcat-ap-3.0.1, CC BY 4.0): the
mandatory constraints and the ranges, whose violations are errors, and the recommended
properties, whose absence is a warning. Results are grouped by path and message (a missing
licence on forty distributions is one finding), each naming a few of its focus nodes.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from functools import cache
from typing import Any

import pyshacl
from rdflib import RDF, BNode, Graph, Node, URIRef
from rdflib.namespace import DCAT, SH

from app.resources import resource
from app.services.harvest_check import feed
from app.services.harvest_check.findings import Finding, Level, error, examples, ok, warning
from app.services.harvest_check.http import Probe, Unusable

NAME = "DCAT-AP 3.0.1 (SHACL)"
SHAPES = "dcat-ap-3.0.1"
MANDATORY_ACTION = (
    "European portals refuse or flag datasets that break DCAT-AP: fill in what is missing in "
    "those datasets (or their files), then check again."
)
RECOMMENDED_ACTION = (
    "Recommended by DCAT-AP: portals show and find less of these without it. Add it where "
    "the catalogue holds it."
)
PREFIXES = {
    "dcatap": "http://data.europa.eu/r5r/",
    "adms": "http://www.w3.org/ns/adms#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "spdx": "http://spdx.org/rdf/terms#",
}
# pyshacl's messages end with the focus node and path ("... on <node>->dct:publisher").
_FOCUS_IN_MESSAGE = re.compile(r"\s+on\s+(<[^>]*>|\S+)(->\S+)?$")
# What a person fills in: the datasets and their files. The rest is written by the server.
_THEIRS = {DCAT.Dataset, DCAT.Distribution}
_DCAT_CLASSES = {DCAT.Catalog, DCAT.Dataset, DCAT.Distribution, DCAT.DataService}
OURS_ACTION = "Catalogue Desk writes these nodes itself: nothing in the datasets changes them."
OURS_FAULT = "Catalogue Desk writes these nodes itself: a fault of it; please report it."


def _shapes(*names: str) -> Graph:
    graph = Graph()
    for name in names:
        graph.parse(data=resource(SHAPES).joinpath(name).read_bytes(), format="turtle")
    return graph


@cache
def dcat_ap_shapes() -> Graph:
    """The mandatory shapes (dcat-ap-SHACL.ttl) and the range shapes (ranges.ttl), together.

    ranges.ttl adds property shapes to the node shapes of dcat-ap-SHACL.ttl; five of its
    `sh:property` references point at shapes the release never defines, which pyshacl rightly
    refuses as malformed. Those dangling references are dropped; every defined shape stays.
    """
    shapes = _shapes("dcat-ap-SHACL.ttl", "ranges.ttl")
    dangling = [
        (shape, ref)
        for shape, ref in shapes.subject_objects(SH.property)
        if (ref, SH.path, None) not in shapes
    ]
    for shape, ref in dangling:
        shapes.remove((shape, SH.property, ref))
    return shapes


@cache
def recommended_shapes() -> Graph:
    """The recommended properties (shapes_recommended.ttl), each of severity sh:Warning."""
    return _shapes("shapes_recommended.ttl")


def parse_jsonld(body: bytes) -> Graph:
    """The graph a JSON-LD document means (rdflib's parser; any error of it propagates)."""
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib deprecates.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        return Graph().parse(data=body, format="json-ld")


def check(probe: Probe) -> list[Finding]:
    try:
        response = probe.get(feed.FEED, "The JSON-LD feed")
        page = feed.document(response)
    except Unusable as unusable:
        return [unusable.finding]
    if _remote_context(page.get("@context")):
        return [
            warning(
                "The feed's @context is fetched from elsewhere: not validated",
                "The check fetches nothing but the server's own answers.",
                "Harvesters must fetch that context to read the feed: inline it.",
            )
        ]
    try:
        graph = parse_jsonld(response.content)
    except Exception as exc:  # rdflib's JSON-LD parser raises many kinds of error
        return [
            error(
                "The feed's first page is not valid JSON-LD",
                f"GET {response.url}: {exc}",
                "Harvesters cannot read the feed: look at the server's error log.",
            )
        ]
    count = len(set(graph.subjects(RDF.type, DCAT.Dataset)))
    if count == 0:
        return [
            warning(
                "The feed's first page holds no dataset: nothing to validate",
                action="Publish a dataset, then check again.",
            )
        ]
    findings = _results(graph, dcat_ap_shapes(), probe, mandatory=True)
    violations = sum(f.level is Level.ERROR for f in findings)
    head = (
        ok(
            "The feed's first page conforms to DCAT-AP 3.0.1",
            f"{count:,} datasets validated against the mandatory and range shapes.",
        )
        if not violations
        else error(
            f"The feed's first page breaks DCAT-AP 3.0.1 ({violations} kinds of violation)",
            f"{count:,} datasets validated against the mandatory and range shapes.",
            MANDATORY_ACTION,
        )
    )
    return [head, *findings, *_results(graph, recommended_shapes(), probe, mandatory=False)]


def _remote_context(context: Any) -> bool:
    if isinstance(context, str):
        return True
    if isinstance(context, list):
        return any(_remote_context(item) for item in context)
    return False


def _results(graph: Graph, shapes: Graph, probe: Probe, *, mandatory: bool) -> list[Finding]:
    """The validation's results as findings, a finding per (level, class, path, message)."""
    _conforms, report, _text = pyshacl.validate(graph, shacl_graph=shapes)
    assert isinstance(report, Graph)
    names = Graph(bind_namespaces="rdflib")
    for prefix, iri in PREFIXES.items():
        names.bind(prefix, iri)
    # (level, the focus node's class, path, message) -> the focus nodes
    groups: dict[tuple[Level, str, str, str], list[str]] = defaultdict(list)
    theirs: set[str] = set()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        severity = report.value(result, SH.resultSeverity)
        level = Level.ERROR if mandatory and severity == SH.Violation else Level.WARNING
        path = _name(report.value(result, SH.resultPath), names, probe)
        focus_node = report.value(result, SH.focusNode)
        kind_node = _kind(graph, focus_node)
        kind = _name(kind_node, names, probe) or "A node"
        if kind_node in _THEIRS:
            theirs.add(kind)
        if report.value(result, SH.sourceConstraintComponent) == SH.MinCountConstraintComponent:
            message = f"{kind} without {path}"
        else:
            text = str(report.value(result, SH.resultMessage) or "")
            message = f"{kind} {path}: {_FOCUS_IN_MESSAGE.sub('', text)}"
        groups[(level, kind, path, message)].append(_name(focus_node, names, probe))
    # Recommended properties of the nodes the server writes itself (the catalogue, licences,
    # the publisher) are one finding: nobody can fill them in from the window.
    folded = [
        message
        for (level, kind, _path, message) in groups
        if level is Level.WARNING and kind not in theirs
    ]
    ordered = sorted(
        (item for item in groups.items() if item[0][3] not in folded),
        key=lambda item: (-item[0][0].rank, -len(item[1]), item[0]),
    )
    limit = probe.limits.groups
    findings = [
        Finding(
            level,
            message,
            f"{len(focus):,} node{'' if len(focus) == 1 else 's'}: "
            + examples(sorted(set(focus)), probe.limits.examples),
            (MANDATORY_ACTION if kind in theirs else OURS_FAULT)
            if level is Level.ERROR
            else RECOMMENDED_ACTION,
        )
        for (level, kind, _path, message), focus in ordered[:limit]
    ]
    rest = ordered[limit:]
    if rest:
        worst = max((level for (level, *_), _ in rest), key=lambda lv: lv.rank)
        findings.append(
            Finding(
                worst,
                f"… and {len(rest):,} more kinds of result",
                f"{sum(len(focus) for _, focus in rest):,} results not shown.",
            )
        )
    if folded:
        findings.append(
            warning(
                f"{len(folded)} recommended properties of the catalogue's own nodes are missing",
                "\n".join(sorted(folded)),
                OURS_ACTION,
            )
        )
    return findings


def _kind(graph: Graph, node: Node | None) -> Node | None:
    """The class a node is named by: a DCAT one first (the catalogue is a hydra:Collection
    too), then the first by IRI, so that the same node is always grouped the same way."""
    if node is None:
        return None
    kinds = sorted(graph.objects(node, RDF.type), key=lambda t: (t not in _DCAT_CLASSES, str(t)))
    return kinds[0] if kinds else None


def _name(node: Node | None, names: Graph, probe: Probe) -> str:
    """A path as a prefixed name, a focus node as a path under the server's address."""
    if node is None:
        return ""
    if isinstance(node, URIRef):
        text = str(node)
        if text.startswith(probe.base + "/"):
            return text[len(probe.base) :]
        try:
            return names.namespace_manager.normalizeUri(node)
        except Exception:  # a IRI rdflib cannot split into a prefix and a name
            return f"<{text}>"
    if isinstance(node, BNode):
        return "(a blank node)"
    return str(node)
