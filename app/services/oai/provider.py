"""The OAI-PMH 2.0 repository over a catalogue: one request's arguments in, the response's XML
out (docs/ARCHITECTURE.md: OAI-PMH). Runs on a worker thread, one read session per request, and
reads at most a page of records (`page_size`) per request.

responseDate, and why an incremental harvest from it misses nothing: a harvester takes the
responseDate of its last harvest as the next `from` (inclusive, to the second). A change is
dated by the time its transaction took its catalogue version (catalogue_version.stamp), which
is before it commits: a change in flight while a response is made carries a datestamp before
the clock's time of that response, and a harvest `from` the clock's time would never see it.
So the responseDate is a time before which nothing the response does not show was dated:

- on SQLite, when no writer holds the catalogue's write lock just before the response's
  snapshot is taken (`_idle_since`: a BEGIN IMMEDIATE that succeeds at once, rolled back), the
  clock's time read before that check: every writer takes the lock before it stamps (the
  catalogue's writers begin IMMEDIATE), so any change the snapshot misses was stamped after;
- otherwise (a writer is under way, or another database), the time of the newest version the
  snapshot shows: every change it does not show took a later version, so a later time. A
  harvester then re-reads at most the records of that second.

Embargoes that pass are dated by their midnight (selection), after any responseDate that did
not show them. A clock set back between two harvests is the one thing this cannot see.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services import renders
from app.services.clock import iso, now_iso, today_iso
from app.services.cursor import load_secret
from app.services.formats import jsonld, oai_dc, rdf_xml
from app.services.oai import protocol, selection, writer
from app.services.oai.protocol import OaiError, OaiRequest
from app.services.oai.selection import Entry, Selection
from app.services.oai.tokens import Resumption, TokenCodec, derive_key

PAGE_SIZE = 500
DCAT_PAGE_SHARE = 5  # ListRecords in dcat_ap: pages of PAGE_SIZE / 5
DEFAULT_ADMIN_EMAIL = "admin@example.invalid"  # a placeholder the oai_admin_email setting replaces
FORMATS = (
    (oai_dc.PREFIX, oai_dc.SCHEMA, oai_dc.NAMESPACE),
    (rdf_xml.PREFIX, rdf_xml.SCHEMA, rdf_xml.NAMESPACE),
)
# Each format's record, a fragment kept per dataset version (services.renders).
_FRAGMENTS = {oai_dc.PREFIX: renders.Fragment.OAI_DC, rdf_xml.PREFIX: renders.Fragment.DCAT_RDF_XML}


@dataclass(frozen=True, slots=True)
class RepositoryInfo:
    catalogue: jsonld.CatalogueInfo = field(default_factory=jsonld.CatalogueInfo)
    admin_email: str | None = None
    name: str | None = None  # the repository identifier in oai:<name>:<id>; default: the host


def repository_name(base_url: str, configured: str | None = None) -> str:
    """The repository part of every identifier: the configured name, else the host of the
    server's base URL."""
    return configured or urlsplit(base_url).hostname or "localhost"


