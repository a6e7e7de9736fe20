"""The harvest self-test (services.harvest_check) against the real server over a real catalogue,
and against tests.fakes.harvest for what the real server never does (records that differ from
the feed, malformed XML, a 500, a dump that does not match its manifest)."""

from __future__ import annotations

import socket

import pytest

from app.cli import main
from app.models.database import Database
from app.services import datasets, publication
from app.services.harvest_check import oai as oai_check
from app.services.harvest_check.findings import Finding, Level, Report
from app.services.harvest_check.http import DEFAULT_LIMITS, Limits
from app.services.harvest_check.run import STEP, STEPS, run_checks
from app.services.progress import Progress
from app.services.server import create_app
from tests.conftest import AUTHOR, make_record
from tests.fakes.faults import Fault
from tests.fakes.harvest import HarvestSite, schema_org_dataset
from tests.fakes.server import FakeServer
from tests.server.conftest import Catalogue, ServeFactory


def findings(report: Report, key: str, level: Level | None = None) -> list[Finding]:
    return [f for f in report.check(key).findings if level is None or f.level is level]


def titles(report: Report, key: str, level: Level | None = None) -> list[str]:
    return [f.title for f in findings(report, key, level)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


def checked(site: HarvestSite, limits: Limits = DEFAULT_LIMITS, *faults: Fault) -> Report:
    with FakeServer(site.app()) as server:
        for fault in faults:
            server.faults.add(fault)
        return run_checks(server.url, limits=limits)


# -- the real server -------------------------------------------------------------------------


def test_a_good_catalogue_gives_no_error_for_dcat_and_the_incremental_round(
    catalogue: Catalogue, serve: ServeFactory
) -> None:
    server = serve()
    report = run_checks(server.url)
    assert [c.name for c in report.checks] == list(STEPS)
    assert report.check("server").level is Level.OK
    assert titles(report, "dcat", Level.ERROR) == []
    assert titles(report, "dcat")[0] == "The feed's first page conforms to DCAT-AP 3.0.1"
    # The recommended properties are warnings, grouped, each naming its nodes.
    temporal = next(f for f in findings(report, "dcat") if "dcterms:temporal" in f.title)
    assert temporal.level is Level.WARNING
    assert temporal.title == "dcat:Dataset without dcterms:temporal"
    assert temporal.detail.startswith(f"{len(catalogue.public)} nodes: /dataset/")
    incremental = report.check("incremental")
    assert incremental.level is Level.OK, report.text()
    assert "A dump matches the manifest" in titles(report, "incremental")
    assert any(t.startswith("Deletions since version") for t in titles(report, "incremental"))


def test_a_dataset_without_a_licence_is_a_dcat_warning_on_its_files(
    database: Database, serve: ServeFactory
) -> None:
    with database.transaction() as s:
        record = datasets.create_dataset(
            s,
            make_record(
                licence={},
                resources={"r01": {"title": "File", "url": "https://x.example/a.csv"}},
            ),
            author=AUTHOR,
        )
        publication.publish(s, record["id"], author=AUTHOR)
    report = run_checks(serve().url)
    licence = next(f for f in findings(report, "dcat") if f.title.endswith("dcterms:license"))
    assert licence.title == "dcat:Distribution without dcterms:license"
    assert f"/dataset/{record['id']}/resource/r01" in licence.detail
    assert "Add it" in licence.action


def test_a_500_of_the_real_server_is_an_error_finding(
    database: Database, catalogue: Catalogue
) -> None:
    with FakeServer(create_app(database)) as server:
        server.faults.add(Fault("500", path="/api/v1/deleted.json", times=None))
        report = run_checks(server.url)
    errors = findings(report, "incremental", Level.ERROR)
    assert [f.title for f in errors] == [
        "Deletions since a version: HTTP 500 Internal Server Error"
    ]
    assert "error log" in errors[0].action
    assert report.check("dcat").level is not Level.ERROR  # the other checks still ran


def test_nothing_listening_is_one_error_finding_and_the_cli_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    report = run_checks(url)
    assert [c.key for c in report.checks] == ["server"]
    (finding,) = report.check("server").findings
    assert (finding.level, finding.title) == (Level.ERROR, "Server not reachable")
    assert "Start the server" in finding.action

    assert main(["check-harvest", "--url", url]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"Harvest check of {url}\n1 error and 0 warnings.")
    assert "[ERROR] Server not reachable" in out


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "http://", "http://[::1", "ftp://x.example"])
def test_what_is_not_a_server_address_is_said_so(url: str) -> None:
    report = run_checks(url)
    (finding,) = report.check("server").findings
    assert (finding.level, finding.title) == (Level.ERROR, f"Not a server address: {url!r}")
    assert "http://127.0.0.1:8080" in finding.action


