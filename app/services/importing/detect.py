"""Which format a file to import is in: by its extension, confirmed by its first bytes."""

from __future__ import annotations

import re
from pathlib import Path

from app.services.importing.limits import check_file_size
from app.services.importing.model import ImportFormat, ImportRejected

_SNIFF_BYTES = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_BY_EXTENSION: dict[str, ImportFormat] = {
    ".csv": ImportFormat.CSV,
    ".tsv": ImportFormat.CSV,
    ".xlsx": ImportFormat.XLSX,
    ".xlsm": ImportFormat.XLSX,
    ".jsonld": ImportFormat.JSONLD,
    ".ttl": ImportFormat.TURTLE,
    ".turtle": ImportFormat.TURTLE,
    ".rdf": ImportFormat.RDFXML,
    ".owl": ImportFormat.RDFXML,
}
_TURTLE_START = re.compile(rb"^\s*(@prefix|@base|PREFIX|BASE|<[^>]*>\s|[A-Za-z][\w.-]*:\w*\s)")
_JSON_KEY = re.compile(rb'"([@A-Za-z_][\w@:-]*)"\s*:')


def detect_format(path: Path) -> ImportFormat:
    """The format of `path`; ImportRejected saying which formats are known if it is none."""
    check_file_size(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as error:
        raise ImportRejected(f"Cannot read {path}: {error.strerror or error}") from error
    suffix = path.suffix.lower()
    if head.startswith(_ZIP_MAGIC):
        if suffix in (".xlsx", ".xlsm", ""):
            return ImportFormat.XLSX
        raise _unknown(path, "it is a zip archive but not an .xlsx workbook")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix == ".json" or (suffix not in _BY_EXTENSION and text[:1] in (b"{", b"[")):
        return _json_kind(path, text)
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    if suffix == ".xml" or text.startswith(b"<?xml") or text.startswith(b"<rdf:RDF"):
        if b"rdf:RDF" in head or b"http://www.w3.org/1999/02/22-rdf-syntax-ns#" in head:
            return ImportFormat.RDFXML
        raise _unknown(path, "it is XML but not RDF/XML")
    if _TURTLE_START.match(text):
        return ImportFormat.TURTLE
    if suffix in (".txt", "") and b"," in text.split(b"\n", 1)[0]:
        return ImportFormat.CSV
    raise _unknown(path, "its extension and content match none of them")


def _json_kind(path: Path, text: bytes) -> ImportFormat:
    """JSON: JSON-LD, CKAN, a DataPress export list or one dataset, by the keys it starts with."""
    keys = {match.decode("ascii", "replace") for match in _JSON_KEY.findall(text[:16384])}
    if "@context" in keys or "@graph" in keys or "@id" in keys:
        return ImportFormat.JSONLD
    if ("success" in keys and "result" in keys) or ("help" in keys and "result" in keys):
        return ImportFormat.CKAN_JSON
    if text.startswith(b"["):
        return ImportFormat.DATAPRESS_JSON
    if text.startswith(b"{"):
        return ImportFormat.DATASET_JSON
    raise _unknown(path, "it has a .json name but is not a JSON object or list")


def _unknown(path: Path, why: str) -> ImportRejected:
    known = "CSV, XLSX, DataPress or CKAN JSON, one dataset's JSON, JSON-LD, Turtle or RDF/XML"
    return ImportRejected(f"Cannot import {path.name}: {why}. Known formats: {known}")
