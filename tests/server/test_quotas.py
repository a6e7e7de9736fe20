"""Per-caller quotas (server.quotas, seed 003 "Quotas" and "Errors handling") on a real uvicorn
server on loopback, with the counter's clock in the test's hand: time moves without sleeping."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from app.cli import build_parser
from app.cli_serve import quota_settings
from app.services.server.incremental import VERSION_HEADER
from app.services.server.quotas import (
    HEADERS,
    QuotaCounter,
    QuotaSettings,
    openapi_components,
    quotas_for,
    with_quota_answer,
)
from app.services.server.runner import ServerStartFailed
from tests.server.conftest import Catalogue, ServeFactory
from tests.server.test_openapi import DOC, resolve, schema_errors

NOON = datetime(2021, 1, 25, 12, 0, tzinfo=UTC).timestamp()
MIDNIGHT = int(datetime(2021, 1, 26, tzinfo=UTC).timestamp())  # the seed's reset_time
ANONYMOUS_LIMIT = 3
KEY_LIMIT = 5
PATHS = ("/", "/api/v1/dataset.csv", "/oai?verb=Identify", "/api/v1/deleted.json")


class Clock:
    """Unix seconds that move only when the test says."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def url(serve: ServeFactory, catalogue: Catalogue, clock: Clock) -> str:
    settings = QuotaSettings(ANONYMOUS_LIMIT, KEY_LIMIT, "day", clock=clock)
    return serve(quotas=settings).url


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=20) as client:
        yield client


def quota(response: httpx.Response) -> tuple[str, str, str]:
    limit, remaining, reset = (response.headers[name] for name in HEADERS)
    return limit, remaining, reset


def test_the_call_past_the_limit_is_the_seeds_429(http: httpx.Client) -> None:
    answers = [http.get(path) for path in PATHS]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [quota(a) for a in answers] == [
        ("3", "2", str(MIDNIGHT)),
        ("3", "1", str(MIDNIGHT)),
        ("3", "0", str(MIDNIGHT)),
        ("3", "0", str(MIDNIGHT)),
    ]
    refused = answers[3]
    assert refused.json() == {
        "errorcode": 10005,
        "reset_time": "2021-01-26T00:00:00Z",
        "limit_time_unit": "day",
        "call_limit": 3,
        "error": "You have exceeded the requests limit for anonymous users.",
    }
    assert refused.headers["content-type"] == "application/json"
    assert "retry-after" not in refused.headers  # as the seed and the fake: the body says when
    # No handler, nor anything inside the quotas, ran: the catalogue version was not read.
    assert all(VERSION_HEADER in a.headers for a in answers[:3])
    assert VERSION_HEADER not in refused.headers
    # Every path and method is counted, errors included, and stays refused.
    for method, path in (
        ("GET", "/"),
        ("HEAD", "/robots.txt"),
        ("GET", "/nowhere"),
        ("POST", "/oai"),
    ):
        again = http.request(method, path)
        assert again.status_code == 429 and quota(again)[1] == "0", (method, path)


def test_the_429_is_the_one_the_openapi_document_describes(http: httpx.Client) -> None:
    for _ in range(ANONYMOUS_LIMIT):
        http.get("/api/v1/deleted.json")
    refused = http.get("/api/v1/deleted.json")
    operation = DOC["paths"]["/api/v1/deleted.json"]["get"]
    answer = resolve(operation["responses"]["429"])
    assert all(
        resolve(h)["required"] and name in refused.headers for name, h in answer["headers"].items()
    )
    schema = answer["content"]["application/json"]["schema"]
    assert schema_errors(schema, refused.json()) == []
    assert schema_errors(schema, {**refused.json(), "errorcode": 10001})  # it does say no
    # and the document says so wherever an operation is (scripts/update_openapi.py)
    for path, item in DOC["paths"].items():
        assert item == with_quota_answer(item), f"{path}: run scripts/update_openapi.py"
    for section, entries in openapi_components().items():
        for name, entry in entries.items():
            assert DOC["components"][section][name] == entry, "run scripts/update_openapi.py"


