"""The fake CKAN portal behaves as CKAN 2.10/2.11 does: each behaviour asked over HTTP, as a CKAN
client would (the sync tests trust these, so they are checked on their own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.ckan import CkanPortal

EDITOR = "tok-editor"
OUTSIDER = "tok-outsider"
ACTION = "/api/3/action/"


class Client:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, action: str, token: str | None = EDITOR, **body: Any) -> httpx.Response:
        headers = {"Authorization": token} if token else {}
        return httpx.post(f"{self.url}{ACTION}{action}", json=body, headers=headers)

    def get(self, action: str, token: str | None = EDITOR, **params: Any) -> httpx.Response:
        headers = {"Authorization": token} if token else {}
        return httpx.get(f"{self.url}{ACTION}{action}", params=params, headers=headers)

    def result(self, action: str, token: str | None = EDITOR, **body: Any) -> Any:
        answer = self.call(action, token, **body)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    def show(self, ident: str, token: str | None = EDITOR) -> httpx.Response:
        return self.get("package_show", token, id=ident)

    def search(self, token: str | None = EDITOR, **params: Any) -> dict[str, Any]:
        params = {"include_private": "true", "include_drafts": "true", **params}
        answer = self.get("package_search", token, **params)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["result"]
        return result


@pytest.fixture
def portal() -> CkanPortal:
    portal = CkanPortal()
    portal.add_organization("council")
    portal.add_organization("other")
    portal.add_group("environment")
    portal.add_user("editor", token=EDITOR, orgs={"council": "editor"})
    portal.add_user("outsider", token=OUTSIDER, orgs={"other": "editor"})
    return portal


@pytest.fixture
def client(portal: CkanPortal) -> Iterator[Client]:
    with portal.serve() as server:
        yield Client(server.url)


def create(client: Client, **fields: Any) -> dict[str, Any]:
    package: dict[str, Any] = client.result(
        "package_create", **{"name": "bins", "owner_org": "council", **fields}
    )
    return package


def test_delete_is_soft_members_still_see_it_others_are_refused(
    portal: CkanPortal, client: Client
) -> None:
    package = create(client, groups=[{"name": "environment"}])
    client.result("package_delete", id=package["id"])
    shown = client.show(package["id"])
    assert shown.status_code == 200
    deleted = shown.json()["result"]
    assert deleted["state"] == "deleted"
    assert deleted["groups"] == []  # the delete drops its group memberships
    assert deleted["metadata_modified"] == package["metadata_modified"]  # not bumped
    for token in (None, OUTSIDER):
        refused = client.show(package["id"], token)
        assert refused.status_code == 403
        assert refused.json()["error"]["__type"] == "Authorization Error"
    assert client.search()["count"] == 0


def test_a_new_package_may_take_the_name_of_a_deleted_one(client: Client) -> None:
    first = create(client)
    client.result("package_delete", id=first["id"])
    second = create(client)
    assert second["id"] != first["id"] and second["name"] == "bins"
    assert client.show("bins").json()["result"]["id"] == second["id"]
    assert client.show(first["id"]).json()["result"]["state"] == "deleted"


def test_create_by_an_editor_ignores_state_only_private_hides(client: Client) -> None:
    draft = create(client, state="draft")
    assert draft["state"] == "active" and draft["private"] is False
    assert client.show(draft["id"], token=None).status_code == 200  # public at once
    hidden = create(client, name="hidden", private=True)
    assert client.show(hidden["id"], token=None).status_code == 403
    assert client.show(hidden["id"], token=OUTSIDER).status_code == 403
    assert client.show(hidden["id"]).status_code == 200
    anonymous = client.search(token=None)
    assert [p["name"] for p in anonymous["results"]] == ["bins"]


def test_private_needs_an_organization(portal: CkanPortal, client: Client) -> None:
    portal.add_user("admin", token="tok-admin", sysadmin=True)
    answer = client.call("package_create", "tok-admin", name="loose", private=True)
    assert answer.status_code == 409
    assert answer.json()["error"]["private"] == ["Datasets with no organization can't be private."]
    # A sysadmin's state is kept (ignore_not_package_admin lets admins through).
    draft = client.result("package_create", "tok-admin", name="kept", state="draft")
    assert draft["state"] == "draft"


def resource_body(**fields: Any) -> dict[str, Any]:
    return {"url": "https://data.example/a.csv", **fields}


def test_patch_with_resources_replaces_the_whole_list(client: Client) -> None:
    package = create(
        client,
        resources=[
            resource_body(name="A", mimetype="text/csv", resource_type="api", schema="s1"),
            resource_body(name="B", url="https://data.example/b.csv"),
        ],
    )
    first, _second = package["resources"]
    patched = client.result(
        "package_patch", id=package["id"], resources=[{"id": first["id"], "name": "A2", "url": ""}]
    )
    (only,) = patched["resources"]  # B was not sent: deleted
    assert only["id"] == first["id"] and only["name"] == "A2"
    assert only["mimetype"] is None and only["resource_type"] is None  # not sent: cleared
    assert "schema" not in only  # its extra keys are what was sent
    # Without resources, package_patch leaves them alone.
    again = client.result("package_patch", id=package["id"], title="New title")
    assert [r["id"] for r in again["resources"]] == [first["id"]]


def test_update_replaces_the_package(client: Client) -> None:
    package = create(
        client,
        title="Bins",
        notes="Weekly",
        version="1.0",
        extras=[{"key": "a", "value": "1"}],
        tags=[{"name": "waste"}],
        resources=[resource_body(name="A")],
    )
    updated = client.result("package_update", id=package["id"], name="bins", title="Bins 2")
    assert updated["title"] == "Bins 2"
    assert not updated["notes"] and not updated["version"]  # not sent: cleared
    assert updated["extras"] == []
    assert [t["name"] for t in updated["tags"]] == ["waste"]  # lists not sent are kept
    assert len(updated["resources"]) == 1


def test_names_are_checked_as_ckan_does(client: Client) -> None:
    create(client)
    taken = client.call("package_create", name="bins", owner_org="council")
    assert taken.status_code == 409
    assert taken.json()["success"] is False
    assert taken.json()["error"] == {
        "__type": "Validation Error",
        "name": ["That URL is already in use."],
    }
    for bad in ("a", "Bins", "bins!", "x" * 101):
        answer = client.call("package_create", name=bad, owner_org="council")
        assert answer.status_code == 409, bad
        assert "name" in answer.json()["error"]
    assert client.call("package_create", name="x" * 100, owner_org="council").status_code == 200


def test_formats_are_normalised_and_tags_come_back_sorted(client: Client) -> None:
    package = create(
        client,
        tags=[{"name": "waste"}, {"name": "bins"}],
        resources=[
            resource_body(format="csv"),
            resource_body(format="geojson"),
            resource_body(format="Shapefile"),
        ],
    )
    assert [r["format"] for r in package["resources"]] == ["CSV", "GeoJSON", "Shapefile"]
    assert [t["name"] for t in package["tags"]] == ["bins", "waste"]


def test_search_gives_milliseconds_show_gives_microseconds(client: Client) -> None:
    package = create(client)
    shown = package["metadata_modified"]
    assert len(shown.split(".")[1]) == 6 and not shown.endswith("Z")
    (listed,) = client.search(fl="id,metadata_modified")["results"]
    assert listed["metadata_modified"] == shown[:23] + "Z"
    # A range on the millisecond the index holds: nothing is later than the listed value.
    later = client.search(
        rows=0,
        fq="metadata_modified:{" + listed["metadata_modified"].replace(":", "\\:") + " TO *]",
    )
    assert later["count"] == 0


def test_real_catalogue_resources_are_taken_as_they_are(client: Client) -> None:
    long_title = "A long title " * 50
    package = create(
        client,
        title=long_title,
        resources=[
            {"url": "ftp://ftp.example.org/pub/data.zip", "hash": "sha256:" + "ab" * 32},
            {"id": "legacy-0001", "name": "Legacy", "url": "https://data.example/l.csv"},
        ],
    )
    assert package["title"] == long_title and len(long_title) > 500
    nameless, legacy = package["resources"]
    assert nameless["name"] is None
    assert nameless["url"].startswith("ftp://")
    assert nameless["hash"] == "sha256:" + "ab" * 32
    assert legacy["id"] == "legacy-0001"
