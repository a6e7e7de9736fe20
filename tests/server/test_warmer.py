"""The feed's warmer (server.warmer): what changed is rendered before a harvester asks."""

from __future__ import annotations

import time

import httpx

from app.models.database import Database
from app.services import changes, datasets, dump_cache, publication, renders
from app.services.server.warmer import FeedWarmer
from app.services.visibility import ANONYMOUS
from tests.conftest import AUTHOR, make_record
from tests.server.conftest import Catalogue, ServeFactory

BASE = "http://catalogue.test"


def _warmer(database: Database, limit: int = 100) -> tuple[FeedWarmer, renders.FragmentStore]:
    store = renders.FragmentStore(changes.catalogue_of(database.engine))
    dumps = dump_cache.DumpCache(database)
    return FeedWarmer(database, dumps, store, limit=limit), store


def _edit(database: Database, *dataset_ids: str) -> None:
    with database.transaction() as session:
        for dataset_id in dataset_ids:
            title = datasets.get_record(session, dataset_id)["title"] + " (edited)"
            datasets.update_dataset(session, dataset_id, {"title": title}, author=AUTHOR)


def test_it_renders_what_changed_once_the_feed_has_served(
    database: Database, catalogue: Catalogue
) -> None:
    warmer, store = _warmer(database)
    assert warmer.warm() == 0  # the version it starts from
    _edit(database, catalogue.public[0])
    assert warmer.warm() == 0  # no page served yet: no base URL to render under
    warmer.base = BASE
    _edit(database, catalogue.public[1], catalogue.draft)
    assert warmer.warm() == 1  # the published one; the draft is nobody's to harvest
    assert warmer.warm() == 0  # nothing committed since
    before = store.rendered
    with database.read() as session:
        changed = renders.fragment_page(
            session,
            ANONYMOUS,
            renders.Fragment.JSONLD_NODE,
            base_url=BASE,
            published_only=True,
            store=store,
        )
    assert len(changed.selected) == len(catalogue.public)
    assert store.rendered - before == len(catalogue.public) - 1  # the warmed one was kept


def test_a_change_past_its_limit_is_left_to_the_harvest(
    database: Database, catalogue: Catalogue
) -> None:
    warmer, _store = _warmer(database, limit=1)
    warmer.base = BASE
    warmer.warm()
    _edit(database, *catalogue.public[:2])
    assert warmer.warm() == 0


def test_the_server_warms_in_the_background(
    serve: ServeFactory, catalogue: Catalogue, database: Database
) -> None:
    server = serve()
    with httpx.Client(base_url=server.url, timeout=20) as client:
        version = client.get("/api/v1/dataset.jsonld").headers["Last-Modified-Version"]
        with database.transaction() as session:
            record = datasets.create_dataset(session, make_record(title="New"), author=AUTHOR)
            publication.publish(session, record["id"], author=AUTHOR)
        store = renders.store_for(database)
        rendered = store.rendered
        # The warmer's thread renders it; the harvester's round then renders nothing.
        deadline = time.monotonic() + 60  # a bound for a warmer that never comes, not a speed
        while store.rendered == rendered:
            assert time.monotonic() < deadline, "the warmer rendered nothing"
            time.sleep(0.01)
        page = client.get(f"/api/v1/dataset.jsonld?since={version}")
        assert record["id"] in page.text
        assert store.rendered == rendered + 1
