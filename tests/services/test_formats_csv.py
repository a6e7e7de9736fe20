"""CSV exports: RFC 4180, UTF-8, list cells, formula neutralisation, streamed in chunks."""

from __future__ import annotations

import csv
import io

import orjson
from hypothesis import given
from hypothesis import strategies as st

from app.models.database import Database
from app.services import access, datasets, managed_lists, publication
from app.services.export_query import DatasetRow, Named, ResourceRow, iter_datasets
from app.services.formats import FLUSH_BYTES, write_to
from app.services.formats.cells import neutralise, restore_cell
from app.services.formats.csv_format import (
    dataset_cells,
    dataset_lines,
    datasets_csv,
    join_list,
    resources_csv,
    split_list,
)
from app.services.record.columns import DATASET_COLUMNS, RESOURCE_COLUMNS
from app.services.visibility import OWNER
from tests.conftest import AUTHOR, make_record

BASE = "http://127.0.0.1:8080"

TRICKY_TITLE = '=HYPERLINK("http://evil.example","click"), or "quoted"'
TRICKY_DESCRIPTION = '<p>Line one,\r\nline "two"; and three</p>\n@SUM(A1)'


def _read(data: bytes) -> list[dict[str, str]]:
    assert not data.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _rich_catalogue(database: Database) -> str:
    with database.transaction() as session:
        managed_lists.add_topic(session, "council", "Council & Democracy")
        managed_lists.add_masthead(session, "barnet", "London Borough of Barnet")
        access.create_team(session, "vrv65", "Barnet Open Data")
        record = datasets.create_dataset(
            session,
            make_record(
                title=TRICKY_TITLE,
                description=TRICKY_DESCRIPTION,
                tags=["a;b", "back\\slash", "-minus", "Zürich ✓"],
                topics=["council"],
                masthead="barnet",
                team="vrv65",
                nextReviewDate="2025-01-15",
                custom={"unit": "+44 20", "geography": ["London", "Barnet"]},
                resources={
                    "k93": {
                        "title": "FOI requests, 2020–25",
                        "url": "https://data.example/download/k93.csv",
                        "filename": "25-01-21 FOI.csv",
                        "description": "-5 rows\tat least",
                        "timeFrame": {"gte": "2020-01", "lte": "2024-11"},
                        "format": "csv",
                        "hash": "2cdf3a47738b93492906e3ad7e415d1a",
                        "size": 1337303,
                        "timestamp": "2025-01-21T16:10:02",
                        "order": 0,
                    },
                    "k94": {"title": "Second", "order": 1},
                },
            ),
            author=AUTHOR,
        )
        publication.publish(session, record["id"], author=AUTHOR)
    dataset_id: str = record["id"]
    return dataset_id


def test_the_datasets_table_reads_back_as_the_stored_values(database: Database) -> None:
    dataset_id = _rich_catalogue(database)
    data = b"".join(datasets_csv(iter_datasets(database, OWNER), base_url=BASE))
    assert data.startswith(",".join(DATASET_COLUMNS).encode() + b"\r\n")
    [row] = _read(data)
    with database.read() as session:
        stored = datasets.get_record(session, dataset_id)
    cell = {key: restore_cell(value) for key, value in row.items()}
    assert row["title"].startswith("'="), "a formula is neutralised"
    assert cell["id"] == dataset_id
    assert cell["webpage"] == f"{BASE}/dataset/{dataset_id}"
    assert cell["title"] == stored["title"] == TRICKY_TITLE
    assert cell["description"] == stored["description"] == TRICKY_DESCRIPTION
    assert cell["descriptionText"] == stored["descriptionText"]
    assert split_list(cell["tags"]) == stored["tags"]
    assert split_list(cell["topics"]) == ["council"]
    assert split_list(cell["topicTitles"]) == ["Council & Democracy"]
    assert (cell["masthead"], cell["mastheadTitle"]) == ("barnet", "London Borough of Barnet")
    assert (cell["team"], cell["teamTitle"]) == ("vrv65", "Barnet Open Data")
    assert orjson.loads(cell["custom"]) == stored["custom"]
    assert cell["licenceUrl"] == stored["licence"]["url"]
    assert cell["contactEmail"] == stored["contact"]["email"]
    assert cell["nextReviewDate"] == "2025-01-15"
    assert (cell["resourceCount"], cell["linkCount"]) == ("2", "0")
    assert (cell["createdAt"], cell["updatedAt"]) == (stored["createdAt"], stored["updatedAt"])
    assert cell["sharing"] == "public"