def test_progress_moves_on_within_a_walk_and_ends_full() -> None:
    reports: list[tuple[int, int]] = []
    site = HarvestSite(feed=["a1", "a2", "a3", "a4"], records=["a1", "a2", "a3", "a4"])
    site.page_size = 1
    with FakeServer(site.app()) as server:
        run_checks(server.url, Progress(on_report=lambda d, t: reports.append((d, t))))
    done = [d for d, _ in reports]
    total = len(STEPS) * STEP
    assert {t for _, t in reports} == {total}
    assert done == sorted(done) and done[-1] == total
    oai = sorted({d for d in done if d // STEP == STEPS.index(oai_check.NAME)})
    # Identify, then each ListRecords page an eighth further (half the check is the walk of
    # four records, completeListSize says); the feed is one page.
    assert oai == [STEP, STEP + 124, STEP + 249, STEP + 374]


def test_the_cli_exits_0_on_a_good_catalogue_with_warnings(
    catalogue: Catalogue, serve: ServeFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    url = serve().url
    assert main(["check-harvest", "--url", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Harvest check of {url}\nNo errors: harvesters can read this server.")
    assert "[ERROR]" not in out and "[WARNING]" in out
    for name in STEPS:
        assert f"== {name} ==" in out


# -- a: OAI-PMH ------------------------------------------------------------------------------


def test_an_oai_walk_through_tokens_counts_records_and_deleted_headers() -> None:
    site = HarvestSite(feed=["a1", "a2", "a3"], records=["a1", "a2", "a3"], deleted=["z9"])
    report = checked(site)
    assert findings(report, "oai", Level.ERROR) == [], report.text()
    assert titles(report, "oai") == [
        "Identify answers OAI-PMH 2.0",
        "ListRecords walked to the end",
        "The live records are the published datasets",
    ]
    walk = findings(report, "oai")[1]
    assert walk.detail == "3 records and 1 deleted headers in 2 pages."


def test_oai_records_that_differ_from_the_feed_are_errors_naming_them() -> None:
    site = HarvestSite(feed=["a1", "a2"], records=["a1", "x7"], deleted=["a2"])
    report = checked(site)
    errors = {f.title: f for f in findings(report, "oai", Level.ERROR)}
    assert set(errors) == {
        "1 published datasets are missing from OAI-PMH",
        "1 OAI-PMH records are not published datasets",
        "1 published datasets are announced as deleted",
    }
    assert errors["1 OAI-PMH records are not published datasets"].detail == "e.g. x7"


def test_a_walk_is_capped_and_says_so() -> None:
    site = HarvestSite(feed=["a1", "a2", "a3"], records=["a1", "a2", "a3"], page_size=1)
    report = checked(site, Limits(max_records=2))
    (capped,) = findings(report, "oai", Level.WARNING)
    assert capped.title == "ListRecords: the walk was cut short by the check's limit"
    assert capped.detail.startswith("Seen: 2 records and 0 deleted headers in 2 pages")
    assert "The live records are the published datasets" not in titles(report, "oai")


def test_a_repeated_resumption_token_ends_the_walk_with_an_error() -> None:
    site = HarvestSite(records=["a1", "a2", "a3", "a4", "a5"], page_size=1, repeat_token=True)
    report = checked(site)
    assert "ListRecords: a resumptionToken came back again" in titles(report, "oai", Level.ERROR)


def test_malformed_oai_xml_is_an_error_finding() -> None:
    report = checked(HarvestSite(), DEFAULT_LIMITS, Fault("malformed", path="/oai", times=None))
    (error,) = findings(report, "oai", Level.ERROR)
    assert error.title == "Identify: the answer is not well-formed XML"


def test_an_oai_500_mid_walk_is_an_error_and_the_partial_walk_is_told() -> None:
    site = HarvestSite(records=["a1", "a2", "a3"], page_size=1)
    report = checked(site, DEFAULT_LIMITS, Fault("500", path="/oai", query="resumptionToken=2"))
    assert titles(report, "oai") == [
        "Identify answers OAI-PMH 2.0",
        "ListRecords, page 3: HTTP 500 Internal Server Error",
        "ListRecords: the walk stopped early",
    ]
    assert findings(report, "oai")[2].detail == (
        "Seen before: 2 records and 0 deleted headers in 2 pages."
    )


def test_the_real_provider_holds_the_published_datasets_and_the_deleted_ones(
    database: Database, catalogue: Catalogue, serve: ServeFactory
) -> None:
    with database.transaction() as s:
        datasets.delete_dataset(s, catalogue.public[2], author=AUTHOR)
        publication.unpublish(s, catalogue.public[1], author=AUTHOR)
    report = run_checks(serve(oai_page_size=1).url)  # a page a record: a token each
    oai = report.check("oai")
    assert oai.level is Level.OK, report.text()
    assert titles(report, "oai") == [
        "Identify answers OAI-PMH 2.0",
        "ListRecords walked to the end",
        "The live records are the published datasets",
    ]
    # Deleted, unpublished, and the fixture's dataset embargoed after it was published.
    assert oai.findings[1].detail == "1 records and 3 deleted headers in 4 pages."
    assert oai.findings[2].detail == "1 datasets in the JSON-LD feed, the same in OAI-PMH."


def test_a_proxy_page_instead_of_oai_pmh_is_an_error(
    database: Database, catalogue: Catalogue
) -> None:
    with FakeServer(create_app(database)) as server:
        server.faults.add(Fault("html", path="/oai", times=None))
        report = run_checks(server.url)
    (error,) = report.check("oai").findings
    assert error.title == "Identify: the answer is not OAI-PMH"
    assert "the root element is html" in error.detail


# -- b: DCAT-AP ------------------------------------------------------------------------------


def test_dcat_violations_are_errors_grouped_by_path_with_their_nodes() -> None:
    report = checked(HarvestSite(feed=["a1", "a2", "a3"]), Limits(examples=2))
    dcat = findings(report, "dcat")
    assert dcat[0].level is Level.ERROR
    assert dcat[0].title.startswith("The feed's first page breaks DCAT-AP 3.0.1")
    described = next(f for f in dcat if f.title == "dcat:Dataset without dcterms:description")
    assert described.level is Level.ERROR
    assert described.detail == (
        "3 nodes: <http://example.org/dataset/a1>, <http://example.org/dataset/a2> and 1 more"
    )


# -- c: schema.org ---------------------------------------------------------------------------


def test_a_complete_schema_org_dataset_passes() -> None:
    report = checked(HarvestSite())
    assert titles(report, "schema_org") == ["/dataset/a1 describes a schema.org Dataset"]


def test_a_dataset_page_without_licence_is_a_warning() -> None:
    report = checked(HarvestSite(dataset=schema_org_dataset(license=None)))
    (warning,) = findings(report, "schema_org")
    assert warning.level is Level.WARNING
    assert warning.title == "Recommended properties missing: license"
    assert "choose a licence" in warning.action


def test_a_missing_description_is_an_error_and_a_short_one_a_warning() -> None:
    missing = checked(HarvestSite(dataset=schema_org_dataset(description=None)))
    assert titles(missing, "schema_org", Level.ERROR) == [
        "Required properties missing: description"
    ]
    short = checked(HarvestSite(dataset=schema_org_dataset(description="Bins.")))
    assert titles(short, "schema_org") == ["The description is 5 characters long"]


def test_downloads_without_a_url_or_a_format_are_named() -> None:
    downloads = [
        {"@type": "DataDownload", "name": "Old file"},
        {"@type": "DataDownload", "contentUrl": "https://x.example/a", "name": "Raw"},
    ]
    report = checked(HarvestSite(dataset=schema_org_dataset(distribution=downloads)))
    assert [(f.level, f.title, f.detail) for f in findings(report, "schema_org")] == [
        (Level.ERROR, "1 downloads have no contentUrl", "The Dataset of /dataset/a1: Old file."),
        (Level.WARNING, "1 downloads have no encodingFormat", "The Dataset of /dataset/a1: Raw."),
    ]


def test_the_real_dataset_page_is_read_as_schema_org(
    catalogue: Catalogue, serve: ServeFactory
) -> None:
    report = run_checks(serve().url)
    # make_record's description is one short sentence: the only thing Google would miss.
    assert [(f.level, f.title) for f in report.check("schema_org").findings] == [
        (Level.WARNING, "The description is 28 characters long")
    ]


def test_a_real_dataset_page_without_a_licence_is_a_warning(
    database: Database, serve: ServeFactory
) -> None:
    description = "Every bin the council collected, by street and week, since 2019, by crew."
    with database.transaction() as s:
        record = datasets.create_dataset(
            s, make_record(licence={}, description=description), author=AUTHOR
        )
        publication.publish(s, record["id"], author=AUTHOR)
    report = run_checks(serve().url)
    assert [(f.level, f.title) for f in report.check("schema_org").findings] == [
        (Level.WARNING, "Recommended properties missing: license, distribution")
    ]


def test_a_dataset_page_that_is_not_html_is_an_error() -> None:
    (error,) = findings(checked(HarvestSite(html_pages=False)), "schema_org")
    assert (error.level, error.title) == (Level.ERROR, "/dataset/a1 is not an HTML page")
    assert error.detail.endswith("/dataset/a1 answers application/json")
    assert "does not serve one" in error.action


# -- d: incremental --------------------------------------------------------------------------


def test_a_dump_that_does_not_match_its_manifest_is_an_error() -> None:
    report = checked(HarvestSite(manifest_sha256="0" * 64))
    (error,) = findings(report, "incremental", Level.ERROR)
    assert error.title == "A dump does not match the manifest"
    assert "SHA-256 " + "0" * 64 in error.detail


def test_a_feed_without_a_version_header_says_what_harvesters_lose() -> None:
    report = checked(HarvestSite(versioned=False))
    (error,) = report.check("incremental").findings
    assert error.title == "The feed has no Last-Modified-Version header"
    assert "walk the whole catalogue every time" in error.action


def test_links_to_a_public_url_that_does_not_answer_are_named(
    database: Database, catalogue: Catalogue, serve: ServeFactory
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    report = run_checks(serve(base_url=dead).url)
    errors = findings(report, "incremental", Level.ERROR)
    assert [f.title for f in errors] == [
        f"The server's links lead to {dead}, which does not answer"
    ]
    assert errors[0].detail.startswith(f"GET {dead}/api/")
    assert "public URL" in errors[0].action
