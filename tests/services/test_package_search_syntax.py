"""CKAN's package_search `q` and `fq` in Solr's syntax (query_language.solr), run through the
query language's SQL: each example against the ids it must find, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from app.models import Dataset
from app.models.database import Database
from app.services import access, datasets, managed_lists, package_search, publication
from app.services.query_language import solr, syntax
from app.services.query_language.nodes import Compare, Everything, Not, NowValue, Range, Text
from app.services.search import QueryTooLong
from app.services.visibility import ANONYMOUS, OWNER
from tests.conftest import AUTHOR, make_record
from tests.engines import ENGINES, catalogue_on

ALL = {"roads", "river", "bins1", "trees", "minut"}
# id -> fields of its record; the created dates are set after (CREATED).
DATASETS: dict[str, dict[str, object]] = {
    "roads": {
        "title": "Road Works Permits",
        "description": "<p>Permits for works on the highway.</p>",
        "tags": ["roads", "permits"],
        "topics": ["trans"],
        "team": "highw",
        "licence": {"url": "https://example.org/ogl", "title": "OGL v3"},
        "resources": {
            "r01": {"title": "Permits 2023", "url": "https://x.example/p23.csv"},
            "r02": {"title": "Permits 2024", "url": "https://x.example/p24.csv"},
        },
    },
    "river": {
        "title": "River Levels",
        "description": "<p>Hourly levels of the river Thames.</p>",
        "tags": ["rivers", "flooding"],
        "topics": ["envir"],
        "team": "envir",
        "licence": {"url": "https://example.org/odbl", "title": "ODbL"},
        "resources": {"r01": {"title": "Levels", "url": "https://x.example/l.csv"}},
    },
    "bins1": {
        "title": "Bin Collections",
        "description": "<p>Weekly rounds of the bin lorries.</p>",
        "tags": ["waste", "bins"],
        "topics": ["envir"],
        "team": "envir",
        "licence": {"url": "https://example.org/ogl", "title": "OGL v3"},
    },
    "trees": {
        "title": "Street Trees",
        "description": "<p>Every street tree, with its species.</p>",
        "tags": ["trees"],
        "topics": [],
        "team": None,
        "licence": {"url": None, "title": None},
    },
    "minut": {
        "title": "Council Minutes",
        "description": "<p>Minutes of council meetings about road safety.</p>",
        "tags": ["council", "minutes"],
        "topics": ["trans", "envir"],
        "team": "highw",
        "licence": {"url": "https://example.org/ogl", "title": "OGL v3"},
    },
}
CREATED = {
    "roads": "2019-05-01T10:00:00.000Z",
    "river": "2021-03-01T00:00:00.000Z",
    "bins1": "2021-12-31T23:59:59.999Z",
    "trees": "2023-06-15T12:00:00.000Z",
}  # minut: now

# q -> the ids it finds
Q_CASES: dict[str, set[str]] = {
    "": ALL,
    "*:*": ALL,
    '""': ALL,
    "river": {"river"},  # plain words, as before: the beginning of a word
    "road": {"roads", "minut"},
    "road permits": {"roads"},
    "road OR trees": {"roads", "minut", "trees"},
    "road || trees": {"roads", "minut", "trees"},
    "road AND council": {"minut"},
    "road && council": {"minut"},
    "road -council": {"roads"},
    "road NOT council": {"roads"},
    "road !council": {"roads"},
    "+road +council": {"minut"},
    "(road OR river) AND NOT permits": {"minut", "river"},
    '"street tree"': {"trees"},
    '"tree street"': set(),
    "title:road": {"roads"},
    "title:(road OR river)": {"roads", "river"},
    'title:"river levels"^2': {"river"},
    "title:riv*": {"river"},
    "notes:thames": {"river"},
    "text:thames": {"river"},
    "tags:waste": {"bins1"},
    "tags:(waste OR trees)": {"bins1", "trees"},
    "name:bins1": {"bins1"},
    "id:bins1 OR id:trees": {"bins1", "trees"},
    'id:("bins1" OR "trees")': {"bins1", "trees"},
    "organization:environment": {"river", "bins1"},
    "groups:transport": {"roads", "minut"},
    "license_id:odbl": {"river"},
    "num_resources:2": {"roads"},
    "num_resources:[1 TO *]": {"roads", "river"},
    "num_resources:{1 TO *]": {"roads"},
    "num_resources:[* TO 0]": {"bins1", "trees", "minut"},
    "num_resources:[0 TO 1}": {"bins1", "trees", "minut"},
    "metadata_created:[2021-01-01T00:00:00Z TO *]": {"river", "bins1", "trees", "minut"},
    r"metadata_created:[2021-01-01T00\:00\:00Z TO 2022-01-01T00\:00\:00Z]": {"river", "bins1"},
    "metadata_created:[2021 TO 2021]": {"river", "bins1"},
    "metadata_created:{2021-12-31T23:59:59.999Z TO *]": {"trees", "minut"},
    "metadata_created:[* TO 2021-03-01T00:00:00Z}": {"roads"},
    "metadata_created:[* TO *]": ALL,
    "metadata_created:[NOW-1DAY TO NOW]": {"minut"},
    "metadata_created:[NOW/YEAR-100YEARS TO NOW/DAY+1DAY]": ALL,
    "metadata_modified:[NOW-1DAY TO *]": ALL,
    "metadata_modified:[* TO NOW-1DAY]": set(),
    "dataset_type:dataset AND tags:trees": {"trees"},
    "dataset_type:harvest": set(),
    "tags:* AND -tags:roads": ALL - {"roads"},
}
# fq -> the ids it leaves of q=road OR river OR trees
FQ_BASE = "road OR river OR trees"
FQ_CASES: dict[str, set[str]] = {
    "": {"roads", "minut", "river", "trees"},
    "tags:rivers": {"river"},
    "+organization:highways": {"roads", "minut"},
    "-organization:highways": {"river", "trees"},
    "metadata_created:[* TO 2022]": {"roads", "river"},
    "metadata_modified:[2000-01-01T00:00:00Z TO *]": {"roads", "minut", "river", "trees"},
    "metadata_modified:[2000-01-01T00:00:00Z TO *] AND num_resources:[1 TO *]": {"roads", "river"},
}
# q -> (error, 0-based offset of the mistake)
REFUSED: dict[str, tuple[type[Exception], int | None]] = {
    "title:(road": (solr.SolrQueryError, 11),
    "road)": (solr.SolrQueryError, 4),
    'title:"road': (solr.SolrQueryError, 6),
    "res_format:CSV": (solr.SolrQueryError, 0),
    "title:[a TO b]": (solr.SolrQueryError, 6),
    "metadata_modified:[yesterday TO *]": (solr.SolrQueryError, 19),
    "num_resources:many": (solr.SolrQueryError, 14),
    "metadata_modified:[NOW-1FORTNIGHT TO *]": (solr.SolrQueryError, 19),
    "*:road": (solr.SolrQueryError, 0),
    "(" * 20 + "road" + ")" * 20: (solr.SolrQueryError, 16),
    " ".join(f"w{n}" for n in range(33)): (QueryTooLong, None),
    "road " * 300: (QueryTooLong, None),
}


def _fill(database: Database) -> None:
    with database.transaction() as session:
        access.create_team(session, "highw", "Highways")
        access.create_team(session, "envir", "Environment Agency")
        managed_lists.add_topic(session, "trans", "Transport")
        managed_lists.add_topic(session, "envir", "Environment")
        for dataset_id, fields in DATASETS.items():
            record = make_record(id=dataset_id, **fields)
            datasets.create_dataset(session, record, author=AUTHOR)
            publication.publish(session, dataset_id, author=AUTHOR)
        for dataset_id, created in CREATED.items():
            session.execute(
                update(Dataset).where(Dataset.id == dataset_id).values(created_at=created)
            )


@pytest.fixture(scope="module", params=ENGINES)
def catalogue(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with catalogue_on(request.param, tmp_path_factory.mktemp("solr"), request) as database:
        _fill(database)
        yield database


def _found(database: Database, q: str = "", fq: str = "") -> set[str]:
    with database.read() as session:
        page = package_search.search(session, ANONYMOUS, q=q, fq=fq, rows=100)
    ids = {row.id for row in page.rows}
    assert page.count == len(ids)
    return ids


@pytest.mark.parametrize("q", list(Q_CASES))
def test_q_finds_what_solrs_syntax_says(catalogue: Database, q: str) -> None:
    assert _found(catalogue, q=q) == Q_CASES[q]


@pytest.mark.parametrize("fq", list(FQ_CASES))
def test_fq_filters_what_q_finds(catalogue: Database, fq: str) -> None:
    assert _found(catalogue, q=FQ_BASE, fq=fq) == FQ_CASES[fq]
    # A filter alone is a query of its own.
    assert _found(catalogue, fq=fq) == _found(catalogue, q=fq or "*:*")


@pytest.mark.parametrize("q", list(REFUSED))
def test_a_query_solr_cannot_read_is_refused_saying_where(catalogue: Database, q: str) -> None:
    kind, offset = REFUSED[q]
    for where in ("q", "fq"):
        with catalogue.read() as session, pytest.raises(kind) as raised:
            if where == "q":
                package_search.search(session, OWNER, q=q)
            else:
                package_search.search(session, OWNER, fq=q)
        if offset is not None:
            assert isinstance(raised.value, solr.SolrQueryError)
            assert raised.value.offset == offset, raised.value


def test_plain_words_keep_their_relevance_order(catalogue: Database) -> None:
    # roads holds "road" in its title and a tag, minut once in its description: the better
    # match first, on either engine (CKAN's default sort is score desc).
    with catalogue.read() as session:
        best = package_search.search(session, ANONYMOUS, q="road", sort="score desc, name asc")
        worst = package_search.search(session, ANONYMOUS, q="road", sort="score asc, name asc")
        filtered = package_search.search(
            session, ANONYMOUS, q="*:*", fq="road", sort="score desc, name asc"
        )
    assert [row.id for row in best.rows] == ["roads", "minut"]
    assert [row.id for row in worst.rows] == ["minut", "roads"]
    assert [row.id for row in filtered.rows] == ["minut", "roads"]  # fq filters, never scores


def test_the_tree_is_the_query_languages() -> None:
    # What to_sql and seed 003's parser share: the same nodes for the same question.
    assert solr.parse("tags:roads") == Text(("roads",), ("keyword",))
    assert solr.parse('title:"river levels"') == Text(("river", "levels"), ("title",), exact=True)
    assert solr.parse("metadata_modified:[2024-01-01T00:00:00Z TO *]") == Compare(
        "modified", ">=", "2024-01-01T00:00:00Z"
    )
    assert solr.parse(r"metadata_modified:{2024-01-01T00\:00\:00Z TO NOW]") == Compare(
        "modified", ">", "2024-01-01T00:00:00Z"
    )
    assert solr.parse("num_resources:[1 TO 5]") == Range("records_count", "1", "5")
    assert solr.parse("metadata_created:[NOW-1DAY TO *]") == Compare(
        "created", ">=", NowValue(relative=(("days", -1),))
    )
    assert solr.parse("*:*") == Everything()
    assert solr.parse("dataset_type:harvest") == Not(Everything())


# The syntax both languages share: words, phrases, field:value, AND, OR, NOT, parentheses.
_ATOMS = st.sampled_from(
    ["air", "road", "Bus", "café", '"air quality"', "title:air", "tags:road", 'notes:"bus stop"']
)
_SHARED = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR ", " "]), inner).map("".join),
        inner.map(lambda q: f"NOT {q}"),
        inner.map(lambda q: f"({q})"),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(_SHARED)
def test_the_shared_syntax_reads_alike_in_both_languages(query: str) -> None:
    assert solr.parse(query) == syntax.parse(query), query