def test_the_resources_table_has_one_row_per_file_in_order(database: Database) -> None:
    dataset_id = _rich_catalogue(database)
    data = b"".join(resources_csv(iter_datasets(database, OWNER), base_url=BASE))
    assert data.startswith(",".join(RESOURCE_COLUMNS).encode() + b"\r\n")
    first, second = _read(data)
    assert first == {
        "dataset": dataset_id,
        "id": "k93",
        "order": "0",
        "title": "FOI requests, 2020–25",
        "url": "https://data.example/download/k93.csv",
        "filename": "25-01-21 FOI.csv",
        "description": "'-5 rows\tat least",
        "timeFrameFrom": "2020-01",
        "timeFrameTo": "2024-11",
        "format": "csv",
        "size": "1337303",
        "hash": "2cdf3a47738b93492906e3ad7e415d1a",
        "timestamp": "2025-01-21T16:10:02",
        "webpage": f"{BASE}/dataset/{dataset_id}",
    }
    assert (second["id"], second["title"], second["size"], second["url"]) == (
        "k94",
        "Second",
        "",
        "",
    )


def test_lines_end_with_crlf_and_the_output_is_utf8(database: Database) -> None:
    _rich_catalogue(database)
    data = b"".join(datasets_csv(iter_datasets(database, OWNER), base_url=BASE))
    assert "Zürich ✓".encode() in data
    header_end = data.index(b"\n")
    assert data[header_end - 1 : header_end] == b"\r"


@given(st.text())
def test_neutralising_is_reversible_and_leaves_no_formula(value: str) -> None:
    cell = neutralise(value)
    assert restore_cell(cell) == value
    assert not cell or cell[0] not in "=+-@\t\r"


@given(st.lists(st.text(min_size=0)))
def test_list_cells_split_back_into_their_items(items: list[str]) -> None:
    joined = join_list(items)
    if items == [""]:
        assert split_list(joined) == []  # the one ambiguity: one empty item is an empty cell
    else:
        assert split_list(joined) == items


def test_the_list_separator_is_documented_semicolon_space() -> None:
    assert join_list(["FOI", "Freedom of Information"]) == "FOI; Freedom of Information"


def _row(pk: int) -> DatasetRow:
    return DatasetRow(
        pk=pk,
        id=f"d{pk:04d}",
        title=f"Dataset {pk}",
        description="<p>" + "x" * 400 + "</p>",
        description_text="x" * 400,
        description_iframe=None,
        masthead=None,
        tags=("a", "b"),
        topics=(Named("t", "Topic"),),
        next_review_date=None,
        licence_url=None,
        licence_title=None,
        contact_email=None,
        contact_title=None,
        custom={},
        sharing="public",
        team=None,
        state="published",
        embargo_until=None,
        created_at="2025-01-01T00:00:00.000Z",
        updated_at="2025-01-01T00:00:00.000Z",
        site="",
        changed_at="2025-01-01T00:00:00.000Z",
        resources=(
            ResourceRow(
                "r01", 0, "File", "", "https://x.example/f", None, None, None, "csv", None, 1, None
            ),
        ),
        links=(),
    )


def test_a_large_export_is_streamed_in_bounded_chunks_to_any_sink() -> None:
    rows = (_row(pk) for pk in range(1, 2001))
    chunks = list(datasets_csv(rows, base_url=BASE))
    assert len(chunks) > 5
    assert max(map(len, chunks)) < FLUSH_BYTES + 4096
    sink = io.BytesIO()
    assert write_to(sink, datasets_csv((_row(pk) for pk in range(1, 2001)), base_url=BASE)) == sum(
        map(len, chunks)
    )
    assert sink.getvalue() == b"".join(chunks)
    assert len(_read(sink.getvalue())) == 2000


def test_none_is_an_empty_cell_and_numbers_are_not_neutralised() -> None:
    row = _row(1)._replace(contact_email=None, title="-12")
    [cells] = _read(b"".join(datasets_csv([row], base_url=BASE)))
    assert cells["contactEmail"] == ""
    assert cells["title"] == "'-12"  # text that looks like a negative number is still text
    assert cells["resourceCount"] == "1"


_CSV_TEXT = st.text(alphabet=st.sampled_from(list("ab ,\"\r\n\t\0;\\'=+-@é\u2028")), max_size=8)


@given(title=_CSV_TEXT, description=_CSV_TEXT, email=st.none() | _CSV_TEXT, tag=_CSV_TEXT)
def test_a_line_is_what_the_csv_module_writes_for_its_cells(
    title: str, description: str, email: str | None, tag: str
) -> None:
    row = _row(1)._replace(
        title=title, description=description, contact_email=email, tags=(tag, "b")
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(
        "" if v is None else neutralise(v) if isinstance(v, str) else v
        for v in dataset_cells(row, BASE)
    )
    [line] = dataset_lines([row], base_url=BASE)
    assert line == buffer.getvalue().encode("utf-8")
