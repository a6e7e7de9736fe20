"""The pages people and search engines read (issue 12, item 4): the home page, a page per
published dataset with its schema.org Dataset JSON-LD, the sitemap and robots.txt, on a real
uvicorn server. The HTML checker is html5lib in strict mode; the JSON-LD is read by extruct as
a search engine's extractor would."""

from __future__ import annotations

import html
from typing import Any

import extruct
import httpx
import pytest

from app.models.database import Database
from app.services import datasets, publication
from app.services.server.pages import PageSettings
from tests.conftest import AUTHOR, make_record
from tests.server.conftest import Catalogue, ServeFactory
from tests.server.html_pages import (
    dataset_id,
    dataset_links,
    links,
    parse_html,
    rel_link,
    sitemap_locs,
)

BASE = "https://catalogue.example/open"
HOSTILE = "</script><script>alert(1)</script> <b>bold</b> <!-- & -->"
HOSTILE_DESCRIPTION = '<p>Kept</p><script>alert(2)</script><a href="javascript:x()">no</a>'


def _client(serve: ServeFactory, **options: Any) -> httpx.Client:
    server = serve(base_url=BASE, **options)
    return httpx.Client(base_url=server.url, timeout=20)


def _hidden(catalogue: Catalogue) -> list[str]:
    return [catalogue.draft, catalogue.private, catalogue.embargoed, catalogue.team_draft]


def _page(client: httpx.Client, path: str, status: int = 200) -> Any:
    response = client.get(path)
    assert response.status_code == status, (path, response.text)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return parse_html(response.text)


