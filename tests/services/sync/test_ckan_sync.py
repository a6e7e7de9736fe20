"""Sync with a CKAN portal (action API): a real fake portal on loopback, a real catalogue, the
engine's plan/apply."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.models import SyncLink
from app.models.database import Database
from app.services import datasets, export_query
from app.services.formats import ckan as ckan_format
from app.services.formats import write_to
from app.services.importing import OnExisting, plan_import
from app.services.mappings import is_public_now
from app.services.sync import engine, registry, remotes
from app.services.sync.adapter import PortalConflict
from app.services.sync.ckan import CkanAdapter
from app.services.sync.ckan_reads import id_query
from app.services.sync.http import HttpOptions
from app.services.visibility import OWNER
from tests.conftest import AUTHOR, make_record
from tests.fakes.ckan import CkanPortal
from tests.fakes.faults import Fault, Faults
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.server import FakeServer
from tests.services.sync.conftest import FAST, local_ids, local_record, run

TOKEN = "tok-editor"
NAME = "ckan"
ACTION = "/api/3/action/"
OGL = "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"


@dataclass
class Ckan:
    portal: CkanPortal
    server: FakeServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def faults(self) -> Faults:
        return self.server.faults


def serve_ckan() -> Iterator[Ckan]:
    """A portal with an organization the editor's key may create in, and two groups."""
    portal = CkanPortal()
    portal.add_organization("council", "Borough Council")
    portal.add_group("environment", "Environment")
    portal.add_group("transport", "Transport")
    portal.add_user("editor", token=TOKEN, orgs={"council": "editor"})
    with portal.serve() as server:
        yield Ckan(portal, server)


def add_ckan_remote(database: Database, ckan: Ckan) -> str:
    with database.transaction() as session:
        remotes.add_remote(session, NAME, "ckan", ckan.url, key=TOKEN)
    return NAME


@pytest.fixture
def ckan() -> Iterator[Ckan]:
    yield from serve_ckan()


@pytest.fixture
def remote(database: Database, ckan: Ckan, memory_keyring: MemoryKeyring) -> str:
    return add_ckan_remote(database, ckan)


def seed(portal: CkanPortal) -> dict[str, str]:
    """name -> CKAN id: a public package with files and a link, a private one, a draft."""
    bins = portal.add_package(
        {
            "name": "bins-collected",
            "title": "Bins collected",
            "notes": "<p>Weekly rounds.</p>",
            "owner_org": "council",
            "license_id": "cc-by",
            "maintainer": "Waste team",
            "maintainer_email": "waste@example.org",
            "tags": [{"name": "bins"}, {"name": "waste"}],
            "groups": [{"name": "environment"}],
            "extras": [{"key": "frequency", "value": "weekly"}],
            "resources": [
                {"name": "Rounds 2024", "url": "https://data.example/rounds.csv", "format": "CSV"},
                {"name": "Map", "url": "https://maps.example/", "resource_type": "link"},
            ],
        }
    )
    sickness = portal.add_package(
        {
            "name": "staff-sickness",
            "title": "Staff sickness",
            "owner_org": "council",
            "private": True,
        }
    )
    budget = portal.add_package(
        {"name": "draft-budget", "title": "Draft budget", "owner_org": "council", "state": "draft"}
    )
    return {
        "bins-collected": bins["id"],
        "staff-sickness": sickness["id"],
        "draft-budget": budget["id"],
    }


def linked(database: Database) -> dict[str, str]:
    with database.read() as session:
        rows = session.execute(select(SyncLink.remote_id, SyncLink.dataset_id)).all()
    return {str(r): d for r, d in rows if r}


