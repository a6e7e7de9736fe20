"""What each caller receives from every endpoint: visible_clause decides, nothing else."""

from __future__ import annotations

import httpx
import pytest

from app.models.database import Database
from app.services import access
from tests.server.conftest import Catalogue
from tests.server.harvest import endpoint_ids
from tests.server.html_pages import links, parse_html

BULK = ("dataset.csv", "dataset.jsonld")  # seed 000: the anonymous set, whoever asks
ENDPOINTS = (
    "/api/v1/dataset.csv",
    "/api/v1/dataset.jsonld",
    "/api/datasets/export.json",
    "/api/datasets/export.datasets.csv",
    "/api/datasets/export.resources.csv",
    "/api/action/current_package_list_with_resources",
    "/api/action/package_search",
    "/api/dataset/abcde",
)


def _expected(
    ids: dict[str, set[str]], everything: set[str], published: set[str], with_files: set[str]
) -> None:
    for endpoint, got in ids.items():
        want = published if endpoint in BULK else everything
        if endpoint == "export.resources.csv":
            want = want & with_files
        assert got == want, endpoint


def test_anonymous_callers_get_published_public_records_only(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    public = set(catalogue.public)
    ids = endpoint_ids(client)
    _expected(ids, public, public, {catalogue.public[0], catalogue.team_draft})
    hidden = {catalogue.draft, catalogue.private, catalogue.embargoed, catalogue.team_draft}
    for endpoint, got in ids.items():
        assert not got & hidden, endpoint


def test_a_key_adds_what_its_grants_allow(client: httpx.Client, catalogue: Catalogue) -> None:
    public = set(catalogue.public)
    files = {catalogue.public[0], catalogue.team_draft}
    # alice reads the private dataset (read list); the bulk open data stays the anonymous set
    # (seed 000, issue 16).
    alice = endpoint_ids(client, {"Authorization": catalogue.alice})
    _expected(alice, public | {catalogue.private}, public, files)
    # bob's team owns a draft: the exports show it, the published-only feeds do not.
    bob = endpoint_ids(client, {"Authorization": f"Apikey {catalogue.bob}"})
    _expected(bob, public | {catalogue.team_draft}, public, files)
    # carol has a valid key and no grants: the public catalogue.
    carol = endpoint_ids(client, {"Authorization": f"Bearer {catalogue.carol}"})
    _expected(carol, public, public, files)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_wrong_key_is_a_401_json_error(client: httpx.Client, path: str) -> None:
    response = client.get(path, headers={"Authorization": "cdk_not-a-key"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and error["message"]


def test_ckan_errors_also_say_success_false(client: httpx.Client) -> None:
    response = client.get("/api/action/package_search", headers={"Authorization": "cdk_not-a-key"})
    body = response.json()
    assert body["success"] is False
    assert body["error"]["__type"] == "Authorization Error"


def test_one_dataset_is_200_403_or_404(client: httpx.Client, catalogue: Catalogue) -> None:
    ok = client.get(f"/api/dataset/{catalogue.public[0]}")
    assert ok.status_code == 200
    record = ok.json()
    assert record["id"] == catalogue.public[0]
    assert record["resources"]["k93"]["url"] == "https://data.example/bins.csv"
    assert record["descriptionText"] == "Requests received, by month."

    for hidden in (catalogue.private, catalogue.draft, catalogue.embargoed):
        refused = client.get(f"/api/dataset/{hidden}")
        assert refused.status_code == 403, hidden
        assert refused.json()["error"]["code"] == "forbidden"
    carol = {"Authorization": catalogue.carol}
    assert client.get(f"/api/dataset/{catalogue.private}", headers=carol).status_code == 403
    alice = {"Authorization": catalogue.alice}
    assert client.get(f"/api/dataset/{catalogue.private}", headers=alice).status_code == 200
    bob = {"Authorization": catalogue.bob}
    assert client.get(f"/api/dataset/{catalogue.team_draft}", headers=bob).status_code == 200

    missing = client.get("/api/dataset/zzzzz")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_access_lists_and_embargo_are_shown_only_to_who_may_manage(
    client: httpx.Client, catalogue: Catalogue, database: Database
) -> None:
    """Issue 16 finding 6: as in export.json, a reader sees neither who else may read or edit
    a dataset nor its embargo; a member of its owner team (publish_dataset) does."""
    withheld = {"collaborators", "readusers", "readteams", "embargoUntil"}

    def keys(dataset_id: str, key: str | None = None) -> set[str]:
        headers = {"Authorization": key} if key else {}
        response = client.get(f"/api/dataset/{dataset_id}", headers=headers)
        assert response.status_code == 200, response.text
        return set(response.json())

    assert not keys(catalogue.public[0]) & withheld
    assert not keys(catalogue.public[0], catalogue.bob) & withheld
    assert not keys(catalogue.private, catalogue.alice) & withheld  # on its read list only
    assert keys(catalogue.team_draft, catalogue.bob) >= withheld  # its owner team
    # An editor without publish_dataset gets the PATCH's answer as GET shows it to them.
    with database.transaction() as s:
        carol = next(u for u in access.list_users(s) if u.username == "carol")
        access.set_user_ruleset(s, catalogue.public[1], carol.id, ["edit_dataset"])
    patched = client.patch(
        f"/api/dataset/{catalogue.public[1]}",
        json=[{"op": "replace", "path": "/title", "value": "Potholes"}],
        headers={"Authorization": catalogue.carol},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "Potholes"
    assert not set(patched.json()) & withheld
    # Nor can they read the withheld fields back through the patch itself: a `test` of one, or
    # a `copy` out of one (or of the whole record), is refused and changes nothing.
    probes: list[list[dict[str, object]]] = [
        [{"op": "test", "path": "/readusers", "value": []}],
        [{"op": "test", "path": "/embargoUntil", "value": None}],
        [{"op": "test", "path": "", "value": {}}],
        [{"op": "copy", "from": "/collaborators", "path": "/tags"}],
        [{"op": "copy", "from": "", "path": "/custom/all"}],
    ]
    for probe in probes:
        refused = client.patch(
            f"/api/dataset/{catalogue.public[1]}",
            json=[{"op": "replace", "path": "/title", "value": "Probe"}, *probe],
            headers={"Authorization": catalogue.carol},
        )
        assert refused.status_code == 403, (probe, refused.text)
        assert refused.json()["error"]["code"] == "forbidden"
    after = client.get(f"/api/dataset/{catalogue.public[1]}").json()
    assert after["title"] == "Potholes"


def test_the_dataset_webpage_links_to_its_json(client: httpx.Client, catalogue: Catalogue) -> None:
    response = client.get(f"/dataset/{catalogue.public[0]}")
    assert response.status_code == 200
    (json_url,) = (
        href
        for href in links(parse_html(response.text))
        if href.startswith(f"{client.base_url}".rstrip("/") + "/api/dataset/")
    )
    assert client.get(json_url).json()["id"] == catalogue.public[0]


def test_package_search_pages_sorts_and_searches(
    client: httpx.Client, catalogue: Catalogue
) -> None:
    def search(**params: str) -> dict[str, object]:
        response = client.get("/api/action/package_search", params=params)
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()["result"]
        return result

    by_title = search(sort="title_string asc", rows="2", start="1")
    assert by_title["count"] == 3
    titles = [p["title"] for p in by_title["results"]]  # type: ignore[attr-defined]
    assert titles == ["Bins collected", "Library loans"]  # after "=Potholes reported"
    found = search(q="potholes")
    assert [p["id"] for p in found["results"]] == [catalogue.public[1]]  # type: ignore[attr-defined]
    assert search(q="*:*")["count"] == 3
    assert search(q="budget")["count"] == 0  # the draft matches, but is not visible
    bad = client.get("/api/action/package_search", params={"sort": "nonsense desc"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_query"


def test_package_list_takes_limit_and_offset(client: httpx.Client, catalogue: Catalogue) -> None:
    response = client.get(
        "/api/action/current_package_list_with_resources", params={"limit": 1, "offset": 1}
    )
    body = response.json()
    assert body["success"] is True
    assert [p["id"] for p in body["result"]] == [catalogue.public[1]]
