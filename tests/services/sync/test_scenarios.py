"""One scenario suite over the three portal kinds (issue 11): the same story told to DataPress,
Opendatasoft and CKAN, each a real fake portal on loopback, asked anonymously where the question
is who may see a dataset. The stories: leak, embargo passing and later, delete there, partial
resource edit, lost create answer, collision, a bad answer to one dataset's read (cut JSON,
garbled JSON or compressed body, a proxy's HTML page) and a 429. Where a portal's API cannot do
a step, the test is skipped and says why; where an adapter does not yet do what the scenario
asks, it is an xfail (strict) naming the behaviour, so the day it is fixed the suite says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.models import SyncLink
from app.models.database import Database
from app.services import datasets
from app.services.sync import engine, remotes
from tests.conftest import AUTHOR, make_record
from tests.fakes.ckan import CkanPortal
from tests.fakes.datapress import FakeDataPress
from tests.fakes.faults import Fault, FaultKind, Faults
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.opendatasoft import OdsPortal
from tests.services.sync.conftest import FAST, local_ids, local_record, run

REMOTE = "portal"
ACTION = "/api/3/action/"
KINDS = ("datapress", "opendatasoft", "ckan")
FILES = (
    ("Roads 2024", "https://data.example/roads.csv"),
    ("Roads 2023", "https://data.example/r.csv"),
)


@dataclass
class Portal:
    """What a scenario needs of a portal kind, over its fake."""

    kind: str
    url: str
    key: str
    faults: Faults
    can_create: bool
    create_path: str  # the request a create starts with (a lost answer is dropped there)
    seed: Callable[[str], str]  # title -> remote id of a public dataset with FILES
    visible: Callable[[str], bool]  # remote id -> whether an anonymous caller may read it
    files: Callable[[str], list[dict[str, Any]]]  # remote id -> its files as the portal holds them
    delete: Callable[[str], None]  # remote id -> deleted there by someone else
    count: Callable[[], int]  # datasets the portal holds
    # remote id, kind ("malformed", "garbled", "html") -> the faults that make every read of
    # that one dataset answer so (and only that one)
    bad_read: Callable[[str, FaultKind], list[Fault]]
    # remote id -> a 429 the portal answers once to a request the pull of that dataset makes,
    # as this portal's kind says when to come back
    limit: Callable[[str], Fault]
    # name -> a dataset someone else made under the name our create would take, and a way to
    # read its title later
    take_name: Callable[[str], Callable[[], str]] | None = None
    cannot: dict[str, str] = field(default_factory=dict)  # scenario -> why the API cannot


def slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def _anonymous(url: str) -> bool:
    status = httpx.get(url).status_code
    assert status in (200, 401, 403, 404), status
    return status == 200


def ckan_portal() -> Iterator[Portal]:
    portal = CkanPortal()
    portal.add_organization("council")
    portal.add_user("editor", token="tok-editor", orgs={"council": "editor"})
    with portal.serve() as server:

        def seed(title: str) -> str:
            resources = [{"name": name, "url": url, "format": "CSV"} for name, url in FILES]
            resources[1]["mimetype"] = "text/csv"  # a field the mapping does not carry
            package = portal.add_package(
                {
                    "name": slug(title),
                    "title": title,
                    "owner_org": "council",
                    "resources": resources,
                }
            )
            return str(package["id"])

        def bad_read(rid: str, kind: FaultKind) -> list[Fault]:
            # The batched read (package_search by id) fails as a whole, then this package's own
            # package_show keeps failing: only this package is unreadable.
            return [
                Fault(kind, method="POST", path=f"{ACTION}package_search", times=None),
                Fault(kind, path=f"{ACTION}package_show", query=f"id={rid}", times=None),
            ]

        def take_name(name: str) -> Callable[[], str]:
            theirs = portal.add_package({"name": name, "title": "Theirs", "owner_org": "council"})
            return lambda: str(portal.get(theirs["id"])["title"])

        yield Portal(
            "ckan",
            server.url,
            "tok-editor",
            server.faults,
            True,
            f"{ACTION}package_create",
            seed,
            lambda rid: _anonymous(f"{server.url}/api/3/action/package_show?id={rid}"),
            lambda rid: list(portal.get(rid)["resources"]),
            portal.delete,
            lambda: len(portal.active()),
            bad_read,
            lambda rid: Fault("429", method="POST", path=f"{ACTION}package_search", retry_after=1),
            take_name,
        )


def datapress_portal(tmp_path: Path) -> Iterator[Portal]:
    with FakeDataPress(tmp_path / "datapress.sqlite") as portal:

        def seed(title: str) -> str:
            files = {
                f"k1{n}": {"title": name, "url": url, "order": n}
                for n, (name, url) in enumerate(FILES)
            }
            return portal.add(title=title, resources=files)

        no_create = "DataPress's API (seed 002) cannot create datasets"
        yield Portal(
            "datapress",
            portal.url,
            portal.key,
            portal.faults,
            False,
            "",
            seed,
            lambda rid: _anonymous(f"{portal.url}/api/dataset/{rid}"),
            lambda rid: sorted(portal.record(rid)["resources"].values(), key=lambda r: r["order"]),
            portal.delete,
            lambda: len(portal.ids()),
            lambda rid, kind: [Fault(kind, path=f"/api/dataset/{rid}", times=None)],
            lambda rid: Fault("429", path=f"/api/dataset/{rid}", retry_after=1),
            cannot={"leak": no_create, "lost_create": no_create, "collision": no_create},
        )


def ods_portal() -> Iterator[Portal]:
    portal = OdsPortal()
    everything = {"create_dataset", "edit_dataset", "publish_dataset", "manage_dataset",
                  "explore_restricted_dataset"}  # fmt: skip
    portal.add_user("louise", key="k-louise", permissions=everything)
    with portal.serve() as server:

        def seed(title: str) -> str:
            uid = portal.add_dataset(slug(title), title=title)
            for name, url in FILES:
                portal.add_resource(uid, name, url)
            portal.publish_now(uid)
            return slug(title)

        def bad_read(rid: str, kind: FaultKind) -> list[Fault]:
            # A published dataset's metas come with the listing; its resources are its own read.
            path = f"/api/automation/v1.0/datasets/{portal.by_id(rid).uid}/resources"
            return [Fault(kind, path=path, times=None)]

        def limit(rid: str) -> Fault:
            # Seed 003: the Search API's 429 names its reset_time in the body, no Retry-After.
            path = "/api/datasets/1.0/search"
            return Fault("429", path=path, body="opendatasoft", retry_after=None, reset_in=1.0)

        def take_name(name: str) -> Callable[[], str]:
            uid = portal.add_dataset(name, published=True, title="Theirs")
            return lambda: str(portal.value(uid, "title"))

        def files(rid: str) -> list[dict[str, Any]]:
            return sorted(portal.by_id(rid).resources.values(), key=lambda r: str(r["title"]))

        yield Portal(
            "opendatasoft",
            server.url,
            "k-louise",
            server.faults,
            True,
            "/api/automation/v1.0/datasets/",
            seed,
            lambda rid: _anonymous(f"{server.url}/api/datasets/1.0/{rid}/"),
            files,
            lambda rid: portal.delete(portal.by_id(rid).uid),
            lambda: len(portal.datasets),
            bad_read,
            limit,
            take_name,
        )


@pytest.fixture(params=KINDS)
def portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    if request.param == "ckan":
        yield from ckan_portal()
    elif request.param == "datapress":
        yield from datapress_portal(tmp_path)
    else:
        yield from ods_portal()


@pytest.fixture
def remote(database: Database, portal: Portal, memory_keyring: MemoryKeyring) -> str:
    with database.transaction() as session:
        remotes.add_remote(session, REMOTE, portal.kind, portal.url, key=portal.key)
    return REMOTE


def can(portal: Portal, scenario: str) -> None:
    if scenario in portal.cannot:
        pytest.skip(portal.cannot[scenario])


def missing(request: pytest.FixtureRequest, portal: Portal, kinds: dict[str, str]) -> None:
    """Mark a behaviour the adapter of this kind lacks: the test still runs, and a fix turns
    it red (strict) so the mark goes."""
    if portal.kind in kinds:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=kinds[portal.kind]))


def linked(database: Database) -> dict[str, str]:
    with database.read() as session:
        rows = session.execute(select(SyncLink.remote_id, SyncLink.dataset_id)).all()
    return {str(r): d for r, d in rows if r}


def edit_here(database: Database, dataset_id: str, **changes: Any) -> None:
    with database.transaction() as session:
        record = datasets.get_record(session, dataset_id)
        record.update(changes)
        datasets.update_dataset(session, dataset_id, record, author=AUTHOR)


def create_here(database: Database, **fields: Any) -> str:
    with database.transaction() as session:
        return str(datasets.create_dataset(session, make_record(**fields), author=AUTHOR)["id"])


def pull(database: Database, remote: str) -> None:
    _plan, result = run(engine.pull(database, remote, options=FAST))
    assert result.ok, result


def push(database: Database, remote: str) -> Any:
    _plan, result = run(engine.push(database, remote, options=FAST))
    assert result is not None
    return result


# -- the scenarios ----------------------------------------------------------------------------


def test_leak_nothing_unpublished_is_shown_to_the_public(
    database: Database, portal: Portal, remote: str
) -> None:
    can(portal, "leak")
    ids = {
        "draft": create_here(database, title="Draft", state="draft"),
        "private": create_here(database, title="Private", state="published", sharing="private"),
        "embargoed": create_here(
            database, title="Embargoed", state="published", embargoUntil="2999-01-01"
        ),
        "public": create_here(database, title="Public", state="published"),
    }
    result = push(database, remote)
    assert result.ok, result
    remote_of = {d: r for r, d in linked(database).items()}
    seen = {name: portal.visible(remote_of[i]) for name, i in ids.items() if i in remote_of}
    assert not any(v for k, v in seen.items() if k != "public"), seen
    assert seen.get("public") is True


def test_embargo_passing_opens_the_dataset_on_the_next_push(
    database: Database, portal: Portal, remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    can(portal, "leak")
    dataset_id = create_here(
        database, title="Embargoed", state="published", embargoUntil="2030-06-01"
    )
    assert push(database, remote).ok
    remote_id = {d: r for r, d in linked(database).items()}[dataset_id]
    assert not portal.visible(remote_id)
    for where in ("app.services.mappings", "app.services.sync.planning"):
        monkeypatch.setattr(f"{where}.today_iso", lambda: "2030-06-02")
    result = push(database, remote)  # nothing was edited here: the day came
    assert result.ok, result
    assert portal.visible(remote_id)


def test_embargo_later_a_published_dataset_is_hidden_by_the_next_push(
    database: Database, portal: Portal, remote: str
) -> None:
    remote_id = portal.seed("Roads")
    pull(database, remote)
    assert portal.visible(remote_id)
    edit_here(database, linked(database)[remote_id], embargoUntil="2999-01-01")
    result = push(database, remote)
    assert result.ok, result
    assert not portal.visible(remote_id)


def test_delete_there_is_previewed_then_carried_here(
    database: Database, portal: Portal, remote: str
) -> None:
    remote_id = portal.seed("Roads")
    pull(database, remote)
    dataset_id = linked(database)[remote_id]
    portal.delete(remote_id)
    plan = run(engine.plan_pull(database, remote, options=FAST))
    assert [(i.dataset_id, i.local) for i in plan.items if i.local] == [(dataset_id, "delete")]
    assert local_ids(database) == [dataset_id]
    result = run(engine.apply(database, plan, options=FAST))
    assert result.local_deleted == [dataset_id] and local_ids(database) == []


def test_partial_resource_edit_leaves_the_other_resources_as_they_were(
    database: Database, portal: Portal, remote: str
) -> None:
    remote_id = portal.seed("Roads")
    pull(database, remote)
    before = portal.files(remote_id)
    dataset_id = linked(database)[remote_id]
    record = local_record(database, dataset_id)
    first = next(c for c, r in record["resources"].items() if r["title"] == FILES[0][0])
    record["resources"][first]["title"] = "Roads 2024 (final)"
    with database.transaction() as session:
        datasets.update_dataset(session, dataset_id, record, author=AUTHOR)
    result = push(database, remote)
    assert result.ok, result
    after = portal.files(remote_id)
    titles = [r.get("title") or r.get("name") for r in after]
    assert "Roads 2024 (final)" in titles
    untouched = [r for r in before if (r.get("title") or r.get("name")) == FILES[1][0]]
    assert untouched and untouched[0] in after  # the other file, to the last key


def test_lost_create_answer_then_a_retitle_makes_no_duplicate(
    database: Database, portal: Portal, remote: str
) -> None:
    can(portal, "lost_create")
    dataset_id = create_here(database, title="Potholes", state="published")
    portal.faults.add(Fault("drop", method="POST", path=portal.create_path))
    assert not push(database, remote).ok
    edit_here(database, dataset_id, title="Potholes filled")
    result = push(database, remote)
    assert result.ok, result
    assert portal.count() == 1
    pull(database, remote)
    assert local_ids(database) == [dataset_id]


def test_collision_a_taken_name_is_reported_and_nothing_is_overwritten(
    database: Database, portal: Portal, remote: str
) -> None:
    can(portal, "collision")
    dataset_id = create_here(database, title="Roads", state="published")
    assert portal.take_name is not None
    theirs = portal.take_name(f"roads-{dataset_id}")
    result = push(database, remote)
    assert not result.ok
    assert "taken" in result.failures[0].message and "free" in result.failures[0].message
    assert theirs() == "Theirs"
    result = push(database, remote)  # and the next push does not adopt it either
    assert not result.ok and theirs() == "Theirs"


@pytest.mark.parametrize("kind", ["malformed", "garbled", "html"])
def test_a_bad_answer_costs_one_dataset_not_the_pull(
    database: Database, portal: Portal, remote: str, kind: FaultKind
) -> None:
    roads, bridges = portal.seed("Roads"), portal.seed("Bridges")
    faults = portal.bad_read(bridges, kind)
    for fault in faults:
        portal.faults.add(fault)
    plan, result = run(engine.pull(database, remote, options=FAST))
    assert any(f.struck for f in faults)
    # The unreadable one is shown as skipped and counted a failure, so the next pull reads it.
    assert [i.remote_id for i in plan.items if i.state.skipped] == [bridges]
    assert not result.ok and len(result.failures) == 1
    assert list(linked(database)) == [roads]  # the rest of the pull landed
    assert len(local_ids(database)) == 1
    portal.faults.clear()
    pull(database, remote)
    assert sorted(linked(database)) == sorted([roads, bridges])
    assert len(local_ids(database)) == 2


def test_a_429_pauses_the_pull_until_the_time_it_names_then_it_lands(
    database: Database, portal: Portal, remote: str
) -> None:
    roads, bridges = portal.seed("Roads"), portal.seed("Bridges")
    fault = portal.faults.add(portal.limit(bridges))
    pull(database, remote)
    assert fault.struck == 1
    log = portal.faults.requests()
    (limited,) = [s for s in log if s.status == 429]
    # The request refused is asked again, and not before the time the 429 named (Retry-After:
    # 1 s, or Opendatasoft's reset_time: now + 1 s, to the millisecond).
    again = [
        s for s in log if s.at > limited.at and (s.path, s.query) == (limited.path, limited.query)
    ]
    assert again and min(s.at for s in again) >= limited.at + 0.9
    assert sorted(linked(database)) == sorted([roads, bridges])