def assert_same(database: Database, portal: CkanPortal) -> None:
    """Every active or draft package is here with the fields CKAN carries; nothing else is."""
    links = linked(database)
    packages = {p["id"]: p for p in portal.active()}
    assert sorted(links) == sorted(packages)
    assert sorted(local_ids(database)) == sorted(links.values())
    for package_id, package in packages.items():
        mine = local_record(database, links[package_id])
        assert mine["title"] == package["title"]
        assert mine["description"] == package["notes"]
        assert mine["tags"] == [t["name"] for t in package["tags"]]
        assert mine["topics"] == [g["name"] for g in package["groups"]]
        assert mine["contact"] == {
            "email": package["maintainer_email"] or None,
            "title": package["maintainer"] or None,
        }
        # Only `private` keeps a CKAN package from the world (a CKAN draft is as hidden): the
        # portal shows a package to anybody exactly when it is public here now.
        hidden = package["private"] or package["state"] == "draft"
        assert (is_public_now(mine) and mine["sharing"] == "public") is not hidden
        files = sorted(
            (r["name"], r["url"]) for r in package["resources"] if r.get("resource_type") != "link"
        )
        links_there = sorted(
            (r["name"], r["url"]) for r in package["resources"] if r.get("resource_type") == "link"
        )
        assert sorted((r["title"], r["url"]) for r in mine["resources"].values()) == files
        assert sorted((r["title"], r["url"]) for r in mine["links"].values()) == links_there


def pulled(database: Database, ckan: Ckan, remote: str) -> dict[str, str]:
    ids = seed(ckan.portal)
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    return ids


def test_first_pull_brings_public_private_and_draft_packages(
    database: Database, ckan: Ckan, remote: str
) -> None:
    ids = seed(ckan.portal)
    plan = run(engine.plan_pull(database, remote, options=FAST))
    assert plan.count("local", "create") == 3
    assert local_ids(database) == []
    result = run(engine.apply(database, plan, options=FAST))
    assert result.ok, result
    assert_same(database, ckan.portal)
    bins = local_record(database, linked(database)[ids["bins-collected"]])
    assert bins["licence"] == {
        "url": "http://www.opendefinition.org/licenses/cc-by",
        "title": "Creative Commons Attribution",
    }
    assert bins["custom"] == {"frequency": "weekly"}
    # Paged with rows/start, sorted, only the listing fields; private and drafts included.
    listing = [
        s.query for s in ckan.faults.requests("GET", f"{ACTION}package_search") if "fl=" in s.query
    ]
    assert listing and all(
        "start=0" in q and "rows=1000" in q and "include_drafts=true" in q for q in listing
    )


def test_a_second_pull_with_nothing_changed_fetches_nothing(
    database: Database, ckan: Ckan, remote: str
) -> None:
    ids = pulled(database, ckan, remote)
    ckan.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert plan.is_empty and result.ok and plan.fetched == 0
    seen = ckan.faults.log
    assert [s.path for s in seen] == [f"{ACTION}package_search"] * 2
    assert all("rows=0" in s.query for s in seen)
    assert any("metadata_modified" in s.query for s in seen)
    # One edit on the portal: exactly that package is read (one search by id, no show).
    ckan.portal.edit(ids["staff-sickness"], title="Staff sickness, by month")
    ckan.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert plan.fetched == 1 and not ckan.faults.requests("GET", f"{ACTION}package_show")
    assert len(ckan.faults.requests("POST", f"{ACTION}package_search")) == 1
    assert result.local_updated == [linked(database)[ids["staff-sickness"]]]
    assert_same(database, ckan.portal)


