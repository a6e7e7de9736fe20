"""Hostile files: random and mutated CSV, XLSX, JSON and RDF either import correctly or fail
with a clear CatalogueError, never another exception, and never a partial write."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models.database import Database, database_url
from app.services.errors import CatalogueError
from app.services.exporting import EXTENSIONS, ExportFormat
from app.services.importing import OnExisting, commit_import, plan_import
from tests.services.importing.helpers import AUTHOR, export, fill, records

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A small catalogue file to copy for every example, and its exports to mutate."""
    folder = tmp_path_factory.mktemp("hostile")
    database = Database.open(folder / "template.sqlite")
    fill(database, 3)
    files = {fmt: export(database, fmt, folder).read_bytes() for fmt in ExportFormat}
    before = records(database)
    database.dispose()
    yield {"template": folder / "template.sqlite", "files": files, "records": before}


def _attempt(seeds: dict[str, Any], name: str, data: bytes, on_existing: OnExisting) -> None:
    """Import `data` into a fresh copy of the template catalogue and check the outcome."""
    folder = Path(tempfile.mkdtemp())
    try:
        shutil.copy(seeds["template"], folder / "c.sqlite")
        database = Database(database_url(folder / "c.sqlite"))
        try:
            path = folder / name
            path.write_bytes(data)
            committed = False
            try:
                plan = plan_import(database, path, on_existing=on_existing)
                if plan.ok:
                    commit_import(database, plan, author=AUTHOR)
                    committed = True
            except CatalogueError as error:
                assert error.message.strip()
            after = records(database)
            if not committed:
                assert after == seeds["records"]  # nothing written
                return
            # Imported correctly: every planned dataset holds what the plan said.
            for item in plan.items:
                if item.action in ("create", "copy", "update"):
                    stored = after[item.dataset_id]
                    for key, value in item.record.items():
                        if key not in ("updatedAt", "descriptionText"):
                            assert _comparable(stored[key]) == _comparable(value), key
            untouched = {i.dataset_id for i in plan.items if i.action in ("skip", "unchanged")}
            for dataset_id in untouched | (
                seeds["records"].keys() - {i.dataset_id for i in plan.items}
            ):
                assert after[dataset_id] == seeds["records"][dataset_id]
        finally:
            database.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _comparable(value: Any) -> Any:
    """A planned value as stored: a child's missing fields are defaults, None and "" alike."""
    if isinstance(value, dict):
        pairs = ((k, _comparable(v)) for k, v in value.items())
        return {k: v for k, v in pairs if v not in (None, "", {}, [])}
    return "" if value is None else value


_MODES = st.sampled_from([OnExisting.SKIP, OnExisting.UPDATE, OnExisting.COPY])


def _mutate(data: bytes, draw: Any) -> bytes:
    """A few byte-level edits: flips, insertions, deletions, a truncation."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        if not buffer:
            break
        at = draw(st.integers(0, len(buffer) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        if kind == "flip":
            buffer[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "delete":
            del buffer[at : at + draw(st.integers(1, 40))]
        elif kind == "truncate":
            del buffer[at:]
        else:
            interesting = [b'"', b",", b"\r\n", b"<", b"&", b"=", b";", b"\\", b"\x00", b"{", b"]"]
            buffer[at:at] = draw(st.sampled_from(interesting)) * draw(st.integers(1, 3))
    return bytes(buffer)


@st.composite
def mutated_text(draw: Any, fmt: ExportFormat, seeds: dict[str, Any]) -> bytes:
    return _mutate(seeds["files"][fmt], draw)


@pytest.mark.parametrize(
    "fmt",
    [
        ExportFormat.CSV,
        ExportFormat.RESOURCES_CSV,
        ExportFormat.JSON,
        ExportFormat.JSONLD,
        ExportFormat.TURTLE,
    ],
)
def test_mutated_text_files(seeds: dict[str, Any], fmt: ExportFormat) -> None:
    @SETTINGS
    @given(data=st.data(), mode=_MODES)
    def check(data: st.DataObject, mode: OnExisting) -> None:
        mutated = data.draw(mutated_text(fmt, seeds))
        _attempt(seeds, f"input{EXTENSIONS[fmt]}", mutated, mode)

    check()


@st.composite
def json_values(draw: Any) -> Any:
    return draw(
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**70), 2**70)
            | st.floats(allow_nan=False)
            | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(max_size=12), children, max_size=4)
            ),
            max_leaves=12,
        )
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], tuple(rest), new)}
    copy = list(value)
    copy[head] = _replace(value[head], tuple(rest), new)
    return copy


@pytest.mark.parametrize("fmt", [ExportFormat.JSON, ExportFormat.JSONLD])
def test_json_with_values_of_any_type_anywhere(seeds: dict[str, Any], fmt: ExportFormat) -> None:
    document = orjson.loads(seeds["files"][fmt])
    paths = _paths(document)

    @SETTINGS
    @given(data=st.data(), mode=_MODES)
    def check(data: st.DataObject, mode: OnExisting) -> None:
        changed = document
        for _ in range(data.draw(st.integers(1, 4))):
            path = data.draw(st.sampled_from(paths))
            try:
                changed = _replace(changed, path, data.draw(json_values()))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier replacement removed the path
        # json, not orjson: integers beyond 64 bits are part of the test.
        _attempt(seeds, f"input{EXTENSIONS[fmt]}", json.dumps(changed).encode(), mode)

    check()


def _rezip(workbook: bytes, draw: Any) -> bytes:
    """The workbook with one of its XML parts mutated (a mutated zip is merely corrupt)."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    name = draw(st.sampled_from(sorted(parts)))
    parts[name] = _mutate(parts[name], draw)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, data in parts.items():
            archive.writestr(part, data)
    return out.getvalue()


def test_mutated_workbooks(seeds: dict[str, Any]) -> None:
    workbook = seeds["files"][ExportFormat.XLSX]

    @SETTINGS
    @given(data=st.data(), mode=_MODES, raw=st.booleans())
    def check(data: st.DataObject, mode: OnExisting, raw: bool) -> None:
        mutated = _mutate(workbook, data.draw) if raw else _rezip(workbook, data.draw)
        _attempt(seeds, "input.xlsx", mutated, mode)

    check()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json", ".jsonld", ".ttl", ".rdf", ""])
def test_random_bytes(seeds: dict[str, Any], suffix: str) -> None:
    @SETTINGS
    @given(data=st.binary(max_size=400), mode=_MODES)
    def check(data: bytes, mode: OnExisting) -> None:
        _attempt(seeds, f"input{suffix}", data, mode)

    check()


@st.composite
def csv_tables(draw: Any) -> bytes:
    """Our columns (and others) with cells of any text."""
    columns = draw(
        st.lists(
            st.sampled_from(
                ["id", "title", "tags", "custom", "nextReviewDate", "sharing", "team", "x"]
            ),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    cell = st.text(max_size=30) | st.sampled_from(["aaaa1", "2025-01-01", '{"a": 1}', "private"])
    rows = draw(st.lists(st.lists(cell, min_size=len(columns), max_size=len(columns)), max_size=5))
    out = io.StringIO()
    import csv

    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def test_tables_of_any_text(seeds: dict[str, Any]) -> None:
    @SETTINGS
    @given(data=csv_tables(), mode=_MODES)
    def check(data: bytes, mode: OnExisting) -> None:
        _attempt(seeds, "input.csv", data, mode)

    check()
