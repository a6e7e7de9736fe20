"""Reading written JSON-LD back with rdflib and checking it against the DCAT-AP 3.0.1 shapes.

The shapes are the ones the application ships for its harvest check (resources/dcat-ap-3.0.1,
read by services.harvest_check.dcat, which explains which shapes are used and why)."""

from __future__ import annotations

import pyshacl
import rdflib

from app.services.harvest_check.dcat import dcat_ap_shapes, parse_jsonld

__all__ = ["dcat_ap_report", "dcat_ap_shapes", "parse_jsonld"]


def dcat_ap_report(graph: rdflib.Graph) -> tuple[bool, str]:
    conforms, _, text = pyshacl.validate(graph, shacl_graph=dcat_ap_shapes())
    return bool(conforms), str(text)
