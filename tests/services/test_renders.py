"""Stored export fragments: a dump assembled from them is the dump the serializers render."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from sqlalchemy import delete, func, select, update

from app.models import Dataset, DatasetRender
from app.models.database import Database
from app.services import datasets, managed_lists, renders
from app.services.export_query import DatasetRow, iter_datasets
from app.services.formats import Chunks, csv_format, datapress_json, jsonld
from app.services.renders import Fragment
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


def _assembled(database: Database, fragment: Fragment, principal: Principal, base: str) -> bytes:
    document = DOCUMENTS[fragment][1]
    parts = renders.iter_fragments(database, principal, fragment, base_url=base, batch_size=7)
    return b"".join(document(parts))


def _rendered(database: Database, fragment: Fragment, principal: Principal, base: str) -> bytes:
    serializer = DOCUMENTS[fragment][0]
    return b"".join(serializer(iter_datasets(database, principal), base))


def _stored(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(DatasetRender)) or 0


@pytest.mark.parametrize("fragment", list(Fragment))
@pytest.mark.parametrize("principal", [ANONYMOUS, OWNER], ids=["anonymous", "owner"])
def test_the_sample_catalogue_assembles_to_what_the_serializers_render(
    database: Database, fragment: Fragment, principal: Principal
) -> None:
    count = load_sample(database)
    assert _stored(database) == count  # every write rendered its dataset
    assembled = _assembled(database, fragment, principal, BASE)
    assert assembled == _rendered(database, fragment, principal, BASE)
    assert renders.PLACEHOLDER.encode() not in assembled
    assert BASE.encode() in assembled


def test_a_base_url_not_written_verbatim_is_rendered_on_the_fly(database: Database) -> None:
    load_sample(database)
    # A quote is escaped in JSON and forces quoting in CSV: no substitution can be exact.
    odd = 'http://host/"quoted",path'
    for fragment in (Fragment.DATASETS_CSV, Fragment.EXPORT_JSON):
        assembled = _assembled(database, fragment, OWNER, odd)
        assert assembled == _rendered(database, fragment, OWNER, odd)


def test_a_stale_or_missing_fragment_is_never_served(database: Database) -> None:
    load_sample(database)
    with database.transaction() as session:
        first, second = session.scalars(select(Dataset.pk).order_by(Dataset.pk).limit(2))
        # One fragment from an older version with wrong bytes, one gone altogether.
        session.execute(
            update(DatasetRender)
            .where(DatasetRender.dataset_pk == first)
            .values(version=DatasetRender.version - 1, datasets_csv=b"stale\r\n")
        )
        session.execute(delete(DatasetRender).where(DatasetRender.dataset_pk == second))
    assembled = _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE)
    assert b"stale" not in assembled
    assert assembled == _rendered(database, Fragment.DATASETS_CSV, OWNER, BASE)


def test_an_edit_re_renders_its_dataset(database: Database, new_dataset: dict[str, object]) -> None:
    dataset_id = str(new_dataset["id"])
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, {"title": "Renamed"}, author=AUTHOR)
    with database.read() as session:
        version, line = session.execute(
            select(DatasetRender.version, DatasetRender.datasets_csv).join(
                Dataset, Dataset.pk == DatasetRender.dataset_pk
            )
        ).one()
        assert version == datasets.get_dataset(session, dataset_id).version
    assert b"Renamed" in line


def test_text_containing_the_placeholder_is_kept_as_typed(database: Database) -> None:
    title = f"See {renders.PLACEHOLDER}/dataset/x"
    with database.transaction() as session:
        datasets.create_dataset(session, make_record(title=title), author=AUTHOR)
    assert _stored(database) == 0  # its fragments would have the title rewritten
    assembled = _assembled(database, Fragment.EXPORT_JSON, OWNER, BASE)
    assert title.encode() in assembled
    assert assembled == _rendered(database, Fragment.EXPORT_JSON, OWNER, BASE)


def test_renaming_a_topic_or_masthead_re_renders_the_datasets_showing_it(
    database: Database,
) -> None:
    with database.transaction() as session:
        managed_lists.add_topic(session, "council", "Council")
        managed_lists.add_masthead(session, "barnet", "Barnet")
        datasets.create_dataset(
            session, make_record(topics=["council"], masthead="barnet"), author=AUTHOR
        )
        datasets.create_dataset(session, make_record(title="Unrelated"), author=AUTHOR)
    with database.transaction() as session:
        managed_lists.add_topic(session, "council", "Council and Democracy")
        managed_lists.add_masthead(session, "barnet", "London Borough of Barnet")
    for fragment in Fragment:
        assembled = _assembled(database, fragment, OWNER, BASE)
        assert assembled == _rendered(database, fragment, OWNER, BASE)
    csv_dump = _assembled(database, Fragment.DATASETS_CSV, OWNER, BASE)
    assert b"Council and Democracy" in csv_dump
    assert b"London Borough of Barnet" in csv_dump


def test_deleting_a_dataset_deletes_its_fragments(
    database: Database, new_dataset: dict[str, object]
) -> None:
    assert _stored(database) == 1
    with database.transaction() as session:
        datasets.delete_dataset(session, str(new_dataset["id"]), author=AUTHOR)
    assert _stored(database) == 0
