"""Nothing private leaks (issue 3, item 7): a property test over random catalogues.

Each example builds a small catalogue mixing draft, published, private and embargoed datasets,
owner teams, read lists, collaborators, user and group rulesets with random permissions, and
API keys (some revoked); then, for the anonymous caller and every key, hits every GET endpoint
in every format and compares the dataset ids (and resource ids) received with the set computed
here from the spec, by the policy that services/visibility.py's docstring states (written out
again below, deliberately not by calling visible_clause):

- anonymous: published, public and out of embargo;
- a key's user: that, plus (in any state) the datasets whose owner team the user is in, on which
  they collaborate, on whose read list they or one of their teams is, or on which a user ruleset
  of theirs or a group ruleset of one of their groups has any permission;
- the bulk /api/v1 surface (seed 000) and the web pages (`/`, `/dataset/{id}`, `/sitemap.xml`):
  what the anonymous caller sees, whoever asks (issue 16, issue 12); a dataset page the caller
  may not see is the same 404 as an unknown one, and no hidden title appears on a page;
- a dataset's own JSON shows who may read or edit it (collaborators, read lists) and its embargo
  only to a caller who may manage it: a member of its owner team, or a ruleset with
  publish_dataset or manage_dataset (issue 16); export.json to nobody;
- a revoked key: 401 everywhere;
- seed 003's dataset search and lookup (/api/datasets/1.0/) show the published datasets the
  caller may read (no draft, nothing in embargo, as a portal's search), in every format, and
  their facets count nothing else;
- OAI-PMH (/oai) shows no hidden dataset's id (records, identifiers, GetRecord), title or set
  (a team holding hidden datasets only is no set).

The app is driven through httpx.ASGITransport (no socket), so an example costs a fresh catalogue
and a few dozen in-process requests; on both engines.
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models.database import Database
from app.services import access, api_keys, datasets
from app.services.permissions import to_names
from app.services.server import create_app
from tests.conftest import AUTHOR, make_record
from tests.engines import ENGINES, Catalogues
from tests.server import html_pages
from tests.server.html_pages import dataset_links, parse_html, sitemap_locs

PAST, FUTURE = "2000-01-01", "2999-01-01"
TEAMS = ("tma01", "tmb02")
FORBIDDEN_FIELDS = {"collaborators", "readusers", "readteams", "rulesets", "embargoUntil"}
ACCESS_FIELDS = FORBIDDEN_FIELDS - {"rulesets"}
PUBLISH_OR_MANAGE = 4 | 8


@dataclass(frozen=True)
class DatasetSpec:
    published: bool
    private: bool
    embargo: str | None
    team: int | None
    readusers: frozenset[int]
    readteams: frozenset[int]
    collaborators: frozenset[int]
    resources: int
    links: int


@dataclass(frozen=True)
class Spec:
    users: int
    user_teams: tuple[frozenset[int], ...]
    groups: int
    user_groups: tuple[frozenset[int], ...]
    datasets: tuple[DatasetSpec, ...]
    user_rulesets: tuple[tuple[int, int, int], ...]  # dataset, user, perms (0-15)
    group_rulesets: tuple[tuple[int, int, int], ...]  # dataset, group, perms
    revoked: frozenset[int]  # users whose key is revoked


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    users = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    people = st.frozensets(st.integers(0, users - 1), max_size=users)
    teams = st.frozensets(st.integers(0, len(TEAMS) - 1), max_size=len(TEAMS))
    dataset_specs = tuple(
        draw(
            st.lists(
                st.builds(
                    DatasetSpec,
                    published=st.booleans(),
                    private=st.booleans(),
                    embargo=st.sampled_from([None, None, PAST, FUTURE]),
                    team=st.one_of(st.none(), st.integers(0, len(TEAMS) - 1)),
                    readusers=people,
                    readteams=teams,
                    collaborators=people,
                    resources=st.integers(0, 2),
                    links=st.integers(0, 1),
                ),
                min_size=1,
                max_size=6,
            )
        )
    )
    n = len(dataset_specs)
    perms = st.integers(0, 15)
    user_rulesets = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, users - 1), perms),
            min_size=1,
            max_size=4,
        )
    )
    group_rulesets = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, groups - 1), perms),
            min_size=1,
            max_size=4,
        )
    )
    return Spec(
        users=users,
        user_teams=tuple(draw(teams) for _ in range(users)),
        groups=groups,
        user_groups=tuple(
            draw(st.frozensets(st.integers(0, groups - 1), min_size=1, max_size=groups))
            if draw(st.integers(0, 3))
            else frozenset()
            for _ in range(users)
        ),
        datasets=dataset_specs,
        user_rulesets=_last_wins(user_rulesets),
        group_rulesets=_last_wins(group_rulesets),
        revoked=draw(st.frozensets(st.integers(0, users - 1), max_size=users)),
    )


def _last_wins(rulesets: list[tuple[int, int, int]]) -> tuple[tuple[int, int, int], ...]:
    """Setting a ruleset twice replaces it: keep the last per (dataset, holder)."""
    final = {(d, h): p for d, h, p in rulesets}
    return tuple((d, h, p) for (d, h), p in final.items())


# -- the expected visibility, from the documented policy ------------------------------------


def _public(d: DatasetSpec) -> bool:
    return _published_now(d) and not d.private


def _published_now(d: DatasetSpec) -> bool:
    return d.published and d.embargo != FUTURE


def expected_visible(spec: Spec, user: int | None) -> set[int]:
    visible = {i for i, d in enumerate(spec.datasets) if _public(d)}
    if user is None:
        return visible
    teams = spec.user_teams[user]
    groups = spec.user_groups[user]
    for i, d in enumerate(spec.datasets):
        if (
            (d.team is not None and d.team in teams)
            or user in d.collaborators
            or user in d.readusers
            or bool(d.readteams & teams)
        ):
            visible.add(i)
    visible |= {i for i, u, perms in spec.user_rulesets if u == user and perms}
    visible |= {i for i, g, perms in spec.group_rulesets if g in groups and perms}
    return visible


def expected_managed(spec: Spec, user: int | None) -> set[int]:
    """The datasets whose access lists and embargo `user` may see (and change)."""
    if user is None:
        return set()
    teams = spec.user_teams[user]
    groups = spec.user_groups[user]
    managed = {i for i, d in enumerate(spec.datasets) if d.team is not None and d.team in teams}
    managed |= {i for i, u, p in spec.user_rulesets if u == user and p & PUBLISH_OR_MANAGE}
    managed |= {i for i, g, p in spec.group_rulesets if g in groups and p & PUBLISH_OR_MANAGE}
    return managed


# -- building the catalogue through the services ---------------------------------------------


@dataclass(frozen=True)
class Built:
    ids: tuple[str, ...]  # dataset ids by spec index
    keys: tuple[str, ...]  # one key per user


def title_of(index: int) -> str:
    """A title found in a page's text only where that dataset is shown."""
    return f"Title{index}x"