def test_a_key_has_its_own_count_however_it_is_presented(
    http: httpx.Client, catalogue: Catalogue
) -> None:
    for _ in range(ANONYMOUS_LIMIT + 1):
        http.get("/api/v1/deleted.json")
    assert http.get("/").status_code == 429  # this address has spent its anonymous quota
    key = catalogue.alice
    answers = [
        http.get("/api/v1/deleted.json", headers={"Authorization": f"Apikey {key}"}),
        http.get("/api/v1/deleted.json", headers={"Authorization": f"Bearer {key}"}),
        http.get("/api/v1/deleted.json", headers={"Authorization": key}),
        http.get("/", params={"apikey": key}),
        http.get("/robots.txt", params={"apikey": key}),
        http.get("/api/v1/deleted.json", headers={"Authorization": f"Apikey {key}"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 429]
    assert [quota(a)[:2] for a in answers] == [
        ("5", "4"),
        ("5", "3"),
        ("5", "2"),
        ("5", "1"),
        ("5", "0"),
        ("5", "0"),
    ]
    assert answers[5].json() == {
        "errorcode": 10002,
        "reset_time": "2021-01-26T00:00:00Z",
        "limit_time_unit": "day",
        "call_limit": 5,
        "error": "Too many requests on the domain. Please contact the domain administrator.",
    }
    # Another key counts apart; a wrong key is counted under its own hash and refused by the
    # endpoint, as ever.
    bob = http.get("/api/v1/deleted.json", headers={"Authorization": catalogue.bob})
    assert bob.status_code == 200 and quota(bob)[:2] == ("5", "4")
    wrong = http.get("/api/v1/deleted.json", headers={"Authorization": "cdk_not-a-key"})
    assert wrong.status_code == 401 and quota(wrong)[:2] == ("5", "4")


def test_two_client_addresses_are_counted_apart(http: httpx.Client, url: str) -> None:
    for _ in range(ANONYMOUS_LIMIT + 1):
        http.get("/")
    assert http.get("/").status_code == 429
    # Linux routes all of 127/8 to lo: the server sees this client as 127.0.0.2.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=url, transport=transport, timeout=20) as other:
        answers = [other.get("/") for _ in range(ANONYMOUS_LIMIT + 1)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [quota(a)[1] for a in answers] == ["2", "1", "0", "0"]


def test_the_window_rolls_over_at_the_end_of_the_utc_period(
    http: httpx.Client, clock: Clock
) -> None:
    for _ in range(ANONYMOUS_LIMIT):
        assert http.get("/").status_code == 200
    clock.now = MIDNIGHT - 0.001  # still the 25th
    assert http.get("/").status_code == 429
    clock.now = MIDNIGHT  # the 26th: a new day, a new count
    answer = http.get("/")
    assert answer.status_code == 200
    assert quota(answer) == ("3", "2", str(MIDNIGHT + 86_400))


def test_hour_and_minute_windows_end_on_the_hour_and_the_minute(clock: Clock) -> None:
    clock.now = datetime(2021, 1, 25, 12, 34, 56, tzinfo=UTC).timestamp()
    for period, ends in (
        ("hour", datetime(2021, 1, 25, 13, 0, tzinfo=UTC)),
        ("minute", datetime(2021, 1, 25, 12, 35, tzinfo=UTC)),
    ):
        counter = QuotaCounter(QuotaSettings(0, 1, period, clock=clock))
        tally = counter.count("127.0.0.1", None)
        assert tally.refused and tally.reset == int(ends.timestamp())
        body = tally.error_body()
        assert body["limit_time_unit"] == period and body["call_limit"] == 0
        assert body["reset_time"] == ends.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_table_of_callers_is_capped_and_emptied_each_window(clock: Clock) -> None:
    counter = QuotaCounter(QuotaSettings(2, 2, "minute", clock=clock), max_callers=3)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert counter.count(address, None).calls == 1
    # Past the cap, callers not seen this window share one bucket per kind.
    assert [counter.count(f"10.0.1.{n}", None).calls for n in range(3)] == [1, 2, 3]
    assert counter.count(None, "cdk_one").calls == 1
    assert counter.count(None, "cdk_two").calls == 2
    assert counter.count("10.0.0.1", None).calls == 2  # a caller already seen keeps its own
    assert len(counter) == 5  # the three, and the two shared buckets
    clock.now += 60
    assert counter.count("10.0.1.0", None).calls == 1
    assert len(counter) == 1


def test_the_counter_counts_every_call_of_many_threads(clock: Clock) -> None:
    counter = QuotaCounter(QuotaSettings(10_000, 10_000, clock=clock))
    threads = [
        threading.Thread(target=lambda: [counter.count("10.0.0.1", None) for _ in range(500)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.count("10.0.0.1", None).calls == 8 * 500 + 1


def test_browsers_may_read_the_quota_and_the_429(http: httpx.Client) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    preflight = http.options("/", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200 and not any(h in preflight.headers for h in HEADERS)
    answers = [http.get("/", headers=origin) for _ in range(ANONYMOUS_LIMIT + 1)]
    assert answers[-1].status_code == 429  # the preflight was not counted
    for answer in answers:
        assert answer.headers["access-control-allow-origin"] == "*"
        exposed = answer.headers["access-control-expose-headers"].lower()
        assert all(name.lower() in exposed for name in HEADERS)


def test_quotas_are_off_on_loopback_by_default(serve: ServeFactory) -> None:
    server = serve()  # create_app without quotas, as the window and serve on 127.0.0.1
    with httpx.Client(base_url=server.url, timeout=20) as http:
        answers = [http.get("/robots.txt") for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert not any(name in a.headers for a in answers for name in HEADERS)


@pytest.mark.parametrize(
    ("host", "on"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("localhost", False),
        ("::1", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.10", True),
        ("data.example.org", True),
    ],
)
def test_quotas_are_on_by_default_off_loopback(host: str, on: bool) -> None:
    assert quotas_for(host) == (QuotaSettings() if on else None)
    assert quotas_for(host, enabled=False) is None
    assert quotas_for(host, QuotaSettings(7), enabled=True) == QuotaSettings(7)


def test_serve_options_choose_the_quotas() -> None:
    def settings(*argv: str) -> QuotaSettings | None:
        return quota_settings(build_parser().parse_args(["serve", *argv]))

    assert settings() is None
    assert settings("--host", "0.0.0.0") == QuotaSettings(1000, 10_000, "day")
    assert settings("--host", "0.0.0.0", "--no-quotas") is None
    assert settings("--quota-anonymous", "5") == QuotaSettings(5, 10_000, "day")
    assert settings("--host", "::", "--quota-key", "9", "--quota-period", "hour") == (
        QuotaSettings(1000, 9, "hour")
    )
    with pytest.raises(ServerStartFailed, match="contradict"):
        settings("--no-quotas", "--quota-key", "3")
    with pytest.raises(SystemExit):
        settings("--quota-anonymous", "-1")
    with pytest.raises(ValueError, match="period"):
        QuotaSettings(period="week")
