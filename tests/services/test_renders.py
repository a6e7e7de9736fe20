"""Kept export fragments (services.renders.FragmentStore): a dump assembled from them is the dump
the serializers render, whatever was written, renamed or deleted since they were kept."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.models import Dataset, Team
from app.models.database import Database
from app.services import changes, datasets, managed_lists, renders
from app.services.export_query import DatasetRow, iter_datasets
from app.services.formats import Chunks, csv_format, datapress_json, jsonld, oai_dc, rdf_xml
from app.services.renders import Fragment, FragmentStore
from app.services.sample_catalogue import load_sample
from app.services.visibility import ANONYMOUS, OWNER, Principal
from tests.conftest import AUTHOR, make_record

# What each fragment is a part of: (serializer over rows, document around fragments).
DOCUMENTS: dict[
    Fragment,
    tuple[Callable[[Iterable[DatasetRow], str], Chunks], Callable[[Iterable[bytes]], Chunks]],
] = {
    Fragment.DATASETS_CSV: (
        lambda rows, base: csv_format.datasets_csv(rows, base_url=base),
        csv_format.datasets_document,
    ),
    Fragment.RESOURCES_CSV: (
        lambda rows, base: csv_format.resources_csv(rows, base_url=base),
        csv_format.resources_document,
    ),
    Fragment.EXPORT_JSON: (
        lambda rows, base: datapress_json.export_json(rows, base_url=base),
        datapress_json.export_document,
    ),
    # OAI-PMH's records: each dataset's element, the response puts them in place.
    Fragment.OAI_DC: (
        lambda rows, base: oai_dc.records(rows, base_url=base),
        lambda parts: iter(parts),
    ),
    Fragment.DCAT_RDF_XML: (
        lambda rows, base: rdf_xml.records(rows, base_url=base),
        lambda parts: iter(parts),
    ),
    Fragment.JSONLD_NODE: (
        lambda rows, base: jsonld.page_document(
            jsonld.dataset_nodes(rows, base_url=base),
            base_url=base,
            page_url=base,
            first_url=base,
            next_url=None,
        ),
        lambda nodes: jsonld.page_document(
            nodes, base_url=BASE, page_url=BASE, first_url=BASE, next_url=None
        ),
    ),
}

BASE = "http://127.0.0.1:8080"


def _assembled(
    database: Database,
    fragment: Fragment,
    principal: Principal,
    base: str,
    store: FragmentStore | None = None,
) -> bytes:
    document = DOCUMENTS[fragment][1]
    parts = renders.iter_fragments(
        database, principal, fragment, base_url=base, batch_size=7, store=store
    )
    return b"".join(document(parts))


def _rendered(database: Database, fragment: Fragment, principal: Principal, base: str) -> bytes:
    serializer = DOCUMENTS[fragment][0]
    return b"".join(serializer(iter_datasets(database, principal), base))


@pytest.fixture
def store(database: Database, tmp_path: Path) -> Iterator[FragmentStore]:
    kept = FragmentStore(changes.catalogue_of(database.engine), tmp_path)
    yield kept
    kept.close()


@pytest.mark.parametrize("fragment", list(Fragment))
@pytest.mark.parametrize("principal", [ANONYMOUS, OWNER], ids=["anonymous", "owner"])
def test_the_sample_catalogue_assembles_to_what_the_serializers_render(
    database: Database, fragment: Fragment, principal: Principal, store: FragmentStore
) -> None:
    count = load_sample(database)
    first = _assembled(database, fragment, principal, BASE, store)
    rendered = store.rendered
    assert 0 < rendered <= count
    again = _assembled(database, fragment, principal, BASE, store)
    assert store.rendered == rendered  # the second dump read what the first kept
    assert first == again == _rendered(database, fragment, principal, BASE)
    assert BASE.encode() in first


def test_each_base_url_gets_its_own_fragments(database: Database, store: FragmentStore) -> None:
    load_sample(database)
    # A quote is escaped in JSON and forces quoting in CSV: rendered with it, never substituted.
    odd = 'http://host/"quoted",path'
    for fragment in (Fragment.DATASETS_CSV, Fragment.EXPORT_JSON):
        for base in (BASE, odd, BASE):
            assembled = _assembled(database, fragment, OWNER, base, store)
            assert assembled == _rendered(database, fragment, OWNER, base)


def test_a_fragment_of_another_version_is_never_served(
    database: Database, store: FragmentStore
) -> None:
    """A write this process did not see (another process's) is caught by the version."""
    load_sample(database)
    _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    with database.transaction() as session:
        first = session.scalars(select(Dataset.pk).order_by(Dataset.pk)).first()
        # Behind the services' back: no announcement, only the row and its version move.
        session.execute(
            update(Dataset)
            .where(Dataset.pk == first)
            .values(title="Changed elsewhere", version=Dataset.version + 1)
        )
    assembled = _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    assert b"Changed elsewhere" in assembled
    assert assembled == _rendered(database, Fragment.DATASETS_CSV, OWNER, BASE)


def test_an_edit_is_announced_and_re_rendered(
    database: Database, new_dataset: dict[str, object], store: FragmentStore
) -> None:
    heard: list[changes.ChangeSet] = []
    unsubscribe = changes.subscribe(heard.append)
    try:
        _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
        dataset_id = str(new_dataset["id"])
        with database.transaction() as session:
            datasets.update_dataset(session, dataset_id, {"title": "Renamed"}, author=AUTHOR)
            pk = datasets.get_dataset(session, dataset_id).pk
            assert heard == []  # announced once committed, not before
        assert [c.datasets for c in heard] == [frozenset({pk})]
        assembled = _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
        assert b"Renamed" in assembled
        assert store.rendered == 2
    finally:
        unsubscribe()


def test_renaming_a_topic_masthead_or_team_re_renders_the_datasets_showing_it(
    database: Database, store: FragmentStore
) -> None:
    with database.transaction() as session:
        managed_lists.add_topic(session, "council", "Council")
        managed_lists.add_masthead(session, "barnet", "Barnet")
        datasets.create_dataset(
            session, make_record(topics=["council"], masthead="barnet"), author=AUTHOR
        )
        datasets.create_dataset(session, make_record(title="Unrelated"), author=AUTHOR)
    for fragment in Fragment:
        _assembled(database, fragment, OWNER, BASE, store)
    with database.transaction() as session:
        managed_lists.add_topic(session, "council", "Council and Democracy")
        managed_lists.add_masthead(session, "barnet", "London Borough of Barnet")
    for fragment in Fragment:
        assembled = _assembled(database, fragment, OWNER, BASE, store)
        assert assembled == _rendered(database, fragment, OWNER, BASE)
    csv_dump = _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    assert b"Council and Democracy" in csv_dump
    assert b"London Borough of Barnet" in csv_dump


def test_renaming_a_team_re_renders(database: Database, store: FragmentStore) -> None:
    load_sample(database)
    _assembled(database, Fragment.EXPORT_JSON, OWNER, BASE, store)
    with database.transaction() as session:
        team = session.scalars(select(Team).order_by(Team.id)).first()
        assert team is not None
        team.title = "Renamed team"
    assembled = _assembled(database, Fragment.EXPORT_JSON, OWNER, BASE, store)
    assert assembled == _rendered(database, Fragment.EXPORT_JSON, OWNER, BASE)


def test_a_deleted_dataset_leaves_the_dumps(
    database: Database, new_dataset: dict[str, object], store: FragmentStore
) -> None:
    title = str(new_dataset["title"]).encode()
    assert title in _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    with database.transaction() as session:
        datasets.delete_dataset(session, str(new_dataset["id"]), author=AUTHOR)
    assembled = _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    assert assembled == _rendered(database, Fragment.DATASETS_CSV, OWNER, BASE)
    assert assembled.count(b"\n") <= 1  # the header alone


def test_a_shelf_mostly_garbage_is_dropped_and_refilled(
    database: Database, store: FragmentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renders, "MIN_GARBAGE", 0)
    count = load_sample(database)
    _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    assert store.rendered == count
    with database.transaction() as session:
        ids = list(session.scalars(select(Dataset.id).order_by(Dataset.pk)))
        for dataset_id in ids[: count // 2 + 1]:  # more than half of the bytes forgotten
            datasets.update_dataset(session, dataset_id, {"title": "Edited"}, author=AUTHOR)
    assembled = _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    assert store.rendered == 2 * count  # a new shelf: every fragment rendered again
    assert assembled == _rendered(database, Fragment.DATASETS_CSV, OWNER, BASE)


def test_at_most_max_shelves_are_kept(
    database: Database, store: FragmentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renders, "MAX_SHELVES", 2)
    count = load_sample(database)
    for base in ("http://a", "http://b", "http://c", "http://a"):
        assembled = _assembled(database, Fragment.EXPORT_JSON, OWNER, base, store)
        assert assembled == _rendered(database, Fragment.EXPORT_JSON, OWNER, base)
    assert store.rendered == 4 * count  # "http://a" was dropped for "http://c"


def test_a_dataset_gone_since_it_was_selected_is_left_out(
    database: Database, store: FragmentStore
) -> None:
    """Without snapshot reads (PostgreSQL's READ COMMITTED) a dataset can be deleted between
    the page's query and the reading of its rows."""
    load_sample(database)
    with database.read() as session:
        pk, version = session.execute(
            select(Dataset.pk, Dataset.version).order_by(Dataset.pk)
        ).first() or (0, 0)
        gone = pk + 10_000
        parts = store.fragments(
            session, Fragment.DATASETS_CSV, [(pk, version), (gone, 1)], base_url=BASE
        )
    assert list(parts) == [pk]


def test_a_write_to_another_catalogue_forgets_nothing(
    database: Database, store: FragmentStore, tmp_path: Path
) -> None:
    load_sample(database)
    _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    rendered = store.rendered
    other = Database.open(tmp_path / "other.sqlite")
    try:
        with other.transaction() as session:  # its pks are the same small numbers
            for _ in range(3):
                datasets.create_dataset(session, make_record(), author=AUTHOR)
    finally:
        other.dispose()
    _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE, store)
    assert store.rendered == rendered


def test_without_positional_io_the_store_seeks_under_its_lock(
    database: Database, store: FragmentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no os.pread: the same bytes come back by seek and read."""
    monkeypatch.setattr(renders, "_POSITIONAL", False)
    load_sample(database)
    for _ in range(2):
        assembled = _assembled(database, Fragment.JSONLD_NODE, OWNER, BASE, store)
        assert assembled == _rendered(database, Fragment.JSONLD_NODE, OWNER, BASE)


def test_a_page_of_kept_nodes_is_the_page_of_their_fragments(
    database: Database, new_dataset: dict[str, object], store: FragmentStore
) -> None:
    """The feed joins a page from the kept nodes (FragmentStore.kept_page): the same nodes and
    `@included` as from the fragments, also when an edit put a node apart from the others."""
    load_sample(database)
    with database.transaction() as session:
        datasets.update_dataset(session, str(new_dataset["id"]), {"title": "Apart"}, author=AUTHOR)
    with database.read() as session:
        rows = session.execute(select(Dataset.pk, Dataset.version).order_by(Dataset.pk))
        wanted = [(pk, version) for pk, version in rows]
        # The edited dataset rendered last: its node lies after the others in the file.
        edited = datasets.get_dataset(session, str(new_dataset["id"])).pk
        others = [pair for pair in wanted if pair[0] != edited]
        store.fragments(session, Fragment.JSONLD_NODE, others, base_url=BASE, tag="t")
        assert store.kept_page(wanted, base_url=BASE, tag="t") is None  # one is missing
        parts = store.fragments(session, Fragment.JSONLD_NODE, wanted, base_url=BASE, tag="t")
    for chosen in (wanted, wanted[1:3], [wanted[-1], *wanted[:2]]):
        kept = store.kept_page(chosen, base_url=BASE, tag="t")
        assert kept is not None
        expected = jsonld.page_nodes(parts[pk] for pk, _ in chosen)
        assert bytes(kept.datasets) == bytes(expected.datasets)
        assert list(kept.shared) == list(expected.shared)
        assert expected.shared
    stale = [(pk, version + 1) for pk, version in wanted[:2]]
    assert store.kept_page(stale, base_url=BASE, tag="t") is None
    assert store.kept_page(wanted, base_url=BASE, tag="another state") is None
    assert store.kept_page([], base_url=BASE, tag="t") == jsonld.PageNodes(b"", [])