def test_push_of_local_edits_patches_only_what_changed(
    database: Database, ckan: Ckan, remote: str
) -> None:
    ids = pulled(database, ckan, remote)
    dataset_id = linked(database)[ids["bins-collected"]]
    resource_ids = [r["id"] for r in ckan.portal.get(ids["bins-collected"])["resources"]]
    with database.transaction() as session:
        record = datasets.get_record(session, dataset_id)
        record["title"] = "Bins collected weekly"
        (rid,) = record["resources"]
        record["resources"][rid]["title"] = "Rounds, 2024"
        record["links"]["new"] = {"title": "Timetable", "url": "https://bins.example/", "order": 5}
        datasets.update_dataset(session, dataset_id, record, author=AUTHOR)
    ckan.faults.clear_log()
    plan, result = run(engine.push(database, remote, options=FAST))
    assert plan.count("remote", "update") == 1
    assert result is not None and result.ok, result
    assert len(ckan.faults.requests("POST", f"{ACTION}package_patch")) == 1
    package = ckan.portal.get(ids["bins-collected"])
    assert package["title"] == "Bins collected weekly"
    names = [r["name"] for r in package["resources"]]
    assert names == ["Rounds, 2024", "Map", "Timetable"]
    # The existing resources were updated in place, not recreated.
    assert [r["id"] for r in package["resources"]][:2] == resource_ids
    assert [t["name"] for t in package["tags"]] == ["bins", "waste"]
    plan, pull_result = run(engine.pull(database, remote, options=FAST))
    assert plan.is_empty and pull_result.ok
    assert_same(database, ckan.portal)


def test_create_puts_a_package_in_the_keys_organization(
    database: Database, ckan: Ckan, remote: str
) -> None:
    pulled(database, ckan, remote)
    with database.transaction() as session:
        record = datasets.create_dataset(
            session,
            make_record(
                title="Potholes filled",
                topics=["transport"],
                licence={"url": OGL, "title": "Open Government Licence v3.0"},
                resources={
                    "k93": {
                        "title": "Potholes, 2024",
                        "url": "https://data.example/potholes.csv",
                        "format": "csv",
                        "hash": "2cdf3a47738b93492906e3ad7e415d1a",
                        "size": 2048,
                        "timeFrame": {"gte": "2024-01", "lte": "2024-12"},
                        "order": 0,
                    }
                },
                links={"el3": {"title": "Roads", "url": "https://roads.example/", "order": 1}},
            ),
            author=AUTHOR,
        )
    plan, result = run(engine.push(database, remote, options=FAST))
    assert plan.count("remote", "create") == 1
    assert result is not None and result.ok, result
    package = ckan.portal.get(f"potholes-filled-{record['id']}")
    assert package["owner_org"] == "council"
    # A draft here is hidden there: CKAN ignores `state`, only `private` hides a package.
    assert package["private"] is True
    assert (
        httpx.get(f"{ckan.url}{ACTION}package_show", params={"id": package["id"]}).status_code
        == 403
    )
    assert package["license_id"] == "OGL-UK-3.0"
    assert package["groups"][0]["name"] == "transport"
    assert package["extras"] == [
        {"key": "geography", "value": '["London","Barnet"]'},
        {"key": "unit", "value": "Assurance"},
        {"key": "catalogue_desk_dataset", "value": record["id"]},  # the proof we made it
    ]
    # Only what holds something travels in keys of our own: no empty catalogue_desk_* keys.
    (file_, link) = package["resources"]
    assert file_["time_frame_from"] == "2024-01" and "filename" not in file_
    assert "qa_http_status" not in link
    # CKAN holds all of it: both sides agree, nothing is pending either way.
    push_plan, _ = run(engine.push(database, remote, dry_run=True, options=FAST))
    assert push_plan.is_empty, push_plan.summary()
    pull_plan, _ = run(engine.pull(database, remote, options=FAST))
    assert pull_plan.is_empty
    assert_same(database, ckan.portal)


def test_a_package_deleted_on_the_portal_is_deleted_here(
    database: Database, ckan: Ckan, remote: str
) -> None:
    ids = pulled(database, ckan, remote)
    gone = linked(database)[ids["staff-sickness"]]
    ckan.portal.delete(ids["staff-sickness"])
    plan = run(engine.plan_pull(database, remote, options=FAST))
    assert plan.count("local", "delete") == 1
    result = run(engine.apply(database, plan, options=FAST))
    assert result.local_deleted == [gone]
    assert_same(database, ckan.portal)


