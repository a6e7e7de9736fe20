"""Sync with an Opendatasoft portal (Search API v1 + Automation API): a real fake portal on
loopback, a real catalogue, the engine's plan/apply."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.models import SyncLink
from app.models.database import Database
from app.services import access, datasets
from app.services.records import Record
from app.services.sync import engine, registry, remotes
from app.services.sync.http import HttpOptions
from app.services.sync.links import LinkUpdate, save_links
from app.services.sync.opendatasoft import OpendatasoftAdapter
from tests.conftest import AUTHOR, make_record
from tests.fakes.faults import Fault, Faults
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.opendatasoft import OdsPortal
from tests.fakes.server import FakeServer
from tests.services.sync.conftest import FAST, local_ids, local_record, run

KEY = "k-louise"
NAME = "ods"
SEARCH = "/api/datasets/1.0/search"
AUTOMATION = "/api/automation/v1.0/datasets"
EVERYTHING = {
    "create_dataset",
    "edit_dataset",
    "publish_dataset",
    "manage_dataset",
    "explore_restricted_dataset",
}


@dataclass
class Ods:
    portal: OdsPortal
    server: FakeServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def faults(self) -> Faults:
        return self.server.faults


@pytest.fixture
def ods() -> Iterator[Ods]:
    portal = OdsPortal()
    portal.add_user("louise", key=KEY, permissions=EVERYTHING)
    with portal.serve() as server:
        yield Ods(portal, server)


@pytest.fixture
def remote(database: Database, ods: Ods, memory_keyring: MemoryKeyring) -> str:
    with database.transaction() as session:
        remotes.add_remote(session, NAME, "opendatasoft", ods.url, key=KEY)
    return NAME


def seed(portal: OdsPortal) -> dict[str, str]:
    """dataset_id -> uid: two published datasets (one restricted), one unpublished."""
    bins = portal.add_dataset(
        "bins-collected",
        published=False,
        title="Bins collected",
        description="<p>Weekly <b>rounds</b>.</p>",
        keyword=["bins", "waste"],
        theme=["Environment"],
        license="Open Database License (ODbL)",
        license_url="https://opendatacommons.org/licenses/odbl/",
    )
    portal.add_resource(bins, "Rounds 2024", "https://data.example/rounds.csv")
    portal.publish_now(bins)
    sickness = portal.add_dataset(
        "staff-sickness", published=True, restricted=True, title="Staff sickness"
    )
    budget = portal.add_dataset("draft-budget", title="Draft budget", keyword=["money"])
    return {"bins-collected": bins, "staff-sickness": sickness, "draft-budget": budget}


def linked(database: Database) -> dict[str, str]:
    """remote id -> local dataset id, from the sync links."""
    with database.read() as session:
        rows = session.execute(select(SyncLink.remote_id, SyncLink.dataset_id)).all()
    return {str(r): d for r, d in rows if r}


def assert_same(database: Database, portal: OdsPortal) -> None:
    """Every portal dataset is here with the fields the portal carries, and nothing else is."""
    links = linked(database)
    assert sorted(links) == sorted(d.dataset_id for d in portal.datasets.values())
    assert sorted(local_ids(database)) == sorted(links.values())
    for dataset in portal.datasets.values():
        mine = local_record(database, links[dataset.dataset_id])
        default = {k: v["value"] for k, v in dataset.metadata["default"].items()}
        assert mine["title"] == default["title"]
        assert mine["description"] == (default.get("description") or "")
        assert mine["tags"] == (default.get("keyword") or [])
        assert mine["sharing"] == ("private" if dataset.is_restricted else "public")
        assert mine["state"] == ("published" if dataset.is_published else "draft")
        if dataset.is_published:
            theme = dataset.metadata["internal"].get("theme") or {}
            assert mine["topics"] == (theme.get("value") or [])
        theirs = sorted(
            (r["title"], r["datasource"]["url"].split("#")[0], r["type"])
            for r in dataset.resources.values()
        )
        ours = sorted(
            (r["title"], r["url"], f"{r['format']}file") for r in mine["resources"].values()
        )
        assert ours == theirs, dataset.dataset_id


def pulled(database: Database, ods: Ods, remote: str) -> dict[str, str]:
    uids = seed(ods.portal)
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    return uids


def test_first_pull_brings_published_and_unpublished_datasets(
    database: Database, ods: Ods, remote: str
) -> None:
    seed(ods.portal)
    plan = run(engine.plan_pull(database, remote, options=FAST))
    assert plan.count("local", "create") == 3
    assert not plan.conflicts
    assert local_ids(database) == []  # a plan writes nothing
    result = run(engine.apply(database, plan, options=FAST))
    assert result.ok, result
    assert len(result.local_created) == 3
    assert_same(database, ods.portal)
    bins = local_record(database, linked(database)["bins-collected"])
    assert bins["licence"] == {
        "url": "https://opendatacommons.org/licenses/odbl/",
        "title": "Open Database License (ODbL)",
    }
    # The search API was paged with rows/start and the key went as `Apikey`.
    searches = ods.faults.requests("GET", SEARCH)
    assert any("start=0" in s.query and "rows=1000" in s.query for s in searches)


def test_a_second_pull_with_nothing_changed_fetches_nothing(
    database: Database, ods: Ods, remote: str
) -> None:
    uids = pulled(database, ods, remote)
    ods.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert plan.is_empty and result.ok
    assert plan.fetched == 0
    # Two counts (modified since the last listing, and all): no listing, no record.
    seen = ods.faults.log
    assert [s.path for s in seen] == [SEARCH, SEARCH]
    assert all("rows=0" in s.query for s in seen)
    # An edit published on the portal: exactly that dataset is read again.
    ods.portal.edit(uids["bins-collected"], title="Bins emptied")
    ods.portal.publish_now(uids["bins-collected"])
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert plan.fetched == 1
    assert result.local_updated == [linked(database)["bins-collected"]]
    assert_same(database, ods.portal)


def test_push_of_a_local_edit_updates_the_template_and_republishes(
    database: Database, ods: Ods, remote: str
) -> None:
    uids = pulled(database, ods, remote)
    dataset_id = linked(database)["bins-collected"]
    with database.transaction() as session:
        record = datasets.get_record(session, dataset_id)
        record["title"] = "Bins collected weekly"
        record["tags"] = ["bins", "waste", "weekly"]
        datasets.update_dataset(session, dataset_id, record, author=AUTHOR)
    ods.faults.clear_log()
    plan, result = run(engine.push(database, remote, options=FAST))
    assert plan.count("remote", "update") == 1
    assert result is not None and result.ok, result
    uid = uids["bins-collected"]
    assert ods.portal.value(uid, "title") == "Bins collected weekly"
    assert ods.portal.value(uid, "keyword") == ["bins", "waste", "weekly"]
    metadata_puts = [s.path for s in ods.faults.requests("PUT", f"{AUTOMATION}/{uid}/metadata/")]
    assert sorted(metadata_puts) == [
        f"{AUTOMATION}/{uid}/metadata/default/keyword/",
        f"{AUTOMATION}/{uid}/metadata/default/title/",
    ]
    # Published again (metadata only), and the status was polled until idle.
    assert ods.faults.requests("POST", f"{AUTOMATION}/{uid}/publish_metadata")
    assert len(ods.faults.requests("GET", f"{AUTOMATION}/{uid}/status")) >= 2
    search = httpx.get(f"{ods.url}{SEARCH}", params={"q": "weekly"}).json()
    assert [d["metas"]["title"] for d in search["datasets"]] == ["Bins collected weekly"]
    plan, result2 = run(engine.pull(database, remote, options=FAST))
    assert plan.is_empty and result2.ok
    assert_same(database, ods.portal)


def test_create_pushes_dataset_resources_and_publication(
    database: Database, ods: Ods, remote: str
) -> None:
    pulled(database, ods, remote)
    with database.transaction() as session:
        record = datasets.create_dataset(
            session,
            make_record(
                title="Potholes filled",
                tags=["roads"],
                sharing="private",
                resources={
                    "k93": {
                        "title": "Potholes, 2024",
                        "url": "https://data.example/potholes.csv",
                        "format": "csv",
                        "description": "One row a pothole",
                        "order": 2,
                    }
                },
            ),
            author=AUTHOR,
        )
        record = datasets.update_dataset(
            session, record["id"], {**record, "state": "published"}, author=AUTHOR
        )
    plan, result = run(engine.push(database, remote, options=FAST))
    assert plan.count("remote", "create") == 1
    assert result is not None and result.ok, result
    created = ods.portal.by_id(f"potholes-filled-{record['id']}")
    assert created.is_published and created.is_restricted
    (resource,) = created.resources.values()
    assert resource["type"] == "csvfile"
    assert resource["datasource"]["url"] == (
        "https://data.example/potholes.csv#catalogue-desk=k93;2"
    )
    # What Opendatasoft cannot hold is reported, not silently dropped.
    fields = {(i.dataset, i.field) for i in result.report.issues}
    assert {(record["id"], "contact"), (record["id"], "custom")} <= fields
    assert (record["id"], "resources/k93") in fields
    # A pull afterwards changes nothing here: the description the portal cannot hold stays.
    plan, pull_result = run(engine.pull(database, remote, options=FAST))
    assert not plan.conflicts and plan.count("local", "update") == 0 and pull_result.ok
    mine = local_record(database, record["id"])
    assert mine["resources"]["k93"]["description"] == "One row a pothole"
    assert mine["contact"]["email"] == "opendata@example.org"
    assert_same(database, ods.portal)


def test_unpublishing_here_unpublishes_there_and_keeps_the_link(
    database: Database, ods: Ods, remote: str
) -> None:
    uids = pulled(database, ods, remote)
    dataset_id = linked(database)["staff-sickness"]
    with database.transaction() as session:
        record = datasets.get_record(session, dataset_id)
        datasets.update_dataset(session, dataset_id, {**record, "state": "draft"}, author=AUTHOR)
    _plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None and result.ok, result
    uid = uids["staff-sickness"]
    assert not ods.portal.datasets[uid].is_published
    assert ods.faults.requests("POST", f"{AUTOMATION}/{uid}/unpublish")
    # No longer in the Search API, yet not taken for deleted: it is a draft there too.
    plan, pull_result = run(engine.pull(database, remote, options=FAST))
    assert plan.count("local", "delete") == 0 and plan.is_empty and pull_result.ok
    assert_same(database, ods.portal)


def test_a_dataset_deleted_on_the_portal_is_deleted_here(
    database: Database, ods: Ods, remote: str
) -> None:
    uids = pulled(database, ods, remote)
    gone = linked(database)["staff-sickness"]
    ods.portal.delete(uids["staff-sickness"])
    plan = run(engine.plan_pull(database, remote, options=FAST))
    assert plan.count("local", "delete") == 1
    result = run(engine.apply(database, plan, options=FAST))
    assert result.local_deleted == [gone]
    assert gone not in local_ids(database)
    assert_same(database, ods.portal)


def test_a_429_storm_with_the_quota_body_is_waited_out(
    database: Database, ods: Ods, remote: str
) -> None:
    seed(ods.portal)
    ods.faults.add(
        Fault("429", path=SEARCH, times=4, body="opendatasoft", retry_after=None, reset_in=0.2)
    )
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    assert plan.count("local", "create") == 3
    assert [s.status for s in ods.faults.requests("GET", SEARCH)][:4] == [429] * 4
    assert_same(database, ods.portal)


def test_malformed_json_costs_that_dataset_and_the_rest_lands(
    database: Database, ods: Ods, remote: str
) -> None:
    uids = seed(ods.portal)
    resources = f"{AUTOMATION}/{uids['bins-collected']}/resources"
    ods.faults.add(Fault("html", path=resources, times=None))
    plan, result = run(engine.pull(database, remote, options=FAST))
    [failure] = result.failures
    assert "bins-collected" in failure.message and "not valid JSON" in failure.message
    assert [i.key for i in plan.items if i.state.skipped] == [failure.key]
    assert len(local_ids(database)) == len(uids) - 1
    # The portal answers again: the next pull brings everything.
    ods.faults.clear()
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok
    assert_same(database, ods.portal)


def test_a_wrong_key_gets_the_portals_401(
    database: Database, ods: Ods, memory_keyring: MemoryKeyring
) -> None:
    seed(ods.portal)
    with database.transaction() as session:
        remotes.add_remote(session, "wrong", "opendatasoft", ods.url, key="not-a-key")
    found = run(remotes.test_connection(database, "wrong"))
    assert not found.authenticated
    assert "Invalid API key." in " ".join(found.notes)
    search = httpx.get(f"{ods.url}{SEARCH}", headers={"Authorization": "Apikey not-a-key"})
    assert search.status_code == 401
    assert search.json() == {"errorcode": 10110, "error": "Invalid API key."}
    auto = httpx.get(f"{ods.url}{AUTOMATION}/", headers={"Authorization": "Apikey not-a-key"})
    assert auto.status_code == 401 and auto.json()["error_code"] == "authentication_failed"
    with database.transaction() as session:
        remotes.add_remote(session, "right", "opendatasoft", ods.url, key=KEY)
    access_ = run(remotes.test_connection(database, "right"))
    assert access_.authenticated and access_.edit and access_.datasets == 2


def adapter_for(url: str) -> OpendatasoftAdapter:
    adapter = registry.open_adapter(
        NAME, "opendatasoft", url, KEY, options=HttpOptions(timeout=10, backoff=0.01)
    )
    assert isinstance(adapter, OpendatasoftAdapter)
    return adapter


def test_our_permissions_are_pushed_as_rulesets(database: Database, ods: Ods, remote: str) -> None:
    ods.portal.add_user("alice", key="k-alice")
    ods.portal.add_user("bob", key="k-bob")
    ods.portal.add_group("content_designers", "Content Designers")
    with database.transaction() as s:
        alice = access.create_user(s, "alice")
        bob = access.create_user(s, "bob")
        dave = access.create_user(s, "dave")  # not a user of the portal
        designers = access.create_group(s, "Content Designers")
        access.create_team(s, "tm001", "Team One")
        record = datasets.create_dataset(
            s,
            make_record(collaborators=[bob.id], readusers=[dave.id], team="tm001"),
            author=AUTHOR,
        )
        access.set_user_ruleset(s, record["id"], alice.id, ["publish_dataset"])
        access.set_group_ruleset(s, record["id"], designers.id, ["edit_dataset"])
        remote_pk = remotes.get_remote(s, remote).pk
        record = datasets.get_record(s, record["id"])

    async def create() -> Any:
        adapter = adapter_for(ods.url)
        adapter.attach_catalogue(database, remote_pk)
        async with adapter.http:
            return await adapter.create(record)

    created = run(create())
    dataset = ods.portal.by_id(created.remote_id)
    users = {name: r["permissions"] for name, r in dataset.user_rulesets.items()}
    assert users["alice"] == ["explore_restricted_dataset", "publish_dataset"]
    assert users["bob"] == ["explore_restricted_dataset", "edit_dataset"]
    assert "dave" not in users
    assert "louise" in users  # the portal's own ruleset for the key's user is left alone
    groups = {uid: r["permissions"] for uid, r in dataset.group_rulesets.items()}
    assert groups == {"content_designers": ["explore_restricted_dataset", "edit_dataset"]}
    reasons = {i.field: i.reason for i in created.report.issues}
    assert reasons["permissions/user/dave"].startswith("not granted: 400")
    assert "team" in reasons
    # Bob stops collaborating here: his ruleset is revoked there on the next push.
    save_links(database, remote_pk, [LinkUpdate(record["id"], remote_id=created.remote_id)])
    with database.transaction() as s:
        datasets.update_dataset(s, record["id"], {**record, "collaborators": []}, author=AUTHOR)

    async def update() -> Any:
        adapter = adapter_for(ods.url)
        adapter.attach_catalogue(database, remote_pk)
        async with adapter.http:
            before = (await adapter.fetch(created.remote_id)).record
            return await adapter.update(created.remote_id, before, {**before, "title": "New"})

    updated = run(update())
    assert updated.record["title"] == "New"
    assert set(dataset.user_rulesets) == {"alice", "louise"}


def test_a_portal_edit_made_after_the_read_is_not_overwritten(ods: Ods) -> None:
    uids = seed(ods.portal)

    async def go() -> None:
        adapter = adapter_for(ods.url)
        async with adapter.http:
            before: Record = (await adapter.fetch("bins-collected")).record
            ods.portal.edit(uids["bins-collected"], title="Changed in the back office")
            await adapter.update("bins-collected", before, {**before, "title": "Mine"})

    with pytest.raises(Exception, match="changed on the portal since it was read") as caught:
        run(go())
    assert "bins-collected" in str(caught.value)
    assert ods.portal.value(uids["bins-collected"], "title") == "Changed in the back office"


def test_a_create_cut_off_mid_push_is_adopted_not_duplicated(
    database: Database, ods: Ods, remote: str
) -> None:
    pulled(database, ods, remote)
    with database.transaction() as session:
        record = datasets.create_dataset(
            session,
            make_record(
                title="Potholes filled",
                resources={
                    "k93": {"title": "Potholes", "url": "https://d.example/p.csv", "format": "csv"}
                },
            ),
            author=AUTHOR,
        )
    # The portal makes the dataset, then the connection drops before the answer arrives.
    ods.faults.add(Fault("drop", method="POST", path=f"{AUTOMATION}/", times=1))
    _plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None and not result.ok
    made = [d for d in ods.portal.datasets.values() if d.dataset_id.endswith(record["id"])]
    assert len(made) == 1 and not made[0].resources
    plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None and result.ok, result
    assert any("adopted" in note for item in plan.items for note in item.notes)
    made = [d for d in ods.portal.datasets.values() if d.dataset_id.endswith(record["id"])]
    assert len(made) == 1
    assert [r["title"] for r in made[0].resources.values()] == ["Potholes"]
    assert linked(database)[made[0].dataset_id] == record["id"]


def test_the_fake_search_api_answers_as_seed_003(ods: Ods) -> None:
    uids = seed(ods.portal)
    ods.portal.edit(uids["staff-sickness"], title="Staff sickness")
    ods.portal.publish_now(uids["staff-sickness"])
    key = {"Authorization": f"Apikey {KEY}"}
    # Descending by default, a minus sign for ascending; rows and start page.
    newest = httpx.get(f"{ods.url}{SEARCH}", params={"sort": "modified"}, headers=key).json()
    oldest = httpx.get(f"{ods.url}{SEARCH}", params={"sort": "-modified"}, headers=key).json()
    assert [d["datasetid"] for d in newest["datasets"]] == ["staff-sickness", "bins-collected"]
    assert [d["datasetid"] for d in oldest["datasets"]] == ["bins-collected", "staff-sickness"]
    page = httpx.get(f"{ods.url}{SEARCH}", params={"rows": 1, "start": 1}, headers=key).json()
    assert page["nhits"] == 2 and len(page["datasets"]) == 1
    since = oldest["datasets"][0]["metas"]["modified"]
    later = httpx.post(f"{ods.url}{SEARCH}", data={"q": f"modified > {since}"}, headers=key)
    assert [d["datasetid"] for d in later.json()["datasets"]] == ["staff-sickness"]
    # Anonymous callers do not see restricted or unpublished datasets.
    anonymous = httpx.get(f"{ods.url}{SEARCH}").json()
    assert [d["datasetid"] for d in anonymous["datasets"]] == ["bins-collected"]
    missing = httpx.get(f"{ods.url}/api/datasets/1.0/draft-budget/", headers=key)
    assert missing.status_code == 404 and missing.json()["error"].startswith("Unknown dataset")


def test_the_fake_search_api_counts_calls_against_a_quota_as_seed_003(ods: Ods) -> None:
    ods.portal.call_limit = 2
    seed(ods.portal)
    key = {"Authorization": f"Apikey {KEY}"}
    answers = [httpx.get(f"{ods.url}{SEARCH}", headers=key) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"2"}
    assert all(a.headers["x-ratelimit-reset"].isdigit() for a in answers)
    refused = answers[2]
    assert "retry-after" not in refused.headers  # seed 003: the body says when, not a header
    body = refused.json()
    assert body["errorcode"] == 10002 and body["call_limit"] == 2
    assert body["limit_time_unit"] == "day" and body["error"].startswith("Too many requests")
    assert body["reset_time"].endswith("Z") and body["reset_time"] > "2024"
    # Anonymous callers have a quota of their own, and their own error code.
    anonymous = [httpx.get(f"{ods.url}/api/datasets/1.0/bins-collected") for _ in range(3)]
    assert [a.status_code for a in anonymous] == [200, 200, 429]
    assert anonymous[2].json()["errorcode"] == 10005


def test_an_exhausted_quota_pauses_the_pull_until_its_reset_time(
    database: Database, ods: Ods, remote: str
) -> None:
    """One Search API call a second: the pull waits for each `reset_time` (no Retry-After) and
    the portal's own records show no call coming back before the moment it named."""
    ods.portal.call_limit = 1
    ods.portal.quota_period = 0.5
    seed(ods.portal)
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    assert plan.count("local", "create") == 3
    searches = [s for s in ods.faults.log if s.path.startswith("/api/datasets/1.0/")]
    refused = [s for s in searches if s.status == 429]
    assert refused and len(refused) == len(ods.portal.quota_resets)
    for turned_away, reset in zip(refused, ods.portal.quota_resets, strict=True):
        early = [s for s in searches if turned_away.at < s.at < reset]
        assert early == []
    assert_same(database, ods.portal)


