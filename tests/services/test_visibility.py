"""visible_clause (SQL, for lists and exports) and permissions_for (one dataset) must agree."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Dataset, GroupRuleset, Team, User, UserRuleset
from app.models.database import Database
from app.services import access, api_keys, datasets, export_query
from app.services.errors import Unauthorized
from app.services.permissions import Permission
from app.services.visibility import (
    ANONYMOUS,
    EDITOR,
    OWNER,
    READ,
    TEAM_MEMBER,
    Principal,
    permissions_for,
    principal_for_user,
    visible_clause,
)
from tests.conftest import AUTHOR, make_record

TODAY = "2025-06-01"
PAST, FUTURE = "2025-01-01", "2025-12-31"
USERS = ("ann", "bob", "cat", "dan", "eve", "fay", "gus")


@dataclass
class Catalogue:
    user_ids: dict[str, int]
    group_ids: dict[str, int]
    titles: dict[str, str]  # dataset id -> title


def _visible(session: Session, principal: Principal, **kwargs: bool) -> set[str]:
    query = select(Dataset.title).where(visible_clause(principal, TODAY, **kwargs))
    return set(session.scalars(query))


def _readable(session: Session, principal: Principal) -> set[str]:
    return {
        d.title
        for d in session.scalars(select(Dataset))
        if permissions_for(session, principal, d, TODAY) & READ
    }


def _principal(session: Session, username: str) -> Principal:
    user = session.scalars(select(User).where(User.username == username)).one()
    return principal_for_user(user)


@pytest.fixture
def catalogue(database: Database) -> Catalogue:
    """A small catalogue mixing every state with every kind of grant.

    ann is in team fin01 (owns "owned draft"); bob collaborates on "collab private"; cat is a
    read user of "read-user draft"; dan is in team hr001, a read team of "read-team private";
    eve has a user ruleset on "user ruleset"; fay is in group Analysts, which has a group
    ruleset on "group ruleset"; gus is in group Idle, which has none anywhere that matters.
    """
    with database.transaction() as session:
        ids = {name: access.create_user(session, name).id for name in USERS}
        access.create_team(session, "fin01", "Finance")
        access.create_team(session, "hr001", "People")
        analysts = access.create_group(session, "Analysts").id
        idle = access.create_group(session, "Idle").id
        others = access.create_group(session, "Others").id
        access.add_to_team(session, "fin01", ids["ann"])
        access.add_to_team(session, "hr001", ids["dan"])
        access.add_to_group(session, analysts, ids["fay"])
        access.add_to_group(session, idle, ids["gus"])
    specs: dict[str, dict[str, object]] = {
        "published": {"state": "published"},
        "published, embargo over": {"state": "published", "embargoUntil": PAST},
        "published, embargoed": {"state": "published", "embargoUntil": FUTURE},
        "draft": {},
        "published private": {"state": "published", "sharing": "private"},
        "owned draft": {"team": "fin01"},
        "owned embargoed": {"state": "published", "embargoUntil": FUTURE, "team": "fin01"},
        "collab private": {
            "state": "published",
            "sharing": "private",
            "collaborators": [ids["bob"]],
        },
        "read-user draft": {"readusers": [ids["cat"]]},
        "read-team private": {"state": "published", "sharing": "private", "readteams": ["hr001"]},
        "user ruleset": {"sharing": "private"},
        "group ruleset": {"state": "published", "embargoUntil": FUTURE},
        "other group ruleset": {"sharing": "private"},
    }
    titles: dict[str, str] = {}
    with database.transaction() as session:
        for title, overrides in specs.items():
            record = datasets.create_dataset(
                session, make_record(title=title, **overrides), author=AUTHOR
            )
            titles[record["id"]] = title
        by_title = {title: dataset_id for dataset_id, title in titles.items()}
        access.set_user_ruleset(session, by_title["user ruleset"], ids["eve"], ["edit_dataset"])
        access.set_group_ruleset(
            session, by_title["group ruleset"], analysts, ["explore_restricted_dataset"]
        )
        access.set_group_ruleset(
            session, by_title["other group ruleset"], others, ["manage_dataset"]
        )
    return Catalogue(ids, {"Analysts": analysts, "Idle": idle, "Others": others}, titles)


PUBLIC = {"published", "published, embargo over"}
EXPECTED_EXTRA: dict[str, set[str]] = {
    "ann": {"owned draft", "owned embargoed"},
    "bob": {"collab private"},
    "cat": {"read-user draft"},
    "dan": {"read-team private"},
    "eve": {"user ruleset"},
    "fay": {"group ruleset"},
    "gus": set(),
}


def test_anonymous_sees_only_published_public_and_out_of_embargo(
    database: Database, catalogue: Catalogue
) -> None:
    with database.read() as session:
        assert _visible(session, ANONYMOUS) == PUBLIC
        assert _readable(session, ANONYMOUS) == PUBLIC
        for dataset in session.scalars(select(Dataset)):
            expected = READ if dataset.title in PUBLIC else Permission(0)
            assert permissions_for(session, ANONYMOUS, dataset, TODAY) == expected


@pytest.mark.parametrize("username", USERS)
def test_each_user_sees_exactly_what_they_are_granted(
    database: Database, catalogue: Catalogue, username: str
) -> None:
    with database.read() as session:
        principal = _principal(session, username)
        visible = _visible(session, principal)
        assert visible == PUBLIC | EXPECTED_EXTRA[username]
        assert _readable(session, principal) == visible


@pytest.mark.parametrize("username", [None, *USERS])
def test_rows_by_pk_reads_what_the_principal_sees(
    database: Database, catalogue: Catalogue, username: str | None
) -> None:
    with database.read() as session:
        principal = ANONYMOUS if username is None else _principal(session, username)
        every_pk = list(session.scalars(select(Dataset.pk).order_by(Dataset.pk)))
        rows = export_query.rows_by_pk(session, principal, every_pk, today=TODAY)
        assert {row.title for row in rows} == _visible(session, principal)
        summaries = export_query.summaries_by_pk(session, principal, every_pk, today=TODAY)
        assert [s.pk for s in summaries] == [row.pk for row in rows]
        scattered = every_pk[::3]  # read by an IN list, not by their span
        read = export_query.rows_by_pk(session, principal, scattered, today=TODAY)
        assert [row.pk for row in read] == [row.pk for row in rows if row.pk in scattered]
        everything = export_query.rows_by_pk(session, OWNER, every_pk, today=TODAY)
        assert len(everything) == len(every_pk) > len(rows)


def test_owner_sees_everything(database: Database, catalogue: Catalogue) -> None:
    with database.read() as session:
        assert _visible(session, OWNER) == set(catalogue.titles.values())
        assert _readable(session, OWNER) == set(catalogue.titles.values())


def test_what_each_grant_allows(database: Database, catalogue: Catalogue) -> None:
    expected = {
        ("ann", "owned draft"): TEAM_MEMBER,
        ("bob", "collab private"): EDITOR,
        ("cat", "read-user draft"): READ,
        ("dan", "read-team private"): READ,
        ("eve", "user ruleset"): EDITOR,  # edit_dataset implies explore
        ("fay", "group ruleset"): READ,
        ("gus", "group ruleset"): Permission(0),
        ("fay", "published"): READ,
    }
    with database.read() as session:
        by_title = {d.title: d for d in session.scalars(select(Dataset))}
        for (username, title), permissions in expected.items():
            principal = _principal(session, username)
            got = permissions_for(session, principal, by_title[title], TODAY)
            assert got == permissions, (username, title)


def test_bulk_surface_is_published_and_out_of_embargo_only(
    database: Database, catalogue: Catalogue
) -> None:
    with database.read() as session:
        ann = _principal(session, "ann")
        dan = _principal(session, "dan")
        assert _visible(session, ann, published_only=True) == PUBLIC
        assert _visible(session, dan, published_only=True) == PUBLIC | {"read-team private"}
        assert _visible(session, OWNER, published_only=True) == PUBLIC | {
            "published private",
            "collab private",
            "read-team private",
        }


def test_api_key_principal_and_revocation(database: Database, catalogue: Catalogue) -> None:
    with database.transaction() as session:
        issued = api_keys.create_api_key(session, catalogue.user_ids["fay"], "fay's harvester")
    with database.read() as session:
        principal = api_keys.authenticate(session, f"Apikey {issued.key}")
        assert _visible(session, principal) == PUBLIC | {"group ruleset"}
    with database.transaction() as session:
        api_keys.revoke_api_key(session, issued.uid)
    with pytest.raises(Unauthorized), database.read() as session:
        api_keys.authenticate(session, f"Apikey {issued.key}")


def test_removing_a_grant_hides_the_dataset_again(database: Database, catalogue: Catalogue) -> None:
    fay, analysts = catalogue.user_ids["fay"], catalogue.group_ids["Analysts"]
    by_title = {title: dataset_id for dataset_id, title in catalogue.titles.items()}
    with database.transaction() as session:
        access.remove_from_group(session, analysts, fay)
        access.set_user_ruleset(session, by_title["user ruleset"], catalogue.user_ids["eve"], [])
    with database.read() as session:
        for username in ("fay", "eve"):
            principal = _principal(session, username)
            assert _visible(session, principal) == PUBLIC
            assert _readable(session, principal) == PUBLIC


# ----------------------------------------------------------------------------- property test


class _Rollback(Exception):
    """Raised to discard one generated catalogue."""


dataset_specs = st.fixed_dictionaries(
    {
        "state": st.sampled_from(["draft", "published"]),
        "sharing": st.sampled_from(["public", "private"]),
        "embargo": st.sampled_from([None, PAST, TODAY, FUTURE]),
        "team": st.sampled_from([None, "fin01", "hr001"]),
        "collaborators": st.sets(st.sampled_from(USERS), max_size=2),
        "readusers": st.sets(st.sampled_from(USERS), max_size=2),
        "readteams": st.sets(st.sampled_from(["fin01", "hr001"]), max_size=2),
        "user_rulesets": st.dictionaries(
            st.sampled_from(USERS), st.integers(min_value=0, max_value=15), max_size=2
        ),
        "group_rulesets": st.dictionaries(
            st.sampled_from(["Analysts", "Idle", "Others"]),
            st.integers(min_value=0, max_value=15),
            max_size=2,
        ),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(dataset_specs, min_size=1, max_size=6))
def test_clause_and_permissions_agree_on_random_catalogues(
    database: Database, catalogue: Catalogue, specs: list[dict[str, object]]
) -> None:
    with contextlib.suppress(_Rollback), database.transaction() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        teams = {t.id: t for t in session.scalars(select(Team))}
        for n, spec in enumerate(specs):
            dataset = Dataset(
                id=f"gen{n:02d}",
                title=f"generated {n}",
                state=spec["state"],
                sharing=spec["sharing"],
                embargo_until=spec["embargo"],
                team=spec["team"],
                created_at=TODAY,
                updated_at=TODAY,
                collaborators=[users[u] for u in sorted(spec["collaborators"])],  # type: ignore[call-overload]
                read_users=[users[u] for u in sorted(spec["readusers"])],  # type: ignore[call-overload]
                read_teams=[teams[t] for t in sorted(spec["readteams"])],  # type: ignore[call-overload]
            )
            session.add(dataset)
            session.flush()
            for username, perms in spec["user_rulesets"].items():  # type: ignore[attr-defined]
                session.add(
                    UserRuleset(dataset_pk=dataset.pk, user_id=users[username].id, perms=perms)
                )
            for group, perms in spec["group_rulesets"].items():  # type: ignore[attr-defined]
                session.add(
                    GroupRuleset(
                        dataset_pk=dataset.pk, group_id=catalogue.group_ids[group], perms=perms
                    )
                )
        session.flush()
        principals = [ANONYMOUS, OWNER, *(principal_for_user(users[name]) for name in USERS)]
        for principal in principals:
            assert _readable(session, principal) == _visible(session, principal), principal.name
        raise _Rollback