def build(database: Database, spec: Spec) -> Built:
    with database.transaction() as s:
        for index, team in enumerate(TEAMS):
            access.create_team(s, team, f"Team {index}")
        user_ids = [access.create_user(s, f"user{u}").id for u in range(spec.users)]
        group_ids = [access.create_group(s, f"group {g}").id for g in range(spec.groups)]
        for u, user_id in enumerate(user_ids):
            for t in spec.user_teams[u]:
                access.add_to_team(s, TEAMS[t], user_id)
            for g in spec.user_groups[u]:
                access.add_to_group(s, group_ids[g], user_id)
        ids: list[str] = []
        for d in spec.datasets:
            record = make_record(
                title=title_of(len(ids)),
                state="published" if d.published else "draft",
                sharing="private" if d.private else "public",
                embargoUntil=d.embargo,
                team=TEAMS[d.team] if d.team is not None else None,
                readusers=sorted(user_ids[u] for u in d.readusers),
                readteams=sorted(TEAMS[t] for t in d.readteams),
                collaborators=sorted(user_ids[u] for u in d.collaborators),
                resources={
                    f"r{k:02d}": {"title": f"File {k}", "url": f"https://f.example/{k}.csv"}
                    for k in range(d.resources)
                },
                links={
                    f"l{k:02d}": {"title": f"Link {k}", "url": f"https://l.example/{k}"}
                    for k in range(d.links)
                },
            )
            ids.append(datasets.create_dataset(s, record, author=AUTHOR)["id"])
        for i, u, perms in spec.user_rulesets:
            access.set_user_ruleset(s, ids[i], user_ids[u], to_names(perms))
        for i, g, perms in spec.group_rulesets:
            access.set_group_ruleset(s, ids[i], group_ids[g], to_names(perms))
        issued = [api_keys.create_api_key(s, user_id) for user_id in user_ids]
        for u in spec.revoked:
            api_keys.revoke_api_key(s, issued[u].uid)
    return Built(tuple(ids), tuple(k.key for k in issued))


# -- what each endpoint returns --------------------------------------------------------------


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text, newline="")))


