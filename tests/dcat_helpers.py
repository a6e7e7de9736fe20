"""Reading written JSON-LD back with rdflib and checking it against the DCAT-AP 3.0.1 shapes."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import pyshacl
import rdflib
from rdflib.namespace import SH

# A copy of the official DCAT-AP 3.0.1 shapes (CC BY 4.0; see the README beside them).
SHAPES_DIR = Path(__file__).resolve().parent / "data" / "dcat-ap-3.0.1"


def parse_jsonld(body: bytes) -> rdflib.Graph:
    """The graph a JSON-LD document means; fails on any remote context fetch (none is needed)."""
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib deprecates.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        return rdflib.Graph().parse(data=body, format="json-ld")


@cache
def dcat_ap_shapes() -> rdflib.Graph:
    """The mandatory shapes (dcat-ap-SHACL.ttl) and the range shapes (ranges.ttl), together.

    ranges.ttl adds property shapes to the node shapes of dcat-ap-SHACL.ttl; five of its
    `sh:property` references point at shapes the release never defines, which pyshacl rightly
    refuses as malformed. Those five dangling references are dropped; every defined shape stays.
    """
    shapes = rdflib.Graph()
    shapes.parse(SHAPES_DIR / "dcat-ap-SHACL.ttl")
    shapes.parse(SHAPES_DIR / "ranges.ttl")
    dangling = [
        (shape, ref)
        for shape, ref in shapes.subject_objects(SH.property)
        if (ref, SH.path, None) not in shapes
    ]
    assert len(dangling) <= 5, dangling
    for shape, ref in dangling:
        shapes.remove((shape, SH.property, ref))
    return shapes


def dcat_ap_report(graph: rdflib.Graph) -> tuple[bool, str]:
    conforms, _, text = pyshacl.validate(graph, shacl_graph=dcat_ap_shapes())
    return bool(conforms), str(text)