def test_a_429_storm_is_waited_out(database: Database, ckan: Ckan, remote: str) -> None:
    seed(ckan.portal)
    ckan.faults.add(Fault("429", path=f"{ACTION}package_", times=6, retry_after=0))
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    assert plan.count("local", "create") == 3
    assert sum(1 for s in ckan.faults.log if s.status == 429) == 6
    assert_same(database, ckan.portal)


def test_a_bad_answer_costs_one_dataset_not_the_pull(
    database: Database, ckan: Ckan, remote: str
) -> None:
    """A truncated answer once is retried; an HTML page answered with 200 every time costs
    that one package: skipped, shown in the preview and reported, the rest lands, and the
    next pull brings it."""
    ids = seed(ckan.portal)
    show = f"{ACTION}package_show"
    # The packages are read by id in a search first: garbled too, so each is read by itself.
    ckan.faults.add(Fault("garbled", method="POST", path=f"{ACTION}package_search", times=None))
    ckan.faults.add(Fault("malformed", path=show, query=f"id={ids['draft-budget']}"))
    ckan.faults.add(Fault("html", path=show, query=f"id={ids['bins-collected']}", times=None))
    plan, result = run(engine.pull(database, remote, options=FAST))
    bins = f"remote:{ids['bins-collected']}"
    [skipped] = [item for item in plan.items if item.state.skipped]
    assert skipped.key == bins and "not valid JSON" in skipped.describe()
    assert [f.key for f in result.failures] == [bins] and not result.ok
    assert f"dataset {ids['bins-collected']}" in result.failures[0].message
    assert sorted(linked(database)) == sorted([ids["draft-budget"], ids["staff-sickness"]])
    ckan.faults.clear()
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok and result.local_created
    assert_same(database, ckan.portal)


def test_a_pull_reads_packages_a_hundred_to_a_search(
    database: Database, ckan: Ckan, remote: str
) -> None:
    for n in range(150):
        ckan.portal.add_package({"name": f"p-{n:03d}", "title": f"P {n}", "owner_org": "council"})
    seed(ckan.portal)
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    assert plan.count("local", "create") == 153
    assert len(ckan.faults.requests("POST", f"{ACTION}package_search")) == 2
    assert ckan.faults.requests("GET", f"{ACTION}package_show") == []
    assert_same(database, ckan.portal)


def test_package_ids_are_quoted_for_solr() -> None:
    assert id_query(["a-1", 'b"2', "c\\3"]) == 'id:("a-1" OR "b\\"2" OR "c\\\\3")'


def test_a_wrong_token_is_anonymous_and_cannot_create(
    database: Database, ckan: Ckan, memory_keyring: MemoryKeyring
) -> None:
    seed(ckan.portal)
    with database.transaction() as session:
        remotes.add_remote(session, "wrong", "ckan", ckan.url, key="not-a-token")
        datasets.create_dataset(session, make_record(title="Mine"), author=AUTHOR)
    found = run(remotes.test_connection(database, "wrong"))
    assert found.reachable and not found.authenticated and not found.create
    assert found.datasets == 1  # the public package only
    _plan, result = run(engine.push(database, "wrong", options=FAST))
    assert result is not None and not result.ok
    (failure,) = result.failures
    assert "403" in failure.message and "not authorized to create packages" in failure.message
    answer = httpx.post(
        f"{ckan.url}{ACTION}package_create",
        json={"name": "x1"},
        headers={"Authorization": "not-a-token"},
    )
    assert answer.status_code == 403
    assert answer.json()["success"] is False
    assert answer.json()["error"]["__type"] == "Authorization Error"
    with database.transaction() as session:
        remotes.add_remote(session, "right", "ckan", ckan.url, key=TOKEN)
    right = run(remotes.test_connection(database, "right"))
    assert right.authenticated and right.create and right.datasets == 3


