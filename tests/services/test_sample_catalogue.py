from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, func, select

from app.models import Dataset, DatasetVersion, User
from app.models.database import Database
from app.services import access, datasets
from app.services.clock import today_iso
from app.services.errors import ValidationFailed
from app.services.sample_catalogue import (
    SAMPLE_PATH,
    is_empty,
    load_sample,
    open_catalogue,
    read_sample,
)
from app.services.validation import validate_record
from app.services.visibility import ANONYMOUS, display_state, principal_for_user, visible_clause
from tests.conftest import AUTHOR, make_record

# A fixed day before every embargo in the sample ends, so the state mix does not age out in 2027.
BEFORE_EMBARGOES = "2026-06-01"


def _dataset_ids(database: Database, *where: ColumnElement[bool]) -> set[str]:
    with database.read() as session:
        return set(session.scalars(select(Dataset.id).where(*where)))


def test_sample_file_is_in_the_checkout_and_consistent() -> None:
    assert SAMPLE_PATH.is_file()
    sample = read_sample()
    teams = {t["id"] for t in sample["teams"]}
    users = {u["id"] for u in sample["users"]}
    topics = {t["id"] for t in sample["topics"]}
    licences = {lic["url"] for lic in sample["licences"]}
    mastheads = {m["id"] for m in sample["mastheads"]}
    assert 20 <= len(sample["datasets"]) <= 30
    for record in sample["datasets"]:
        validate_record(record)
        assert record["team"] in teams
        assert set(record["topics"]) <= topics
        assert record["licence"]["url"] in licences
        assert record["masthead"] in mastheads
        assert set(record["collaborators"]) | set(record["readusers"]) <= users
        assert set(record["readteams"]) <= teams
        assert record["resources"], f"{record['id']} has no resources"
        children = [*record["resources"], *record["links"]]
        assert len(children) == len(set(children))
    # No API key, password or token ever ships in the sample.
    text = SAMPLE_PATH.read_text(encoding="utf-8").lower()
    assert "cdk_" not in text and "apikey" not in text and "password" not in text


def test_load_sample_goes_through_the_services(database: Database) -> None:
    assert is_empty(database)
    count = load_sample(database)
    sample = read_sample()
    assert count == len(sample["datasets"])
    assert not is_empty(database)
    with database.read() as session:
        assert session.scalar(select(func.count(Dataset.pk))) == count
        # Every dataset has its "create" version, as if a person had typed it in.
        assert session.scalar(select(func.count(DatasetVersion.pk))) == count
        foi = datasets.get_record(session, "f0i7r")
        assert foi["title"] == "Freedom of Information Requests"
        assert foi["descriptionText"].startswith("Every request for information")
        assert set(foi["resources"]) == {"k93", "p2w"}
        assert foi["resources"]["k93"]["timeFrame"] == {"gte": "2020-01", "lte": "2025-09"}
        assert foi["links"]["0xd"]["qa"]["httpStatus"] == 200
        assert foi["custom"]["geography"] == ["Harrowfield"]
        tom = session.scalar(select(User).where(User.username == "tom.wheeler"))
        assert tom is not None
        assert foi["collaborators"] == [tom.id]
        assert [t.id for t in tom.teams] == ["odt4q"]
        rulesets = {
            (r.kind, r.target_name, tuple(r.permissions))
            for r in access.list_rulesets(session, "cn2cr")
        }
        assert rulesets == {
            ("user", "dr.samir.nasser", ("explore_restricted_dataset",)),
            ("group", "Approved Researchers", ("explore_restricted_dataset",)),
        }
        researcher = session.scalar(select(User).where(User.username == "dr.samir.nasser"))
        assert researcher is not None
        as_researcher = principal_for_user(researcher)
    assert "cn2cr" in _dataset_ids(database, visible_clause(as_researcher))
    assert "eh3rg" not in _dataset_ids(database, visible_clause(as_researcher))


def test_sample_mixes_every_state(database: Database) -> None:
    load_sample(database)
    with database.read() as session:
        states = Counter(
            display_state(d, BEFORE_EMBARGOES) for d in session.scalars(select(Dataset))
        )
    assert set(states) == {"draft", "private", "embargoed", "published"}
    assert states["embargoed"] >= 2
    assert states["draft"] >= 2
    assert states["published"] > len(read_sample()["datasets"]) // 2


def test_anonymous_sees_only_published_public_unembargoed(database: Database) -> None:
    load_sample(database)
    today = today_iso()
    expected = {
        r["id"]
        for r in read_sample()["datasets"]
        if r["state"] == "published"
        and r["sharing"] == "public"
        and (r["embargoUntil"] is None or r["embargoUntil"] <= today)
    }
    assert _dataset_ids(database, visible_clause(ANONYMOUS)) == expected
    pinned = _dataset_ids(database, visible_clause(ANONYMOUS, BEFORE_EMBARGOES))
    assert "gp6ay" not in pinned  # embargoed until 2027
    assert "wb9rv" not in pinned  # draft and private
    assert "hl6qt" not in pinned  # published but private
    assert "f0i7r" in pinned


def test_open_catalogue_loads_the_sample_once(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    database = open_catalogue(path, with_sample=True)
    try:
        loaded = _dataset_ids(database)
        assert len(loaded) == len(read_sample()["datasets"])
    finally:
        database.dispose()
    again = open_catalogue(path, with_sample=True)
    try:
        assert _dataset_ids(again) == loaded
        with again.read() as session:
            assert session.scalar(select(func.count(DatasetVersion.pk))) == len(loaded)
    finally:
        again.dispose()


def test_open_catalogue_without_sample_stays_empty(tmp_path: Path) -> None:
    database = open_catalogue(tmp_path / "plain.sqlite", with_sample=False)
    try:
        assert is_empty(database)
    finally:
        database.dispose()


def test_open_catalogue_leaves_a_catalogue_with_content_alone(tmp_path: Path) -> None:
    path = tmp_path / "used.sqlite"
    database = Database.open(path)
    with database.transaction() as session:
        kept = datasets.create_dataset(session, make_record(), author=AUTHOR)["id"]
    database.dispose()
    database = open_catalogue(path, with_sample=True)
    try:
        assert _dataset_ids(database) == {kept}
        # Emptied by its owner: history remains, so it is not "new" and gets no sample either.
        with database.transaction() as session:
            datasets.delete_dataset(session, kept, author=AUTHOR)
    finally:
        database.dispose()
    database = open_catalogue(path, with_sample=True)
    try:
        assert not is_empty(database)
        assert _dataset_ids(database) == set()
    finally:
        database.dispose()


def test_open_catalogue_leaves_a_catalogue_with_people_alone(tmp_path: Path) -> None:
    path = tmp_path / "people.sqlite"
    database = Database.open(path)
    with database.transaction() as session:
        access.create_user(session, "priya.shah")
    database.dispose()
    database = open_catalogue(path, with_sample=True)
    try:
        assert is_empty(database)
        assert _dataset_ids(database) == set()
    finally:
        database.dispose()


def test_a_clash_loads_nothing(database: Database) -> None:
    with database.transaction() as session:
        access.create_team(session, "odt4q", "Somebody else's team")
    with pytest.raises(ValidationFailed):
        load_sample(database)
    assert is_empty(database)
    with database.read() as session:
        assert session.scalar(select(func.count(User.id))) == 0
