from __future__ import annotations

import pytest

from app.models.database import Database
from app.services import access
from app.services.errors import NotFound, ValidationFailed
from app.services.records import Record


def test_create_user_reports_each_bad_field(database: Database) -> None:
    with database.transaction() as session:
        access.create_user(session, "ann")
    with pytest.raises(ValidationFailed) as failure, database.transaction() as session:
        access.create_user(session, " ann ", email="not-an-email")
    assert failure.value.errors == {"username": "ann is taken", "email": "is not an email address"}
    with pytest.raises(ValidationFailed) as blank, database.transaction() as session:
        access.create_user(session, "   ")
    assert set(blank.value.errors) == {"username"}
    with database.read() as session:
        assert [u.username for u in access.list_users(session)] == ["ann"]
        assert access.list_users(session)[0].display_name == "ann"


def test_create_team_and_group_validation(database: Database) -> None:
    for bad_id in ("abc", "ABCDE", "ab-de", "abcdef"):
        with pytest.raises(ValidationFailed) as failure, database.transaction() as session:
            access.create_team(session, bad_id, "Title")
        assert set(failure.value.errors) == {"id"}, bad_id
    with database.transaction() as session:
        access.create_team(session, "fin01", "Finance")
        access.create_group(session, "Analysts")
    with pytest.raises(ValidationFailed) as dup_team, database.transaction() as session:
        access.create_team(session, "fin01", "Finance again")
    assert dup_team.value.errors == {"id": "team fin01 exists"}
    with pytest.raises(ValidationFailed) as dup_group, database.transaction() as session:
        access.create_group(session, "Analysts")
    assert set(dup_group.value.errors) == {"title"}
    with pytest.raises(ValidationFailed), database.transaction() as session:
        access.create_team(session, "abcde", "  ")


def test_memberships_add_is_idempotent_and_remove_works(database: Database) -> None:
    with database.transaction() as session:
        ann = access.create_user(session, "ann").id
        bob = access.create_user(session, "bob").id
        group = access.create_group(session, "Analysts").id
        access.create_team(session, "fin01", "Finance")
    with database.transaction() as session:
        access.add_to_group(session, group, ann)
        access.add_to_group(session, group, ann)
        access.add_to_group(session, group, bob)
        access.add_to_team(session, "fin01", bob)
    with database.read() as session:
        users = {u.username: u for u in access.user_summaries(session)}
        assert users["ann"].group_ids == (group,)
        assert users["bob"].team_ids == ("fin01",)
        assert access.group_summaries(session)[0].member_ids == tuple(sorted((ann, bob)))
        assert access.team_summaries(session)[0].member_ids == (bob,)
    with database.transaction() as session:
        access.remove_from_group(session, group, ann)
        access.remove_from_team(session, "fin01", bob)
        access.remove_from_team(session, "fin01", bob)  # not a member any more: no error
    with database.read() as session:
        assert access.group_summaries(session)[0].member_ids == (bob,)
        assert access.team_summaries(session)[0].member_ids == ()
    with pytest.raises(NotFound), database.transaction() as session:
        access.remove_from_group(session, group, 999)
    with pytest.raises(NotFound), database.transaction() as session:
        access.add_to_team(session, "nope1", ann)


def test_rulesets_create_replace_and_remove(database: Database, new_dataset: Record) -> None:
    dataset_id = new_dataset["id"]
    with database.transaction() as session:
        ann = access.create_user(session, "ann").id
        group = access.create_group(session, "Analysts").id
        access.set_user_ruleset(session, dataset_id, ann, ["edit_dataset"])
        access.set_group_ruleset(session, dataset_id, group, ["explore_restricted_dataset"])
    with database.read() as session:
        assert access.list_rulesets(session, dataset_id) == [
            access.RulesetInfo("user", ann, "ann", ["edit_dataset"]),
            access.RulesetInfo("group", group, "Analysts", ["explore_restricted_dataset"]),
        ]
    with database.transaction() as session:
        access.set_user_ruleset(session, dataset_id, ann, ["manage_dataset", "publish_dataset"])
        access.set_group_ruleset(session, dataset_id, group, [])
    with database.read() as session:
        assert access.list_rulesets(session, dataset_id) == [
            access.RulesetInfo("user", ann, "ann", ["publish_dataset", "manage_dataset"]),
        ]
    with pytest.raises(ValidationFailed) as failure, database.transaction() as session:
        access.set_user_ruleset(session, dataset_id, ann, ["read"])
    assert set(failure.value.errors) == {"permissions"}
    with pytest.raises(NotFound), database.transaction() as session:
        access.set_group_ruleset(session, dataset_id, 999, ["edit_dataset"])
    with pytest.raises(NotFound), database.read() as session:
        access.list_rulesets(session, "zzzzz")