class OaiProvider:
    def __init__(
        self, database: Database, info: RepositoryInfo | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        self.database = database
        self.info = info or RepositoryInfo()
        self.page_size = page_size
        self._codec: TokenCodec | None = None

    def codec(self) -> TokenCodec:
        if self._codec is None:
            self._codec = TokenCodec(derive_key(load_secret(self.database)))
        return self._codec

    def respond(self, pairs: Iterable[tuple[str, str]], base_url: str) -> bytes:
        """The XML answer to one request's (name, value) arguments (worker thread)."""
        oai_base = base_url.rstrip("/") + "/oai"
        idle = _idle_since(self.database)  # before the snapshot: see the module's docstring
        with self.database.read() as session:
            response_date = _response_date(selection.catalogue_time(session), idle)
            try:
                request = protocol.parse(pairs)
            except OaiError as failure:  # badVerb, badArgument: no attributes echoed
                return writer.envelope(
                    response_date,
                    oai_base,
                    {},
                    writer.error(failure.code, failure.message).encode(),
                )
            answer = _Answer(self, session, base_url, request)
            try:
                body = answer.body()
            except OaiError as failure:
                body = writer.error(failure.code, failure.message).encode()
            return writer.envelope(response_date, oai_base, request.echo, body)


def _response_date(catalogue_time: str, idle: str | None) -> str:
    if idle is not None:
        return protocol.datestamp(idle)
    now = now_iso()
    moment = min(catalogue_time, now) if catalogue_time else now
    return protocol.datestamp(moment)


def _idle_since(database: Database) -> str | None:
    """On SQLite, the clock's time if no writer held the catalogue's write lock at once after
    it; None if one did, or for another database. A connection of its own, opened for the
    check, asks for the lock without waiting and gives it back at once (a writer asking then
    waits the moment it takes, within its busy timeout)."""
    url = database.engine.url
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    moment = now_iso()
    try:
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    except sqlite3.Error:  # SQLITE_BUSY: a writer is under way
        return None
    finally:
        probe.close()
    return moment


class _Answer:
    """One request's answer, inside its read session."""

    def __init__(
        self, provider: OaiProvider, session: Session, base_url: str, req: OaiRequest
    ) -> None:
        self.provider = provider
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.request = req
        self.today = today_iso()
        self.repository = repository_name(base_url, provider.info.name)

    def body(self) -> bytes:
        verb = self.request.verb
        if verb == protocol.IDENTIFY:
            return self.identify().encode()
        if verb == protocol.LIST_METADATA_FORMATS:
            return self.list_metadata_formats().encode()
        if verb == protocol.LIST_SETS:
            return self.list_sets().encode()
        if verb == protocol.GET_RECORD:
            return self.get_record()
        return self.listing(verb)

    def identify(self) -> str:
        info = self.provider.info
        earliest = selection.earliest(self.session, self.today) or now_iso()
        return (
            "<Identify>"
            + writer.element("repositoryName", info.catalogue.title)
            + writer.element("baseURL", self.base_url + "/oai")
            + "<protocolVersion>2.0</protocolVersion>"
            + writer.element("adminEmail", info.admin_email or DEFAULT_ADMIN_EMAIL)
            + f"<earliestDatestamp>{protocol.datestamp(earliest)}</earliestDatestamp>"
            + "<deletedRecord>persistent</deletedRecord>"
            + f"<granularity>{protocol.GRANULARITY}</granularity>"
            + "</Identify>"
        )

    def list_metadata_formats(self) -> str:
        identifier = self.request.get("identifier")
        if identifier is not None:
            self._entry(identifier)  # idDoesNotExist for one this repository does not hold
        formats = "".join(
            "<metadataFormat>"
            + writer.element("metadataPrefix", prefix)
            + writer.element("schema", schema)
            + writer.element("metadataNamespace", namespace)
            + "</metadataFormat>"
            for prefix, schema, namespace in FORMATS
        )
        return f"<ListMetadataFormats>{formats}</ListMetadataFormats>"

    def list_sets(self) -> str:
        if "resumptionToken" in self.request.arguments:
            raise OaiError("badResumptionToken", "ListSets is answered whole: it has no tokens")
        found = selection.sets(self.session, self.today)
        if not found:
            raise OaiError("noSetHierarchy", "This repository has no sets")
        items = "".join(
            "<set>" + writer.element("setSpec", spec) + writer.element("setName", name) + "</set>"
            for spec, name in found
        )
        return f"<ListSets>{items}</ListSets>"

    def get_record(self) -> bytes:
        prefix = self._prefix(self.request.arguments["metadataPrefix"])
        entry = self._entry(self.request.arguments["identifier"])
        return b"<GetRecord>" + self._records([entry], prefix) + b"</GetRecord>"

    def listing(self, verb: str) -> bytes:
        codec = self.provider.codec()
        token_text = self.request.get("resumptionToken")
        if token_text is not None:
            token = codec.decode(token_text)
            if token.verb != verb:
                raise OaiError("badResumptionToken", f"That resumptionToken is not {verb}'s")
            wanted = Selection(protocol.DateRange(token.since, token.until), token.set_spec)
            prefix, after, cursor, size = token.prefix, token.position, token.cursor, token.size
        else:
            arguments = self.request.arguments
            prefix = self._prefix(arguments["metadataPrefix"])
            dates = protocol.date_range(arguments.get("from"), arguments.get("until"))
            set_spec = arguments.get("set")
            if set_spec is not None and not selection.has_set(self.session, set_spec, self.today):
                if not selection.sets(self.session, self.today):
                    raise OaiError("noSetHierarchy", "This repository has no sets")
                raise OaiError("noRecordsMatch", "No such set holds a published dataset")
            wanted = Selection(dates, set_spec)
            after, cursor, size = None, 0, -1
        # A DCAT-AP record not kept yet costs rdflib milliseconds: its pages are smaller, so
        # that a cold page stays well under a second's work.
        page_size = self.provider.page_size
        if verb == protocol.LIST_RECORDS and prefix == rdf_xml.PREFIX:
            page_size = max(1, page_size // DCAT_PAGE_SHARE)
        entries = selection.page(self.session, wanted, after, page_size + 1, self.today)
        more = len(entries) > page_size
        entries = entries[:page_size]
        if not entries:
            if after is None:
                raise OaiError("noRecordsMatch", "No record matches these arguments")
            # Everything after the position left the list since: close it with an empty page
            # is not schema-valid, so say so as the protocol does for a stale token.
            raise OaiError("badResumptionToken", "The rest of this list is gone: start again")
        if size < 0:
            size = selection.count(self.session, wanted, self.today)
        sent = cursor + len(entries)
        if more:
            size = max(size, sent + 1)
            resumed = Resumption(
                verb,
                prefix,
                wanted.dates.start,
                wanted.dates.end,
                wanted.set_spec,
                entries[-1].position,
                sent,
                size,
                int(time.time()),
            )
            closing = writer.resumption_token(
                codec.encode(resumed), cursor, size, _expiry(codec.lifetime_s)
            )
        elif after is not None:
            closing = writer.resumption_token("", cursor, max(size, sent), None)
        else:
            closing = ""
        if verb == protocol.LIST_IDENTIFIERS:
            headers = "".join(writer.header(e, self._identifier(e)) for e in entries)
            return f"<ListIdentifiers>{headers}{closing}</ListIdentifiers>".encode()
        records = self._records(entries, prefix)
        return b"".join((b"<ListRecords>", records, closing.encode(), b"</ListRecords>"))

    # -- helpers ------------------------------------------------------------------------------

    def _identifier(self, entry: Entry) -> str:
        return protocol.oai_identifier(self.repository, entry.dataset_id)

    def _prefix(self, prefix: str) -> str:
        if prefix not in _FRAGMENTS:
            raise OaiError("cannotDisseminateFormat", f"No records in format {prefix}")
        return prefix

    def _entry(self, identifier: str) -> Entry:
        dataset_id = protocol.dataset_id_of(self.repository, identifier)
        entry = None
        if dataset_id is not None:
            entry = selection.one(self.session, dataset_id, self.today)
        if entry is None:
            raise OaiError("idDoesNotExist", "This repository holds no such record")
        return entry

    def _records(self, entries: list[Entry], prefix: str) -> bytes:
        wanted = [(int(e.key), e.version) for e in entries if not e.deleted]
        parts: dict[int, bytes] = {}
        if wanted:
            store = renders.store_for(self.provider.database)
            parts = store.fragments(
                self.session, _FRAGMENTS[prefix], wanted, base_url=self.base_url
            )
        out: list[bytes] = []
        for entry in entries:
            # Deleted: the header alone. A dataset selected in this session's snapshot has
            # its fragment (rendered from the same snapshot if it was not kept).
            part = None if entry.deleted else parts.get(int(entry.key))
            out.append(writer.record(writer.header(entry, self._identifier(entry)), part))
        return b"".join(out)


def _expiry(lifetime_s: int) -> str:
    moment = datetime.fromtimestamp(time.time() + lifetime_s, UTC)
    return protocol.datestamp(iso(moment))
