"""A small site that answers what the harvest check asks (services.harvest_check), for the
cases the real server never makes: an OAI-PMH provider whose records differ from the feed, whose
tokens repeat or answer an error; a dataset page with a given schema.org JSON-LD; a manifest
whose dump does not match. Served by tests.fakes.server.FakeServer (real HTTP on loopback),
whose faults add the 500s and the malformed bodies.

    site = HarvestSite(feed=["a1", "a2"], records=["a1", "a2"], deleted=["gone"], page_size=2)
    with FakeServer(site.app()) as server:
        run_checks(server.url)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

OAI = "http://www.openarchives.org/OAI/2.0/"
VERSION = 7
DUMP = b"id,title\na1,One\na2,Two\n"


def schema_org_dataset(**overrides: Any) -> dict[str, Any]:
    """A schema.org Dataset with every property Google Dataset Search reads."""
    node: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "name": "Bins collected",
        "description": "Every bin the council collected, by street and week, since 2019, "
        "with the crew and the weight.",
        "identifier": "a1",
        "keywords": ["bins", "waste"],
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "url": "http://example.org/dataset/a1",
        "dateModified": "2025-01-01T00:00:00Z",
        "publisher": {"@type": "Organization", "name": "Council"},
        "distribution": [
            {
                "@type": "DataDownload",
                "contentUrl": "https://example.org/bins.csv",
                "encodingFormat": "text/csv",
            }
        ],
    }
    node.update(overrides)
    return {k: v for k, v in node.items() if v is not None}


@dataclass
class HarvestSite:
    feed: list[str] = field(default_factory=lambda: ["a1", "a2"])
    records: list[str] = field(default_factory=lambda: ["a1", "a2"])  # OAI-PMH's live records
    deleted: list[str] = field(default_factory=list)  # OAI-PMH's deleted headers
    page_size: int = 2
    repeat_token: bool = False  # every resumptionToken is the same
    dataset: dict[str, Any] = field(default_factory=schema_org_dataset)  # /dataset/{id}'s
    manifest_sha256: str = hashlib.sha256(DUMP).hexdigest()
    versioned: bool = True  # answers say Last-Modified-Version
    html_pages: bool = True  # False: /dataset/{id} answers the dataset as JSON

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1/dataset.jsonld", self._feed),
                Route("/api/v1/deleted.json", self._deleted),
                Route("/api/v1/manifest.json", self._manifest),
                Route("/dump.csv", self._dump),
                Route("/oai", self._oai),
                Route("/dataset/{id}", self._page),
            ]
        )

    def _headers(self) -> dict[str, str]:
        return {"Last-Modified-Version": str(VERSION)} if self.versioned else {}

    async def _feed(self, request: Request) -> Response:
        ids = [] if "since" in request.query_params else self.feed
        page = {
            "@context": {
                "dcat": "http://www.w3.org/ns/dcat#",
                "dct": "http://purl.org/dc/terms/",
                "Dataset": "dcat:Dataset",
                "identifier": "dct:identifier",
                "title": "dct:title",
            },
            "@graph": [
                {"@id": f"http://example.org/dataset/{i}", "@type": "Dataset",
                 "identifier": i, "title": f"Dataset {i}"}
                for i in ids
            ],
        }  # fmt: skip
        return Response(
            orjson.dumps(page), media_type="application/ld+json", headers=self._headers()
        )

    async def _deleted(self, _request: Request) -> Response:
        return JSONResponse({"version": VERSION, "datasets": []}, headers=self._headers())

    async def _manifest(self, request: Request) -> Response:
        url = str(request.base_url).rstrip("/") + "/dump.csv"
        dumps = [{"url": url, "bytes": len(DUMP), "sha256": self.manifest_sha256}]
        return JSONResponse({"version": VERSION, "datasets": len(self.feed), "dumps": dumps})

    async def _dump(self, _request: Request) -> Response:
        return Response(DUMP, media_type="text/csv", headers=self._headers())

    async def _page(self, request: Request) -> Response:
        if not self.html_pages:
            return JSONResponse({"id": request.path_params["id"]})
        script = orjson.dumps(self.dataset).decode()
        return HTMLResponse(
            f"<!doctype html><html><head><title>x</title>"
            f'<script type="application/ld+json">{script}</script></head>'
            f"<body><h1>{escape(request.path_params['id'])}</h1></body></html>"
        )

    async def _oai(self, request: Request) -> Response:
        verb = request.query_params.get("verb")
        base = str(request.base_url).rstrip("/") + "/oai"
        if verb == "Identify":
            body = (
                "<Identify><repositoryName>Fake</repositoryName>"
                f"<baseURL>{base}</baseURL><protocolVersion>2.0</protocolVersion>"
                "<adminEmail>a@example.org</adminEmail>"
                "<earliestDatestamp>2020-01-01T00:00:00Z</earliestDatestamp>"
                "<deletedRecord>persistent</deletedRecord>"
                "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>"
            )
        elif verb == "ListRecords":
            body = self._list_records(request.query_params.get("resumptionToken"))
        else:
            body = '<error code="badVerb">Illegal verb</error>'
        return Response(
            f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI}">'
            f"<responseDate>2025-01-01T00:00:00Z</responseDate>"
            f"<request>{base}</request>{body}</OAI-PMH>",
            media_type="text/xml",
        )

    def _list_records(self, token: str | None) -> str:
        entries = [(i, False) for i in self.records] + [(i, True) for i in self.deleted]
        if not entries:
            return '<error code="noRecordsMatch">No records</error>'
        start = int(token) if token else 0
        page = entries[start : start + self.page_size]
        records = "".join(
            f'<record><header status="deleted"><identifier>oai:fake:{i}</identifier>'
            "<datestamp>2025-01-01T00:00:00Z</datestamp></header></record>"
            if gone
            else f"<record><header><identifier>oai:fake:{i}</identifier>"
            "<datestamp>2025-01-01T00:00:00Z</datestamp></header><metadata/></record>"
            for i, gone in page
        )
        following = start + self.page_size
        next_token = "" if following >= len(entries) else str(following)
        if self.repeat_token and next_token:
            next_token = str(self.page_size)
        token_xml = (
            f'<resumptionToken completeListSize="{len(entries)}" cursor="{start}">'
            f"{next_token}</resumptionToken>"
            if token or next_token
            else ""
        )
        return f"<ListRecords>{records}{token_xml}</ListRecords>"