def _sheets(response: httpx.Response) -> dict[str, list[dict[str, Any]]]:
    assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    try:
        out: dict[str, list[dict[str, Any]]] = {}
        for name in ("datasets", "resources", "links"):
            rows = list(book[name].iter_rows(values_only=True))
            out[name] = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
        return out
    finally:
        book.close()


def _jsonld_ids(node: Any, found: list[str]) -> list[str]:
    if isinstance(node, dict):
        if node.get("@type") == "Dataset":
            found.append(node["identifier"])
        for value in node.values():
            _jsonld_ids(value, found)
    elif isinstance(node, list):
        for value in node:
            _jsonld_ids(value, found)
    return found


@dataclass
class Observed:
    got: dict[str, set[str]]  # dataset ids per endpoint
    files: dict[str, set[tuple[str, str]]]  # (dataset, resource id) pairs per endpoint
    shown: dict[str, set[str]]  # the keys of each dataset's own JSON, by dataset id
    cursors: list[str]  # the feed's `after` tokens, in walking order
    page_text: str  # the home page and the sitemap, as served
    titles: dict[str, set[str]]  # dataset titles per endpoint
    sets: dict[str, set[str]]  # set names (OAI-PMH setSpecs) per endpoint


async def observe(
    client: httpx.AsyncClient, headers: dict[str, str], all_ids: tuple[str, ...]
) -> Observed:
    got: dict[str, set[str]] = {}
    files: dict[str, set[tuple[str, str]]] = {}
    shown: dict[str, set[str]] = {}
    cursors: list[str] = []
    titles: dict[str, set[str]] = {}
    sets: dict[str, set[str]] = {}

    async def get(path: str) -> httpx.Response:
        return await client.get(path, headers=headers)

    got["v1.csv"] = {row["id"] for row in _csv(await get("/api/v1/dataset.csv"))}
    walked: list[str] = []
    url: str | None = "/api/v1/dataset.jsonld?limit=2"
    while url is not None:
        response = await get(url)
        assert response.status_code == 200, response.text
        walked += _jsonld_ids(response.json(), [])
        link = response.links.get("next")
        url = link["url"] if link else None
        if url is not None:
            cursors.append(httpx.URL(url).params["after"])
    assert len(walked) == len(set(walked))
    got["v1.jsonld"] = set(walked)
    since = await get("/api/v1/dataset.jsonld?since=0&limit=1000")
    assert since.status_code == 200, since.text
    got["v1.jsonld.since"] = set(_jsonld_ids(since.json(), []))
    got["v1.csv.since"] = {row["id"] for row in _csv(await get("/api/v1/dataset.csv?since=0"))}

    exported = await get("/api/datasets/export.json")
    assert exported.status_code == 200
    records = exported.json()
    got["export.json"] = {r["id"] for r in records}
    files["export.json"] = {(r["id"], f["id"]) for r in records for f in r["resources"]}
    for record in records:
        assert not FORBIDDEN_FIELDS & set(record), record

    got["datasets.csv"] = {
        row["id"] for row in _csv(await get("/api/datasets/export.datasets.csv"))
    }
    files["resources.csv"] = {
        (row["dataset"], row["id"]) for row in _csv(await get("/api/datasets/export.resources.csv"))
    }
    sheets = _sheets(await get("/api/datasets/export.xlsx"))
    got["export.xlsx"] = {row["id"] for row in sheets["datasets"]}
    files["export.xlsx"] = {(row["dataset"], row["id"]) for row in sheets["resources"]}
    links_xlsx = {row["dataset"] for row in sheets["links"]}
    assert links_xlsx <= got["export.xlsx"]

    listing = (await get("/api/action/current_package_list_with_resources")).json()
    assert listing["success"] is True
    got["ckan.list"] = {p["id"] for p in listing["result"]}
    search = (await get("/api/action/package_search?rows=1000")).json()["result"]
    assert search["count"] == len(search["results"])
    got["ckan.search"] = {p["id"] for p in search["results"]}
    for name, packages in (("ckan.list", listing["result"]), ("ckan.search", search["results"])):
        files[name] = {
            (p["id"], r["id"].removeprefix(p["id"] + "-"))
            for p in packages
            for r in p["resources"]
            if r["id"].removeprefix(p["id"] + "-").startswith("r")
        }

    # Seed 003's dataset search (json, csv, rss) and lookup, and what its facets count.
    ods_path = "/api/datasets/1.0/search/?rows=1000&facet=publisher&facet=modified"
    ods = (await get(ods_path)).json()
    assert ods["nhits"] == len(ods["datasets"])
    got["ods.search"] = {d["datasetid"] for d in ods["datasets"]}
    files["ods.search"] = {
        (d["datasetid"], a["id"]) for d in ods["datasets"] for a in d["attachments"]
    }
    groups = {group["name"]: group for group in ods["facet_groups"]}
    with_team = [d for d in ods["datasets"] if d["metas"]["publisher"]]
    assert groups.get("publisher", {"count": 0})["count"] == len(with_team)
    assert groups.get("modified", {"count": 0})["count"] == ods["nhits"]
    ods_csv = await get("/api/datasets/1.0/search/?rows=1000&format=csv")
    got["ods.csv"] = {
        row["datasetid"] for row in csv.DictReader(io.StringIO(ods_csv.text), delimiter=";")
    }
    rss = ElementTree.fromstring(
        (await get("/api/datasets/1.0/search?rows=1000&format=rss")).content
    )
    got["ods.rss"] = {link.text.rsplit("/", 1)[1] for link in rss.iter("guid") if link.text}
    found: set[str] = set()
    for dataset_id in all_ids:
        response = await get(f"/api/datasets/1.0/{dataset_id}/")
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            found.add(response.json()["datasetid"])
    got["ods.lookup"] = found

    readable: set[str] = set()
    for dataset_id in all_ids:
        response = await get(f"/api/dataset/{dataset_id}")
        assert response.status_code in (200, 403), response.text
        if response.status_code == 200:
            assert response.json()["id"] == dataset_id
            readable.add(dataset_id)
            shown[dataset_id] = set(response.json())
    got["dataset"] = readable
    shown_packages: set[str] = set()
    for dataset_id in all_ids:
        response = await get(f"/api/action/package_show?id={dataset_id}")
        assert response.status_code in (200, 403), response.text
        if response.status_code == 200:
            package = response.json()["result"]
            assert package["id"] == dataset_id
            assert not FORBIDDEN_FIELDS & set(package)
            shown_packages.add(dataset_id)
    got["ckan.show"] = shown_packages
    assert (await get("/api/action/package_show?id=zzzzz")).status_code == 404
    assert (await get("/api/dataset/zzzzz")).status_code == 404

    home = await get("/")
    assert home.status_code == 200
    got["page.home"] = set(dataset_links(parse_html(home.text)))
    sitemap = await get("/sitemap.xml")
    assert sitemap.status_code == 200
    _kind, locs = sitemap_locs(sitemap.text)
    got["sitemap"] = {html_pages.dataset_id(loc) for loc in locs if "/dataset/" in loc}
    pages: set[str] = set()
    not_found = {(await get("/dataset/zzzzz")).content}
    for one in all_ids:
        response = await get(f"/dataset/{one}")
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            parse_html(response.text)
            pages.add(one)
        else:
            not_found.add(response.content)
    assert len(not_found) == 1  # a hidden dataset's page is the unknown one's, byte for byte
    got["page.dataset"] = pages
    got["oai"], titles["oai"], sets["oai"] = await _oai(get, all_ids)
    return Observed(got, files, shown, cursors, home.text + sitemap.text, titles, sets)


OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"


async def _oai(
    get: Callable[[str], Awaitable[httpx.Response]], all_ids: tuple[str, ...]
) -> tuple[set[str], set[str], set[str]]:
    """/oai's dataset ids (records, identifiers and GetRecord alike), titles and setSpecs."""

    async def document(query: str) -> ElementTree.Element:
        response = await get(f"/oai?{query}")
        assert response.status_code == 200
        return ElementTree.fromstring(response.content)

    ids: set[str] = set()
    titles: set[str] = set()
    specs: set[str] = set()
    for verb in ("ListRecords", "ListIdentifiers"):
        page = await document(f"verb={verb}&metadataPrefix=oai_dc")
        listed: set[str] = set()
        for header in page.iter(f"{OAI}header"):
            assert header.get("status") is None  # nothing here was ever public, then hidden
            listed.add(header.findtext(f"{OAI}identifier", "").rsplit(":", 1)[1])
            specs |= {spec.text or "" for spec in header.iter(f"{OAI}setSpec")}
        titles |= {title.text or "" for title in page.iter(DC_TITLE)}
        ids |= listed
    for verb in ("ListRecords", "ListIdentifiers"):
        page = await document(f"verb={verb}&metadataPrefix=oai_dc&set=team:{TEAMS[0]}")
        for header in page.iter(f"{OAI}header"):
            ids.add(header.findtext(f"{OAI}identifier", "").rsplit(":", 1)[1])
    sets_page = await document("verb=ListSets")
    specs |= {spec.text or "" for spec in sets_page.iter(f"{OAI}setSpec")}
    for dataset_id in all_ids:
        page = await document(
            f"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:catalogue.test:{dataset_id}"
        )
        error = page.find(f"{OAI}error")
        if error is None:
            ids.add(dataset_id)
            titles |= {title.text or "" for title in page.iter(DC_TITLE)}
        else:
            assert error.get("code") == "idDoesNotExist"
    return ids, titles, specs


