"""Sync against a CKAN portal that behaves as CKAN 2.10/2.11 does (tests/fakes/ckan.py): one test
per finding of issue 11, each of which failed on the code before it. The portal is asked
anonymously, as the public would, wherever the question is who may see a dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.models.database import Database
from app.services import datasets, history
from app.services.sync import engine
from app.services.sync.plan import KEEP_MINE, TAKE_THEIRS, WHOLE
from tests.conftest import AUTHOR, make_record
from tests.fakes.ckan import CkanPortal
from tests.fakes.faults import Fault
from tests.fakes.memory_keyring import MemoryKeyring
from tests.services.sync.conftest import FAST, local_ids, local_record, run
from tests.services.sync.test_ckan_sync import ACTION, Ckan, add_ckan_remote, linked, serve_ckan

FUTURE = "2999-01-01"


@pytest.fixture(name="ckan")
def ckan_portal() -> Iterator[Ckan]:
    yield from serve_ckan()


@pytest.fixture(name="remote")
def ckan_remote(database: Database, ckan: Ckan, memory_keyring: MemoryKeyring) -> str:
    return add_ckan_remote(database, ckan)


def anonymous_sees(ckan: Ckan, package_id: str) -> bool:
    answer = httpx.get(f"{ckan.url}{ACTION}package_show", params={"id": package_id})
    assert answer.status_code in (200, 403, 404), answer.text
    return answer.status_code == 200


def writes(ckan: Ckan) -> list[str]:
    return [
        s.path.rsplit("/", 1)[-1]
        for s in ckan.faults.log
        if s.method == "POST" and s.path.rsplit("/", 1)[-1].startswith("package_")
    ]


def create_here(database: Database, **fields: Any) -> dict[str, Any]:
    with database.transaction() as session:
        record: dict[str, Any] = datasets.create_dataset(
            session, make_record(**fields), author=AUTHOR
        )
    return record


def edit_here(database: Database, dataset_id: str, **changes: Any) -> None:
    with database.transaction() as session:
        record = datasets.get_record(session, dataset_id)
        record.update(changes)
        datasets.update_dataset(session, dataset_id, record, author=AUTHOR)


def push(database: Database, remote: str, **resolutions: Any) -> Any:
    plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None
    return plan, result


def package_of(ckan: Ckan, database: Database, dataset_id: str) -> dict[str, Any]:
    remote_id = {d: r for r, d in linked(database).items()}[dataset_id]
    return ckan.portal.get(remote_id)


# -- (a) identity is never guessed ------------------------------------------------------------


def test_a_taken_name_is_an_error_with_a_suggestion_and_nothing_is_written(
    database: Database, ckan: Ckan, remote: str
) -> None:
    mine = create_here(database, title="Potholes", state="published")
    added = ckan.portal.add_package(
        {"name": f"potholes-{mine['id']}", "title": "Someone else's", "owner_org": "council"}
    )
    theirs = ckan.portal.get(added["id"])
    for _attempt in range(2):  # the second push must not adopt it by its name either
        ckan.faults.clear_log()
        _plan, result = push(database, remote)
        (failure,) = result.failures
        assert "is taken on the portal" in failure.message
        assert f"potholes-{mine['id']}-2" in failure.message  # a free name, checked
        assert writes(ckan) == ["package_create"]  # refused: nothing written
        assert ckan.portal.get(theirs["id"]) == theirs
        assert [p["id"] for p in ckan.portal.active()] == [theirs["id"]]


def test_a_lost_create_answer_then_a_retitle_is_found_by_its_marker(
    database: Database, ckan: Ckan, remote: str
) -> None:
    mine = create_here(database, title="Potholes", state="published")
    ckan.faults.add(Fault("drop", method="POST", path=f"{ACTION}package_create"))
    _plan, result = push(database, remote)
    assert not result.ok
    edit_here(database, mine["id"], title="Potholes filled in 2024")
    plan, result = push(database, remote)
    assert result.ok, result
    assert any("adopted" in note for item in plan.items for note in item.notes)
    (package,) = ckan.portal.active()
    assert package["title"] == "Potholes filled in 2024"
    assert len(ckan.faults.requests("POST", f"{ACTION}package_create")) == 1
    pull_plan, pull_result = run(engine.pull(database, remote, options=FAST))
    assert pull_result.ok and pull_plan.count("local", "create") == 0
    assert local_ids(database) == [mine["id"]]


# -- (b) nothing becomes more public than here ---------------------------------------------


def test_draft_private_and_embargoed_datasets_stay_hidden_until_public_here(
    database: Database, ckan: Ckan, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = create_here(database, title="Draft", state="draft")
    private = create_here(database, title="Private", state="published", sharing="private")
    embargoed = create_here(
        database, title="Embargoed", state="published", embargoUntil="2030-06-01"
    )
    public = create_here(database, title="Public", state="published")
    plan = run(engine.plan_push(database, remote, options=FAST))
    said = {(i.dataset, i.field): i.reason for i in plan.report.issues}
    assert "kept private there until published" in said[(draft["id"], "state")]
    assert "kept private until the day passes" in said[(embargoed["id"], "embargoUntil")]
    _plan, result = push(database, remote)
    assert result.ok, result
    seen = {
        r["title"]: anonymous_sees(ckan, package_of(ckan, database, r["id"])["id"])
        for r in (draft, private, embargoed, public)
    }
    assert seen == {"Draft": False, "Private": False, "Embargoed": False, "Public": True}
    # Nothing changed: the next push sends nothing.
    ckan.faults.clear_log()
    plan, result = push(database, remote)
    assert plan.is_empty and writes(ckan) == []
    # Published here, and the embargo passes: the next push opens them.
    edit_here(database, draft["id"], state="published")
    for where in ("app.services.mappings", "app.services.sync.planning"):
        monkeypatch.setattr(f"{where}.today_iso", lambda: "2030-06-02")
    _plan, result = push(database, remote)
    assert result.ok, result
    assert anonymous_sees(ckan, package_of(ckan, database, draft["id"])["id"])
    assert anonymous_sees(ckan, package_of(ckan, database, embargoed["id"])["id"])
    assert not anonymous_sees(ckan, package_of(ckan, database, private["id"])["id"])


def test_a_published_dataset_embargoed_or_unpublished_later_is_hidden_on_the_next_push(
    database: Database, ckan: Ckan, remote: str
) -> None:
    first = create_here(database, title="First", state="published")
    second = create_here(database, title="Second", state="published")
    push(database, remote)
    assert anonymous_sees(ckan, package_of(ckan, database, first["id"])["id"])
    edit_here(database, first["id"], embargoUntil=FUTURE)
    edit_here(database, second["id"], state="draft")
    plan, result = push(database, remote)
    assert result.ok, result
    assert plan.count("remote", "update") == 2
    for record in (first, second):
        package = package_of(ckan, database, record["id"])
        assert package["private"] is True
        assert not anonymous_sees(ckan, package["id"])


# -- (c) deletions both ways, shown first ---------------------------------------------------


def pulled_one(database: Database, ckan: Ckan, remote: str) -> tuple[str, str]:
    package = ckan.portal.add_package(
        {"name": "bins", "title": "Bins", "owner_org": "council", "groups": []}
    )
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    return package["id"], linked(database)[package["id"]]


def test_a_package_deleted_there_is_previewed_then_deleted_here_restorably(
    database: Database, ckan: Ckan, remote: str
) -> None:
    package_id, dataset_id = pulled_one(database, ckan, remote)
    ckan.portal.delete(package_id)
    plan = run(engine.plan_pull(database, remote, options=FAST))
    (item,) = plan.items
    assert item.local == "delete" and "deleted on the remote" in item.notes
    assert local_ids(database) == [dataset_id]  # a preview writes nothing
    result = run(engine.apply(database, plan, options=FAST))
    assert result.local_deleted == [dataset_id] and local_ids(database) == []
    with database.transaction() as session:
        before = next(v for v in history.list_versions(session, dataset_id) if v.action != "delete")
        datasets.restore_version(session, before.pk, author=AUTHOR)
    assert local_ids(database) == [dataset_id]
    # ... and it is not fetched again: the next pull reads nothing.
    ckan.faults.clear_log()
    plan = run(engine.plan_pull(database, remote, options=FAST))
    assert not ckan.faults.requests("GET", f"{ACTION}package_show")


@pytest.mark.parametrize("choice", ["mine", "theirs"])
def test_an_edit_here_to_a_package_deleted_there_is_a_conflict_on_pull(
    database: Database, ckan: Ckan, remote: str, choice: str
) -> None:
    package_id, dataset_id = pulled_one(database, ckan, remote)
    edit_here(database, dataset_id, title="Bins, edited here")
    ckan.portal.delete(package_id)
    plan = run(engine.plan_pull(database, remote, options=FAST))
    (item,) = plan.items
    assert [c.unit for c in item.conflicts] == [WHOLE]
    resolution = KEEP_MINE if choice == "mine" else TAKE_THEIRS
    result = run(engine.apply(database, plan, {(item.key, WHOLE): resolution}, options=FAST))
    assert result.ok, result
    if choice == "theirs":
        assert local_ids(database) == []
        return
    assert local_ids(database) == [dataset_id]
    _plan, result = push(database, remote)  # keep mine: created there again
    assert result.ok and result.remote_created == [dataset_id]
    (again,) = ckan.portal.active()
    assert again["id"] != package_id and again["title"] == "Bins, edited here"


@pytest.mark.parametrize("choice", ["mine", "theirs"])
def test_an_edit_here_to_a_package_deleted_there_is_a_conflict_on_push(
    database: Database, ckan: Ckan, remote: str, choice: str
) -> None:
    package_id, dataset_id = pulled_one(database, ckan, remote)
    edit_here(database, dataset_id, title="Bins, edited here")
    ckan.portal.delete(package_id)
    plan = run(engine.plan_push(database, remote, options=FAST))
    (item,) = plan.items
    assert [c.unit for c in item.conflicts] == [WHOLE]
    resolution = KEEP_MINE if choice == "mine" else TAKE_THEIRS
    result = run(engine.apply(database, plan, {(item.key, WHOLE): resolution}, options=FAST))
    assert result.ok, result
    if choice == "mine":
        (again,) = ckan.portal.active()
        assert again["title"] == "Bins, edited here" and again["id"] != package_id
        assert linked(database) == {again["id"]: dataset_id}
        return
    assert ckan.portal.active() == []
    pull_plan = run(engine.plan_pull(database, remote, options=FAST))
    (pulled,) = pull_plan.items
    assert pulled.local == "delete" and not pulled.conflicts
    run(engine.apply(database, pull_plan, options=FAST))
    assert local_ids(database) == []


def test_a_delete_here_is_previewed_then_deleted_there(
    database: Database, ckan: Ckan, remote: str
) -> None:
    package_id, dataset_id = pulled_one(database, ckan, remote)
    with database.transaction() as session:
        datasets.delete_dataset(session, dataset_id, author=AUTHOR)
    plan = run(engine.plan_push(database, remote, options=FAST))
    (item,) = plan.items
    assert item.remote == "delete"
    assert ckan.portal.get(package_id)["state"] == "active"
    result = run(engine.apply(database, plan, options=FAST))
    assert result.remote_deleted == [dataset_id]
    assert ckan.portal.get(package_id)["state"] == "deleted"
    assert linked(database) == {}


# -- (d) patch only what changed, down to the resource -------------------------------------


def rich_package(portal: CkanPortal) -> dict[str, Any]:
    return portal.add_package(
        {
            "name": "roads",
            "title": "Roads",
            "owner_org": "council",
            "author": "Highways",
            "url": "https://council.example/roads",
            "version": "2.1",
            "extras": [{"key": "frequency", "value": "monthly"}],
            "resources": [
                {
                    "name": "Roads 2024",
                    "url": "https://data.example/roads.csv",
                    "format": "CSV",
                    "mimetype": "text/csv",
                    "hash": "md5:2cdf3a47738b93492906e3ad7e415d1a",
                    "schema": "https://schemas.example/roads.json",
                    "encoding": "utf-8",
                },
                {
                    "name": "Roads API",
                    "url": "https://api.example/roads",
                    "format": "JSON",
                    "resource_type": "api",
                    "mimetype": "application/json",
                },
                {
                    "name": "Roads archive",
                    "url": "https://data.example/roads.zip",
                    "hash": "sha256:" + "ab" * 32,
                    "resource_type": "file.upload",
                },
            ],
        }
    )


def test_a_resource_edit_patches_that_resource_and_keeps_every_other_field(
    database: Database, ckan: Ckan, remote: str
) -> None:
    package = rich_package(ckan.portal)
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    lost = {(i.field.split("/")[0], i.field.rsplit("/", 1)[-1]) for i in plan.report.issues}
    assert {("name", "name"), ("author", "author"), ("url", "url"), ("version", "version")} <= lost
    assert ("resources", "mimetype") in lost and ("resources", "resource_type") in lost
    dataset_id = linked(database)[package["id"]]
    record = local_record(database, dataset_id)
    api = next(cid for cid, r in record["resources"].items() if r["title"] == "Roads API")
    record["resources"][api]["title"] = "Roads API (v2)"
    record["custom"] = {**record["custom"], "coverage": "borough"}
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, record, author=AUTHOR)
    ckan.faults.clear_log()
    _plan, result = push(database, remote)
    assert result.ok, result
    assert writes(ckan) == ["package_patch"]
    after = ckan.portal.get(package["id"])
    before_resources = {r["id"]: r for r in package["resources"]}
    for resource in after["resources"]:
        old = before_resources[resource["id"]]
        if resource["name"] == "Roads API (v2)":
            assert {k: v for k, v in resource.items() if k != "name"} == {
                k: v for k, v in old.items() if k != "name"
            }
        else:
            assert resource == old  # untouched, to the last key
        assert not any(k.startswith("catalogue_desk") for k in resource)
    assert after["extras"] == [
        {"key": "coverage", "value": "borough"},
        {"key": "frequency", "value": "monthly"},
    ] or sorted(e["key"] for e in after["extras"]) == ["coverage", "frequency"]
    assert (after["author"], after["url"], after["version"]) == (
        "Highways",
        "https://council.example/roads",
        "2.1",
    )


# -- (e) settle on the portal's normal form -------------------------------------------------


def test_a_second_push_sends_nothing_and_a_pull_after_a_push_fetches_nothing(
    database: Database, ckan: Ckan, remote: str
) -> None:
    create_here(
        database,
        title="Potholes",
        state="published",
        tags=["roads", "Potholes", "asphalt"],
        topics=["transport", "no-such-group"],
        licence={"url": "https://example.org/own-licence", "title": "Own licence"},
        resources={
            "k93": {
                "title": "Potholes",
                "url": "https://data.example/p.geojson",
                "format": "geojson",
                "order": 0,
            },
        },
    )
    _plan, result = push(database, remote)
    assert result.ok, result
    ckan.faults.clear_log()
    plan, result = push(database, remote)
    assert plan.is_empty, plan.summary()
    assert writes(ckan) == []
    ckan.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert plan.is_empty and result.ok
    assert plan.fetched == 0 and not ckan.faults.requests("GET", f"{ACTION}package_show")


# -- (f) take real catalogues as they are ---------------------------------------------------


def test_a_real_catalogues_package_is_taken_as_it_is_and_not_fetched_again(
    database: Database, ckan: Ckan, remote: str
) -> None:
    long_title = "Street works permits " * 30
    package = ckan.portal.add_package(
        {
            "name": "permits",
            "title": long_title,
            "owner_org": "council",
            "resources": [
                {"id": "legacy-7", "url": "https://data.example/permits-2024.csv"},
                {"url": "ftp://ftp.example.org/permits.zip", "name": "Archive"},
                {"url": "https://data.example/p.csv", "name": "P", "hash": "sha256:" + "cd" * 32},
            ],
        }
    )
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    dataset_id = linked(database)[package["id"]]
    record = local_record(database, dataset_id)
    assert record["title"] == long_title.strip() and len(long_title) > 500
    by_title = {r["title"]: r for r in record["resources"].values()}
    assert sorted(by_title) == ["Archive", "P", "permits-2024.csv"]
    # The ftp:// URL and the sha256 hash are held here as CKAN holds them, nothing reported.
    assert by_title["Archive"]["url"] == "ftp://ftp.example.org/permits.zip"
    assert by_title["P"]["hash"] == "sha256:" + "cd" * 32
    fields = {i.field.split("/")[0] + "/" + i.field.rsplit("/", 1)[-1] for i in plan.report.issues}
    assert not {"title/title", "resources/url", "resources/hash"} & fields
    ckan.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert plan.is_empty and plan.fetched == 0
    # A push of an edit elsewhere leaves the portal's title, URL and hash as they are.
    edit_here(database, dataset_id, description="<p>Permits.</p>")
    _plan, result = push(database, remote)
    assert result.ok, result
    after = ckan.portal.get(package["id"])
    assert after["title"] == long_title and after["notes"] == "<p>Permits.</p>"
    assert [r["url"] for r in after["resources"]] == [r["url"] for r in package["resources"]]
    assert after["resources"][2]["hash"] == "sha256:" + "cd" * 32


# -- (g) different custom keys edited on each side merge ------------------------------------


def test_different_custom_fields_edited_on_each_side_merge(
    database: Database, ckan: Ckan, remote: str
) -> None:
    package = ckan.portal.add_package(
        {
            "name": "bins",
            "title": "Bins",
            "owner_org": "council",
            "extras": [{"key": "frequency", "value": "weekly"}, {"key": "unit", "value": "Waste"}],
        }
    )
    run(engine.pull(database, remote, options=FAST))
    dataset_id = linked(database)[package["id"]]
    ckan.portal.edit(
        package["id"],
        extras=[{"key": "frequency", "value": "daily"}, {"key": "unit", "value": "Waste"}],
    )
    edit_here(database, dataset_id, custom={"frequency": "weekly", "unit": "Street cleaning"})
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert not plan.conflicts and result.ok, plan.summary()
    assert local_record(database, dataset_id)["custom"] == {
        "frequency": "daily",
        "unit": "Street cleaning",
    }
    _plan, result = push(database, remote)
    assert result.ok, result
    extras = {e["key"]: e["value"] for e in ckan.portal.get(package["id"])["extras"]}
    assert extras == {"frequency": "daily", "unit": "Street cleaning"}


def test_a_package_we_cannot_hold_is_listed_once_and_the_pull_moves_past_it(
    database: Database, ckan: Ckan, remote: str
) -> None:
    bad = ckan.portal.add_package(
        {"name": "bad", "title": "Bad", "owner_org": "council", "maintainer_email": "waste team"}
    )
    good = ckan.portal.add_package({"name": "good", "title": "Good", "owner_org": "council"})
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result  # the pull lands, and its listing token is kept
    assert plan.count("local", "create") == 1
    (line,) = [i for i in plan.report.issues if i.dataset == bad["id"] and i.field == "*"]
    assert "cannot be held here" in line.reason and "contact.email" in line.reason
    assert list(linked(database)) == [good["id"]]
    # Something else changes there: the listing is read again, the refused one is not.
    ckan.portal.edit(good["id"], title="Good, edited")
    ckan.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok and result.local_updated
    # Read by id (package_show, or the batched package_search by id): the good one only.
    reads = ckan.faults.requests("GET", f"{ACTION}package_show")
    reads += ckan.faults.requests("POST", f"{ACTION}package_search")
    asked = " ".join(s.query + s.body.decode() for s in reads)
    assert good["id"] in asked and bad["id"] not in asked
    assert any(i.dataset == bad["id"] for i in plan.report.issues)  # still said, not fetched
    # Once it changes there into something we can hold, it comes.
    ckan.portal.edit(bad["id"], maintainer_email="waste@example.org")
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok and plan.count("local", "create") == 1
    assert sorted(linked(database)) == sorted([good["id"], bad["id"]])