def test_the_fake_automation_api_pages_every_listing_as_seed_004(ods: Ods) -> None:
    uids = seed(ods.portal)
    bins = uids["bins-collected"]
    for n in range(24):
        ods.portal.add_resource(bins, f"Part {n}", f"https://data.example/{n}.csv")
    key = {"Authorization": f"Apikey {KEY}"}
    url = f"{ods.url}{AUTOMATION}/{bins}/resources/"
    first = httpx.get(url, headers=key).json()  # 20 a page unless told
    assert first["total_count"] == 25 and len(first["results"]) == 20
    assert first["previous"] is None and "offset=20" in first["next"]
    rest = httpx.get(first["next"], headers=key).json()
    assert len(rest["results"]) == 5 and rest["next"] is None and rest["previous"]
    assert len(httpx.get(url, params={"limit": 1000}, headers=key).json()["results"]) == 25
    too_many = httpx.get(url, params={"limit": 1001}, headers=key)
    assert too_many.status_code == 400 and too_many.json()["error_code"] == "validation_error"
    rulesets = httpx.get(f"{ods.url}{AUTOMATION}/{bins}/security/users/", headers=key).json()
    assert set(rulesets) == {"total_count", "next", "previous", "results"}


def test_a_dataset_with_more_resources_than_a_page_comes_whole(
    database: Database, ods: Ods, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.services.sync.opendatasoft.LISTING_PAGE", 2)
    uids = seed(ods.portal)
    for n in range(4):
        ods.portal.add_resource(uids["bins-collected"], f"Part {n}", f"https://d.example/{n}.csv")
    ods.portal.publish_now(uids["bins-collected"])
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    bins = local_record(database, linked(database)["bins-collected"])
    assert len(bins["resources"]) == 5
    assert_same(database, ods.portal)