BULK = {
    "oai",
    "v1.csv",
    "v1.jsonld",
    "v1.jsonld.since",
    "v1.csv.since",
    "page.home",
    "page.dataset",
    "sitemap",
}


async def check(database: Database, spec: Spec, built: Built) -> None:
    app = create_app(database)
    transport = httpx.ASGITransport(app=app)
    # The app's lifespan as a server runs it: its shutdown lets go of the catalogue.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://catalogue.test") as client,
    ):
        anonymous_cursors: list[str] | None = None
        callers: list[tuple[int | None, dict[str, str]]] = [(None, {})]
        callers += [(u, {"Authorization": key}) for u, key in enumerate(built.keys)]
        for user, headers in callers:
            if user is not None and user in spec.revoked:
                for path in (
                    "/api/datasets/export.json",
                    "/api/datasets/export.xlsx",
                    "/api/v1/dataset.csv",
                    f"/api/dataset/{built.ids[0]}",
                ):
                    assert (await client.get(path, headers=headers)).status_code == 401
                continue
            visible = expected_visible(spec, user)
            want = {built.ids[i] for i in visible}
            want_bulk = {built.ids[i] for i in expected_visible(spec, None)}
            want_files = {
                (built.ids[i], f"r{k:02d}")
                for i in visible
                for k in range(spec.datasets[i].resources)
            }
            managed = {built.ids[i] for i in expected_managed(spec, user)}
            seen = await observe(client, headers, built.ids)
            # Seed 003's search shows published datasets only, a key adding private ones.
            want_published = {built.ids[i] for i in visible if _published_now(spec.datasets[i])}
            for endpoint, ids in seen.got.items():
                expected = (
                    want_bulk
                    if endpoint in BULK
                    else want_published
                    if endpoint.startswith("ods.")
                    else want
                )
                assert ids == expected, (endpoint, user)
            for index in set(range(len(built.ids))) - expected_visible(spec, None):
                assert title_of(index) not in seen.page_text, (index, user)
            public = expected_visible(spec, None)
            for endpoint, shown_titles in seen.titles.items():
                assert shown_titles <= {title_of(i) for i in public}, (endpoint, user)
            public_teams = {spec.datasets[i].team for i in public}
            for endpoint, shown_sets in seen.sets.items():
                allowed = {f"team:{TEAMS[t]}" for t in public_teams if t is not None}
                assert shown_sets <= allowed, (endpoint, user)
            for endpoint, pairs in seen.files.items():
                if endpoint.startswith("ods."):
                    assert pairs == {p for p in want_files if p[0] in want_published}, user
                else:
                    assert pairs == want_files, (endpoint, user)
            for dataset_id, keys in seen.shown.items():
                assert "rulesets" not in keys
                if dataset_id in managed:
                    assert keys >= ACCESS_FIELDS, (dataset_id, user)
                else:
                    assert not ACCESS_FIELDS & keys, (dataset_id, user)
            # The feed is the anonymous one for everybody, down to its cursors.
            if anonymous_cursors is None:
                anonymous_cursors = seen.cursors
            assert seen.cursors == anonymous_cursors, user
        # Everything deleted: deleted.json names only what anybody could see before.
        with database.transaction() as session:
            for dataset_id in built.ids:
                datasets.delete_dataset(session, dataset_id, author=AUTHOR)
        gone = (await client.get("/api/v1/deleted.json")).json()["datasets"]
        assert gone == sorted(built.ids[i] for i in expected_visible(spec, None))


# Fewer on PostgreSQL: the policy is the same SQL on both; there it costs a database per example.
EXAMPLES = {"sqlite": 30, "postgresql": 12}


@pytest.mark.parametrize("engine", ENGINES)
def test_every_endpoint_returns_exactly_what_the_policy_grants(
    engine: str, catalogues: Catalogues
) -> None:
    @settings(
        max_examples=EXAMPLES[engine],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(spec=specs())
    def holds(spec: Spec) -> None:
        with (
            tempfile.TemporaryDirectory() as folder,
            catalogues.fresh(engine, Path(folder)) as database,
        ):
            built = build(database, spec)
            asyncio.run(check(database, spec, built))

    holds()