def _jsonld(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = extruct.extract(
        text, base_url=BASE, syntaxes=["json-ld"], uniform=False
    )["json-ld"]
    return found


def test_the_home_page_lists_the_published_datasets_and_the_endpoints(
    serve: ServeFactory, catalogue: Catalogue
) -> None:
    with _client(serve) as client:
        response = client.get("/")
        tree = _page(client, "/")
        head = client.head("/")
    assert head.status_code == 200
    assert head.headers["content-length"] == response.headers["content-length"]
    assert sorted(dataset_links(tree)) == sorted(catalogue.public)
    for hidden in ("Draft budget", "Staff sickness", "Election results", "Team draft"):
        assert hidden not in response.text
    hrefs = links(tree)
    assert all(href.startswith(BASE) or href.startswith("mailto:") for href in hrefs), hrefs
    for endpoint in (
        "/api/v1/dataset.jsonld",
        "/api/v1/deleted.json?since=0",
        "/api/v1/dataset.csv",
        "/api/v1/manifest.json",
        "/api/action/package_search",
        "/oai?verb=Identify",
        "/sitemap.xml",
        "/api/datasets/export.json",
        "/api/datasets/export.xlsx",
        "/api/openapi.json",
    ):
        assert BASE + endpoint in hrefs, endpoint
    for words in ("since=N", "modified_since", "Last-Modified-Version", "after", "fq="):
        assert words in response.text
    (form,) = tree.iter("form")
    assert form.get("method") == "get" and form.get("action") == f"{BASE}/"
    assert [i.get("name") for i in form.iter("input")] == ["q"]
    assert not list(tree.iter("script"))  # no script of ours on the home page


def test_the_home_page_searches_by_a_word(serve: ServeFactory, catalogue: Catalogue) -> None:
    with _client(serve) as client:
        assert dataset_links(_page(client, "/?q=potholes")) == [catalogue.public[1]]
        assert dataset_links(_page(client, "/?q=pothol")) == [catalogue.public[1]]  # a prefix
        assert dataset_links(_page(client, "/?q=budget")) == []  # a draft: never found
        assert dataset_links(_page(client, "/?q=sickness")) == []  # private
        found = client.get("/", params={"q": "<library> &"})
        assert found.status_code == 200
        assert dataset_links(parse_html(found.text)) == [catalogue.public[2]]
        assert "<library>" not in found.text  # the query is written back escaped
        tree = parse_html(found.text)
        (box,) = (i for i in tree.iter("input") if i.get("name") == "q")
        assert box.get("value") == "<library> &"
        too_many = " ".join(f"w{n}" for n in range(40))
        _page(client, f"/?q={too_many}", status=400)


def test_paging_shows_each_dataset_once(
    serve: ServeFactory, catalogue: Catalogue, database: Database
) -> None:
    with database.transaction() as s:
        for n in range(4):
            record = datasets.create_dataset(s, make_record(title=f"Extra {n}"), author=AUTHOR)
            publication.publish(s, record["id"], author=AUTHOR)
    seen: list[str] = []
    pages = 0
    with _client(serve, pages=PageSettings(home_page_size=2)) as client:
        url: str | None = f"{BASE}/"
        while url is not None:
            assert url.startswith(BASE)
            tree = _page(client, url.removeprefix(BASE) or "/")
            listed = dataset_links(tree)
            assert 1 <= len(listed) <= 2
            seen += listed
            pages += 1
            url = rel_link(tree, "next")
        assert pages == 4
        assert rel_link(_page(client, "/?page=2"), "prev") == f"{BASE}/"
        assert dataset_links(_page(client, "/?page=5")) == []  # past the end: an empty page
        for bad in ("0", "-1", "x", "1.5", "", "1000001", "٣"):
            _page(client, f"/?page={bad}", status=400)
    assert len(seen) == len(set(seen)) == 7
    assert set(catalogue.public) <= set(seen)


def test_a_dataset_page_carries_its_schema_org_dataset(
    serve: ServeFactory, catalogue: Catalogue
) -> None:
    dataset = catalogue.public[0]
    with _client(serve) as client:
        response = client.get(f"/dataset/{dataset}")
        tree = _page(client, f"/dataset/{dataset}")
        record = client.get(f"/api/dataset/{dataset}").json()
    page_url = f"{BASE}/dataset/{dataset}"
    (node,) = _jsonld(response.text)
    assert node["@context"] == "https://schema.org"
    assert node["@type"] == "Dataset"
    assert node["name"] == "Bins collected"
    assert node["description"] == "Requests received, by month."  # the text, not the HTML
    assert node["identifier"] == dataset
    assert node["keywords"] == ["FOI", "Freedom of Information"]
    assert node["license"] == "https://www.nationalarchives.gov.uk/doc/ogl/3/"
    assert node["url"] == page_url
    assert node["dateModified"] == record["updatedAt"]
    assert node["publisher"] == {"@type": "Organization", "name": "Catalogue Desk"}
    assert node["distribution"] == [
        {
            "@type": "DataDownload",
            "name": "Collections, 2024",
            "contentUrl": "https://data.example/bins.csv",
            "encodingFormat": "text/csv",
            "contentSize": "2048 B",
        }
    ]
    # What a person reads: the sanitised description, topics by title, files, links, the JSON.
    (h1,) = tree.iter("h1")
    assert h1.text == "Bins collected"
    assert "<p>Requests received, <b>by month</b>.</p>" in response.text
    assert "Council &amp; Democracy" in response.text
    hrefs = links(tree)
    for href in (
        "https://data.example/bins.csv",
        "https://council.example/",
        f"{BASE}/api/dataset/{dataset}",
        "https://www.nationalarchives.gov.uk/doc/ogl/3/",
        "mailto:opendata@example.org",
    ):
        assert href in hrefs
    canonical = [link.get("href") for link in tree.iter("link") if link.get("rel") == "canonical"]
    assert canonical == [page_url]


def test_a_hostile_title_stays_text_in_the_html_and_in_the_json_ld(
    serve: ServeFactory, database: Database
) -> None:
    with database.transaction() as s:
        record = datasets.create_dataset(
            s,
            make_record(title=HOSTILE, description=HOSTILE_DESCRIPTION, tags=["</script>"]),
            author=AUTHOR,
        )
        publication.publish(s, record["id"], author=AUTHOR)
    with _client(serve) as client:
        response = client.get(f"/dataset/{record['id']}")
        home = client.get("/")
    assert response.status_code == 200
    tree = parse_html(response.text)
    scripts = list(tree.iter("script"))
    assert [s.get("type") for s in scripts] == ["application/ld+json"]  # ours, and only it
    assert response.text.count("<script") == 1
    assert "alert(2)" not in response.text  # the description's script is dropped
    assert "javascript:" not in response.text
    assert "<b>bold</b>" not in response.text
    (h1,) = tree.iter("h1")
    assert h1.text == HOSTILE  # shown as the text it is
    (title,) = tree.iter("title")
    assert title.text.startswith(HOSTILE)
    body = scripts[0].text
    assert "<" not in body and ">" not in body and "&" not in body
    (node,) = _jsonld(response.text)
    assert node["name"] == HOSTILE
    assert node["keywords"] == ["</script>"]
    assert HOSTILE not in home.text and html.escape(HOSTILE, quote=False) in home.text
    parse_html(home.text)


def test_unknown_and_hidden_datasets_are_the_same_404(
    serve: ServeFactory, catalogue: Catalogue
) -> None:
    with _client(serve) as client:
        answers = [client.get(f"/dataset/{i}") for i in [*_hidden(catalogue), "zzzzz"]]
        keyed = client.get(
            f"/dataset/{catalogue.private}", headers={"Authorization": catalogue.alice}
        )
    assert {a.status_code for a in [*answers, keyed]} == {404}
    assert len({a.content for a in [*answers, keyed]}) == 1
    assert len({a.headers["content-length"] for a in answers}) == 1
    page = answers[0].text
    parse_html(page)
    for hidden in [*_hidden(catalogue), "zzzzz", "Draft budget", "Staff sickness"]:
        assert hidden not in page


def _sitemap(client: httpx.Client, path: str) -> tuple[str, list[str]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml"
    return sitemap_locs(response.text)


def test_the_sitemap_lists_exactly_the_published_pages(
    serve: ServeFactory, catalogue: Catalogue
) -> None:
    with _client(serve) as client:
        response = client.get("/sitemap.xml")
        kind, locs = _sitemap(client, "/sitemap.xml")
        again = client.get("/sitemap.xml", headers={"If-None-Match": response.headers["etag"]})
    assert kind == "urlset"
    assert locs[0] == f"{BASE}/"
    assert sorted(locs[1:]) == sorted(f"{BASE}/dataset/{i}" for i in catalogue.public)
    assert response.text.count("<lastmod>") == len(catalogue.public)
    assert again.status_code == 304


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_above_the_limit_the_sitemap_is_an_index_of_parts(
    serve: ServeFactory, catalogue: Catalogue, database: Database, limit: int
) -> None:
    public = list(catalogue.public)
    with database.transaction() as s:  # after the hidden ones: their pks lie in between
        for n in range(2):
            record = datasets.create_dataset(s, make_record(title=f"Later {n}"), author=AUTHOR)
            publication.publish(s, record["id"], author=AUTHOR)
            public.append(record["id"])
    urls = len(public) + 1  # and the home page
    parts = -(-urls // limit)
    with _client(serve, pages=PageSettings(sitemap_urls=limit)) as client:
        kind, named = _sitemap(client, "/sitemap.xml")
        assert kind == "sitemapindex"
        assert named == [f"{BASE}/sitemap-{n}.xml" for n in range(1, parts + 1)]
        walked: list[str] = []
        for url in named:
            kind, locs = _sitemap(client, url.removeprefix(BASE))
            assert kind == "urlset" and 1 <= len(locs) <= limit
            walked += locs
        for missing in (f"/sitemap-{parts + 1}.xml", "/sitemap-0.xml", "/sitemap-x.xml"):
            assert client.get(missing).status_code == 404
    assert walked == [f"{BASE}/", *(f"{BASE}/dataset/{i}" for i in public)]


def test_one_file_holds_the_sitemap_up_to_the_limit(
    serve: ServeFactory, catalogue: Catalogue
) -> None:
    with _client(serve, pages=PageSettings(sitemap_urls=len(catalogue.public) + 1)) as client:
        kind, locs = _sitemap(client, "/sitemap.xml")
    assert kind == "urlset" and len(locs) == len(catalogue.public) + 1


def test_robots_allows_everything_and_names_the_sitemap(serve: ServeFactory) -> None:
    with _client(serve) as client:
        response = client.get("/robots.txt", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert "User-agent: *" in lines and "Allow: /" in lines
    assert f"Sitemap: {BASE}/sitemap.xml" in lines


def test_page_settings_are_bounded() -> None:
    with pytest.raises(ValueError):
        PageSettings(sitemap_urls=50_001)
    with pytest.raises(ValueError):
        PageSettings(home_page_size=0)


def test_every_dataset_link_of_the_home_page_is_a_page(
    serve: ServeFactory, catalogue: Catalogue
) -> None:
    with _client(serve) as client:
        for href in links(_page(client, "/")):
            if "/dataset/" in href:
                tree = _page(client, href.removeprefix(BASE))
                (h1,) = tree.iter("h1")
                assert dataset_id(href) in catalogue.public and h1.text
