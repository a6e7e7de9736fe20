"""Sync with a DataPress portal (seeds 001/002): a real fake portal on loopback, real catalogues."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from app.models.database import Database
from app.services import datasets, history
from app.services.progress import Cancelled, Progress
from app.services.sync import engine
from app.services.sync.adapter import MalformedAnswer, PortalServerError
from app.services.sync.plan import KEEP_MINE, TAKE_THEIRS, WHOLE, merged
from tests.fakes.datapress import FakeDataPress, SnapshotDataPress
from tests.fakes.faults import Fault
from tests.fakes.server import FakeServer
from tests.services.sync.conftest import FAST, assert_same, local_ids, local_record, run

RESOURCES = {
    "k93": {
        "title": "FOI requests received 2020-25",
        "url": "https://data.example/foi.csv",
        "format": "csv",
        "size": 1337303,
        "hash": "2cdf3a47738b93492906e3ad7e415d1a",
        "timeFrame": {"gte": "2020-01", "lte": "2024-11"},
        "order": 0,
    }
}
LINKS = {"el3": {"title": "TfL Open Data", "url": "https://tfl.gov.uk/", "order": 1}}
HANG = 600.0  # s: a client timeout no passing test comes near


def seed_portal(portal: FakeDataPress) -> list[str]:
    return [
        portal.add(title="Bins collected", resources=RESOURCES, links=LINKS),
        portal.add(title="Potholes", tags=["roads", "FOI"]),
        portal.add(title="Staff sickness", sharing="private"),
        portal.add(title="Draft budget", state="draft"),
    ]


def test_first_pull_brings_every_dataset_the_key_sees(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = seed_portal(portal)
    plan = run(engine.plan_pull(database, remote, options=FAST))
    assert plan.count("local", "create") == 4
    assert not plan.conflicts
    assert local_ids(database) == []  # nothing written by a plan
    result = run(engine.apply(database, plan, options=FAST))
    assert result.ok, result
    assert sorted(result.local_created) == sorted(ids)
    assert_same(database, portal)


def pulled(database: Database, portal: FakeDataPress, remote: str) -> list[str]:
    ids = seed_portal(portal)
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    return ids


def test_a_second_sync_with_nothing_changed_fetches_no_record(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    portal.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert plan.is_empty and result.ok
    assert plan.fetched == 0
    assert portal.faults.requests("GET", "/api/dataset/") == []
    assert [s.status for s in portal.faults.requests("GET", "/api/datasets/export.json")] == [304]
    # One edit on the portal: exactly that record is fetched.
    portal.edit(ids[1], title="Potholes filled")
    portal.faults.clear_log()
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert [s.path for s in portal.faults.requests("GET", "/api/dataset/")] == [
        f"/api/dataset/{ids[1]}"
    ]
    assert result.local_updated == [ids[1]]
    assert local_record(database, ids[1])["title"] == "Potholes filled"
    assert_same(database, portal)


def test_push_of_local_edits(database: Database, portal: FakeDataPress, remote: str) -> None:
    ids = pulled(database, portal, remote)
    record = local_record(database, ids[0])
    record["title"] = "Bins collected, by ward"
    record["tags"] = ["waste"]
    record["links"] = {}
    record["resources"]["n01"] = {
        "title": "Wards",
        "url": "https://data.example/wards.csv",
        "order": 2,
    }
    record["resources"]["k93"]["description"] = "Every request, by month"
    with database.transaction() as session:
        datasets.update_dataset(session, ids[0], record, author="me")
    plan = run(engine.plan_push(database, remote, options=FAST))
    assert plan.count("remote", "update") == 1
    item = next(i for i in plan.items if i.remote == "update")
    assert sorted(item.to_remote) == [
        "links/el3",
        "resources/k93",
        "resources/n01",
        "tags",
        "title",
    ]
    result = run(engine.apply(database, plan, options=FAST))
    assert result.ok, result
    assert result.remote_updated == [ids[0]]
    theirs = portal.record(ids[0])
    assert theirs["title"] == "Bins collected, by ward"
    assert theirs["links"] == {}
    assert theirs["resources"]["n01"]["url"] == "https://data.example/wards.csv"
    assert theirs["resources"]["k93"]["description"] == "Every request, by month"
    # The portal keeps updatedAt as the push set it: the local edit time (seed 002).
    assert theirs["updatedAt"] == local_record(database, ids[0])["updatedAt"]
    assert_same(database, portal)
    # Nothing left to do either way.
    assert run(engine.plan_push(database, remote, options=FAST)).is_empty
    assert run(engine.plan_pull(database, remote, options=FAST)).is_empty


def edit_local(database: Database, dataset_id: str, **changes: object) -> None:
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, dict(changes), author="me")


def test_a_conflict_overwrites_nothing_until_resolved(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    target = ids[1]
    edit_local(database, target, title="Potholes (ours)", tags=["roads", "FOI", "ours"])
    portal.edit(target, title="Potholes (theirs)", description="<p>Theirs</p>")
    plan = run(engine.plan_pull(database, remote, options=FAST))
    [(item, conflict)] = plan.conflicts
    assert (item.key, conflict.unit) == (target, "title")
    assert (conflict.base, conflict.local, conflict.remote) == (
        "Potholes",
        "Potholes (ours)",
        "Potholes (theirs)",
    )
    assert item.to_local == {"description": "<p>Theirs</p>"}
    result = run(engine.apply(database, plan, options=FAST))
    assert result.unresolved == [(target, "title")]
    # The one-sided change came; the conflicting field is untouched on both sides.
    mine = local_record(database, target)
    assert mine["title"] == "Potholes (ours)" and mine["description"] == "<p>Theirs</p>"
    assert portal.record(target)["title"] == "Potholes (theirs)"
    push_plan = run(engine.plan_push(database, remote, options=FAST))
    [(item, conflict)] = push_plan.conflicts
    assert conflict.unit == "title" and item.to_remote == {"tags": ["roads", "FOI", "ours"]}
    result = run(engine.apply(database, push_plan, options=FAST))
    assert result.unresolved == [(target, "title")]
    assert portal.record(target)["title"] == "Potholes (theirs)"
    assert portal.record(target)["tags"] == ["roads", "FOI", "ours"]
    assert local_record(database, target)["title"] == "Potholes (ours)"
    # Resolved with a merged value: a pull writes it here, the next push sends it there.
    plan = run(engine.plan_pull(database, remote, options=FAST))
    [(item, conflict)] = plan.conflicts
    result = run(
        engine.apply(database, plan, {(item.key, "title"): merged("Potholes (both)")}, options=FAST)
    )
    assert result.ok, result
    assert local_record(database, target)["title"] == "Potholes (both)"
    _plan, pushed = run(engine.push(database, remote, options=FAST))
    assert pushed is not None and pushed.ok and pushed.remote_updated == [target]
    assert portal.record(target)["title"] == "Potholes (both)"
    assert_same(database, portal)
    assert run(engine.plan_pull(database, remote, options=FAST)).is_empty


def test_conflict_resolutions_keep_mine_and_take_theirs(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    edit_local(database, ids[0], title="Mine 0")
    edit_local(database, ids[1], title="Mine 1")
    portal.edit(ids[0], title="Theirs 0")
    portal.edit(ids[1], title="Theirs 1")
    plan = run(engine.plan_push(database, remote, options=FAST))
    assert {(i.key, c.unit) for i, c in plan.conflicts} == {(ids[0], "title"), (ids[1], "title")}
    result = run(
        engine.apply(
            database,
            plan,
            {(ids[0], "title"): KEEP_MINE, (ids[1], "title"): TAKE_THEIRS},
            options=FAST,
        )
    )
    assert result.ok, result
    assert portal.record(ids[0])["title"] == "Mine 0"  # mine went out
    assert portal.record(ids[1])["title"] == "Theirs 1"  # theirs stays there ...
    assert local_record(database, ids[1])["title"] == "Mine 1"  # ... and comes with a pull
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert not plan.conflicts and result.ok
    assert local_record(database, ids[1])["title"] == "Theirs 1"
    assert_same(database, portal)


def test_a_remote_deletion_is_shown_then_applied(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    portal.delete(ids[2])
    plan = run(engine.plan_pull(database, remote, options=FAST))
    [item] = [i for i in plan.items if i.local]
    assert (item.dataset_id, item.local) == (ids[2], "delete")
    assert "deleted on the remote" in item.notes
    assert local_record(database, ids[2])  # the plan deleted nothing
    result = run(engine.apply(database, plan, options=FAST))
    assert result.local_deleted == [ids[2]]
    assert_same(database, portal)
    # Not lost: the deletion is a version in the history, restorable.
    with database.read() as session:
        versions = history.list_versions(session, ids[2])
    assert versions[0].action == "delete" and versions[0].author == "sync:portal"


def test_deleted_there_edited_here_is_a_conflict(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    edit_local(database, ids[0], title="Still needed here")
    portal.delete(ids[0])
    plan = run(engine.plan_pull(database, remote, options=FAST))
    [(_item, conflict)] = plan.conflicts
    assert conflict.unit == WHOLE and conflict.remote is None
    result = run(engine.apply(database, plan, options=FAST))
    assert result.unresolved == [(ids[0], WHOLE)]
    assert local_record(database, ids[0])["title"] == "Still needed here"
    # Keep mine: the dataset stays here, no longer linked to the portal.
    plan = run(engine.plan_pull(database, remote, options=FAST))
    result = run(engine.apply(database, plan, {(ids[0], WHOLE): KEEP_MINE}, options=FAST))
    assert result.ok and result.unlinked == [ids[0]]
    assert local_record(database, ids[0])["title"] == "Still needed here"
    assert run(engine.plan_pull(database, remote, options=FAST)).is_empty
    # A push reports it: DataPress cannot create it again.
    push_plan = run(engine.plan_push(database, remote, options=FAST))
    assert any(i.dataset == ids[0] and i.field == "*" for i in push_plan.report.issues)


def test_a_429_storm_is_waited_out(database: Database, portal: FakeDataPress, remote: str) -> None:
    seed_portal(portal)
    portal.faults.add(Fault("429", path="/api/dataset/", times=4, retry_after=1))
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result
    log = portal.faults.requests()
    refused = [n for n, seen in enumerate(log) if seen.status == 429]
    assert len(refused) == 4
    # Retry-After: 1 was respected: each refused request came again, a second later at least
    # (as the portal saw it: load only lengthens the wait).
    for n in refused:
        first = log[n]
        again = next(s for s in log[n + 1 :] if (s.method, s.path) == (first.method, first.path))
        assert again.at - first.at >= 1.0, first
    assert_same(database, portal)


def test_an_opendatasoft_style_429_body_is_understood(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    seed_portal(portal)
    portal.faults.add(
        Fault("429", path="/api/datasets/", retry_after=None, body="opendatasoft", reset_in=0.5)
    )
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok
    assert_same(database, portal)


def test_500s_then_success(database: Database, portal: FakeDataPress, remote: str) -> None:
    seed_portal(portal)
    portal.faults.add(Fault("500", path="/api/datasets/export.json", times=2))
    portal.faults.add(Fault("500", path="/api/dataset/", times=3))
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok
    assert len([s for s in portal.faults.requests() if s.status == 500]) == 5
    assert_same(database, portal)


def test_a_portal_that_stays_down_is_a_clear_error_and_nothing_is_written(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = seed_portal(portal)
    portal.faults.add(Fault("500", path=f"/api/dataset/{ids[1]}", times=None))
    with pytest.raises(PortalServerError) as caught:
        run(engine.pull(database, remote, options=FAST))
    assert f"dataset {ids[1]}" in caught.value.message
    assert local_ids(database) == []


def test_malformed_json_costs_that_dataset_and_the_rest_lands(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = seed_portal(portal)
    portal.faults.add(Fault("garbled", path=f"/api/dataset/{ids[1]}"))  # once: retried
    portal.faults.add(Fault("malformed", path=f"/api/dataset/{ids[2]}", times=None))
    plan, result = run(engine.pull(database, remote, options=FAST))
    [failure] = result.failures
    assert failure.key == f"remote:{ids[2]}"
    assert f"dataset {ids[2]}" in failure.message and "not valid JSON" in failure.message
    assert f"/api/dataset/{ids[2]}" in failure.message
    assert [i.key for i in plan.items if i.state.skipped] == [failure.key]
    assert sorted(local_ids(database)) == sorted(i for i in ids if i != ids[2])
    # Once the portal answers properly, the next pull brings the rest.
    portal.faults.clear()
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok
    assert_same(database, portal)


def test_malformed_export_is_a_clear_error(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    seed_portal(portal)
    portal.faults.add(Fault("malformed", path="/api/datasets/export.json", times=None))
    with pytest.raises(MalformedAnswer, match=r"export\.json"):
        run(engine.plan_pull(database, remote, options=FAST))


@pytest.mark.parametrize("handled", [True, False])
def test_a_push_cut_midway_resumes_without_duplicates(
    database: Database, portal: FakeDataPress, remote: str, handled: bool
) -> None:
    ids = pulled(database, portal, remote)
    for n, dataset_id in enumerate(ids):
        record = local_record(database, dataset_id)
        record["title"] = f"Edited {n}"
        record["resources"]["n01"] = {"title": "New file", "url": f"https://f.example/{n}.csv"}
        with database.transaction() as session:
            datasets.update_dataset(session, dataset_id, record, author="me")
    # The connection drops on the second PATCH and every one after it; with handled=True the
    # portal applied each of them before the cut (the client cannot know).
    portal.faults.add(Fault("drop", method="PATCH", skip=1, times=None, handle=handled))
    _plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None
    assert len(result.remote_updated) == 1 and len(result.failures) == 3
    assert all("connection" in f.message for f in result.failures)
    portal.faults.clear()
    portal.faults.clear_log()
    _plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None and result.ok, result
    patches = portal.faults.requests("PATCH")
    assert len(patches) == (0 if handled else 3)
    for n, dataset_id in enumerate(ids):
        theirs = portal.record(dataset_id)
        assert theirs["title"] == f"Edited {n}"
        assert sorted(theirs["resources"]) == sorted(
            local_record(database, dataset_id)["resources"]
        )
        with portal.database.read() as session:
            patched = [v for v in history.list_versions(session, dataset_id) if v.action == "patch"]
        assert len(patched) == 1  # each edit landed once
    assert_same(database, portal)
    assert run(engine.plan_push(database, remote, options=FAST)).is_empty
    assert run(engine.plan_pull(database, remote, options=FAST)).is_empty


def test_cancel_stops_a_pull_before_anything_is_written(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    seed_portal(portal)
    # The fetches get no answer until the test ends, and the client would wait for one.
    held = portal.faults.add(Fault("hold", path="/api/dataset/", times=None))
    patient = replace(FAST, http=replace(FAST.http, timeout=HANG))
    progress = Progress()

    async def cancel_when_held() -> None:
        while not held.holding:
            await asyncio.sleep(0.005)
        progress.cancel()

    async def main() -> None:
        canceller = asyncio.ensure_future(cancel_when_held())
        try:
            # Bounded only so that a cancel that waits for the answers fails rather than hangs.
            pull = engine.pull(database, remote, progress=progress, options=patient)
            await asyncio.wait_for(pull, HANG / 10)
        finally:
            await canceller

    with pytest.raises(Cancelled):
        run(main())
    assert local_ids(database) == []


def test_what_datapress_cannot_take_is_reported_not_sent(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    record = local_record(database, ids[0])
    record["resources"]["k93"]["url"] = "https://data.example/replaced.csv"
    record["resources"]["k93"]["title"] = "Renamed file"
    with database.transaction() as session:
        datasets.update_dataset(session, ids[0], record, author="me")
    _plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None and result.ok, result
    assert [(i.field, i.direction) for i in result.report.issues] == [("resources/k93/url", "push")]
    theirs = portal.record(ids[0])["resources"]["k93"]
    assert theirs["title"] == "Renamed file"
    assert theirs["url"] == "https://data.example/foi.csv"  # immutable on the portal


def test_a_remote_edit_between_preview_and_apply_is_not_overwritten(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    edit_local(database, ids[1], title="Ours")
    plan = run(engine.plan_push(database, remote, options=FAST))
    portal.edit(ids[1], title="Theirs, meanwhile")
    result = run(engine.apply(database, plan, options=FAST))
    [failure] = result.failures
    assert failure.key == ids[1] and "changed on the remote since the preview" in failure.message
    assert portal.record(ids[1])["title"] == "Theirs, meanwhile"
    [(_item, conflict)] = run(engine.plan_push(database, remote, options=FAST)).conflicts
    assert (conflict.local, conflict.remote) == ("Ours", "Theirs, meanwhile")


def test_a_local_edit_between_preview_and_apply_is_not_overwritten(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    for dataset_id in ids[:3]:
        portal.edit(dataset_id, description="<p>From the portal</p>")
    plan = run(engine.plan_pull(database, remote, options=FAST))
    edit_local(database, ids[1], description="<p>Typed here meanwhile</p>")
    result = run(engine.apply(database, plan, options=FAST))
    [failure] = result.failures
    assert "changed here since the preview" in failure.message
    assert local_record(database, ids[1])["description"] == "<p>Typed here meanwhile</p>"
    # The rest of the batch (FAST writes three datasets per transaction) went through.
    assert sorted(result.local_updated) == sorted([ids[0], ids[2]])
    for dataset_id in (ids[0], ids[2]):
        assert local_record(database, dataset_id)["description"] == "<p>From the portal</p>"
    [(_item, conflict)] = run(engine.plan_pull(database, remote, options=FAST)).conflicts
    assert conflict.unit == "description"


def test_the_snapshot_portal_answers_like_the_live_one(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    seed_portal(portal)
    snapshot = SnapshotDataPress(portal.database, portal.key)
    with FakeServer(snapshot.app) as server, httpx.Client(base_url=server.url) as http:
        live = httpx.get(f"{portal.url}/api/datasets/export.json", headers=auth(portal.key))
        frozen = http.get("/api/datasets/export.json", headers=auth(portal.key))
        assert frozen.status_code == 200
        assert _without_webpages(frozen.json()) == _without_webpages(live.json())
        etag = frozen.headers["etag"]
        again = {"If-None-Match": etag, **auth(portal.key)}
        assert http.get("/api/datasets/export.json", headers=again).status_code == 304
        assert len(http.get("/api/datasets/export.json").json()) == 2  # anonymous: public
        assert http.get("/api/datasets/export.json", headers=auth("nope")).status_code == 401
        for dataset_id in portal.ids():
            one = http.get(f"/api/dataset/{dataset_id}", headers=auth(portal.key))
            assert one.json() == portal.record(dataset_id)
        private = portal.ids()[2]
        assert http.get(f"/api/dataset/{private}").status_code == 403
        assert http.get("/api/dataset/zzzzz", headers=auth(portal.key)).status_code == 404


def auth(key: str) -> dict[str, str]:
    return {"Authorization": key}


def _without_webpages(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "webpage"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [strip(e) for e in entries]  # type: ignore[misc]


def test_a_merged_value_pushed_comes_home_with_the_next_pull(
    database: Database, portal: FakeDataPress, remote: str
) -> None:
    ids = pulled(database, portal, remote)
    edit_local(database, ids[0], title="Mine")
    portal.edit(ids[0], title="Theirs")
    plan = run(engine.plan_push(database, remote, options=FAST))
    result = run(engine.apply(database, plan, {(ids[0], "title"): merged("Both")}, options=FAST))
    assert result.ok, result
    assert portal.record(ids[0])["title"] == "Both"
    assert local_record(database, ids[0])["title"] == "Mine"  # a push writes there only
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert not plan.conflicts and result.ok
    assert local_record(database, ids[0])["title"] == "Both"
    assert run(engine.plan_push(database, remote, options=FAST)).is_empty
    assert_same(database, portal)