def adapter_for(url: str) -> CkanAdapter:
    adapter = registry.open_adapter(
        NAME, "ckan", url, TOKEN, options=HttpOptions(timeout=10, backoff=0.01)
    )
    assert isinstance(adapter, CkanAdapter)
    return adapter


def test_a_portal_edit_made_after_the_read_is_not_overwritten(ckan: Ckan) -> None:
    ids = seed(ckan.portal)

    async def go() -> Any:
        adapter = adapter_for(ckan.url)
        async with adapter.http:
            before = (await adapter.fetch(ids["bins-collected"])).record
            ckan.portal.edit(ids["bins-collected"], title="Changed on the portal")
            return await adapter.update(ids["bins-collected"], before, {**before, "title": "Mine"})

    with pytest.raises(PortalConflict, match="changed on the portal since it was read"):
        run(go())
    assert ckan.portal.get(ids["bins-collected"])["title"] == "Changed on the portal"
    assert not ckan.faults.requests("POST", f"{ACTION}package_patch")


def test_validation_errors_come_back_as_ckan_says_them(ckan: Ckan) -> None:
    seed(ckan.portal)
    answer = httpx.post(
        f"{ckan.url}{ACTION}package_create",
        json={"name": "bins-collected", "owner_org": "council", "tags": [{"name": "a/b"}]},
        headers={"Authorization": TOKEN},
    )
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["__type"] == "Validation Error"
    assert error["name"] == ["That URL is already in use."]
    assert "tags" in error
    missing = httpx.get(f"{ckan.url}{ACTION}package_show", params={"id": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error"] == {"__type": "Not Found Error", "message": "Not found"}


def test_a_create_cut_off_mid_push_is_adopted_not_duplicated(
    database: Database, ckan: Ckan, remote: str
) -> None:
    pulled(database, ckan, remote)
    with database.transaction() as session:
        record = datasets.create_dataset(session, make_record(title="Potholes"), author=AUTHOR)
    ckan.faults.add(Fault("drop", method="POST", path=f"{ACTION}package_create"))
    _plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None and not result.ok
    name = f"potholes-{record['id']}"
    assert ckan.portal.get(name)["title"] == "Potholes"  # made there, answer lost
    plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None and result.ok, result
    assert any("adopted" in note for item in plan.items for note in item.notes)
    assert [p["name"] for p in ckan.portal.active()].count(name) == 1
    assert len(ckan.faults.requests("POST", f"{ACTION}package_create")) == 1
    assert_same(database, ckan.portal)


def test_import_and_sync_previews_report_the_same_losses(
    database: Database, ckan: Ckan, remote: str, tmp_path: Path
) -> None:
    """One record, two previews: a push to a CKAN portal, and an import of the same dataset
    from our server's CKAN output, name the same fields CKAN cannot carry."""
    with database.transaction() as session:
        record = datasets.create_dataset(
            session,
            make_record(
                title="Potholes filled",
                masthead="roads",
                nextReviewDate="2030-01-15",
                state="published",
                embargoUntil="2999-01-01",
            ),
            author=AUTHOR,
        )
    plan = run(engine.plan_push(database, remote, options=FAST))
    pushed = sorted(i.field for i in plan.report.issues if i.dataset == record["id"])

    path = tmp_path / "ckan.json"
    with path.open("wb") as sink:
        rows = export_query.iter_datasets(database, OWNER)
        write_to(sink, ckan_format.package_list_response(rows, base_url="https://cat.example"))
    imported = plan_import(database, path, on_existing=OnExisting.UPDATE)
    (item,) = imported.items
    assert item.dataset_id == record["id"]
    # The push also judges the licence against this portal's register, which lacks it.
    assert sorted(loss.field for loss in item.losses) == [f for f in pushed if f != "licence/url"]
    assert pushed == ["embargoUntil", "licence/url", "masthead", "nextReviewDate"]
    assert {loss.reason for loss in item.losses if loss.field != "embargoUntil"} == {
        "not carried by CKAN"
    }
