from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from app.models.database import Database
from app.services import access, api_keys
from app.services.errors import NotFound, Unauthorized


@pytest.fixture
def ann(database: Database) -> int:
    with database.transaction() as session:
        user = access.create_user(session, "ann", display_name="Ann Example")
        access.create_team(session, "fin01", "Finance")
        access.add_to_team(session, "fin01", user.id)
        group = access.create_group(session, "Analysts")
        access.add_to_group(session, group.id, user.id)
        return user.id


def test_issued_key_authenticates_as_its_user(database: Database, ann: int) -> None:
    with database.transaction() as session:
        issued = api_keys.create_api_key(session, ann, "  harvester ")
    assert issued.key.startswith(api_keys.KEY_PREFIX)
    assert issued.label == "harvester"
    for header in (issued.key, f"Apikey {issued.key}", f"Bearer {issued.key}"):
        with database.read() as session:
            principal = api_keys.authenticate(session, header)
        assert (principal.name, principal.user_id) == ("ann", ann)
        assert principal.team_ids == {"fin01"}
        assert len(principal.group_ids) == 1
    with database.read() as session:
        [info] = api_keys.api_key_summaries(session)
    assert (info.uid, info.label, info.username, info.revoked_at) == (
        issued.uid,
        "harvester",
        "ann",
        None,
    )
    assert issued.key.startswith(info.prefix)


def test_revoked_unknown_and_inactive_keys_are_refused(database: Database, ann: int) -> None:
    with database.transaction() as session:
        first = api_keys.create_api_key(session, ann, "one")
        second = api_keys.create_api_key(session, ann, "two")
    with database.transaction() as session:
        api_keys.revoke_api_key(session, first.uid)
    with pytest.raises(Unauthorized), database.read() as session:
        api_keys.authenticate(session, first.key)
    with database.read() as session:
        assert api_keys.authenticate(session, second.key).user_id == ann
    with pytest.raises(Unauthorized), database.read() as session:
        api_keys.authenticate(session, second.key[:-1] + ("A" if second.key[-1] != "A" else "B"))
    with pytest.raises(Unauthorized), database.read() as session:
        api_keys.authenticate(session, "")
    with database.transaction() as session:
        access.get_user(session, ann).is_active = False
    with pytest.raises(Unauthorized), database.read() as session:
        api_keys.authenticate(session, second.key)
    with pytest.raises(NotFound), database.transaction() as session:
        api_keys.revoke_api_key(session, "ak_nothere")


def test_revoking_twice_keeps_the_first_revocation_time(database: Database, ann: int) -> None:
    with database.transaction() as session:
        issued = api_keys.create_api_key(session, ann)
    with database.transaction() as session:
        api_keys.revoke_api_key(session, issued.uid)
    with database.read() as session:
        [revoked] = api_keys.api_key_summaries(session)
    with database.transaction() as session:
        api_keys.revoke_api_key(session, issued.uid)
    with database.read() as session:
        assert api_keys.api_key_summaries(session)[0].revoked_at == revoked.revoked_at
    assert revoked.revoked_at is not None


def test_the_plain_key_is_stored_nowhere(database: Database, ann: int, tmp_path: Path) -> None:
    with database.transaction() as session:
        issued = api_keys.create_api_key(session, ann, "secret holder")
    secret_part = issued.key[len(issued.key) // 2 :]  # well past the stored prefix
    with database.read() as session:
        row = session.execute(text("SELECT * FROM api_keys")).mappings().one()
    assert row["key_hash"] == api_keys.hash_key(issued.key)
    for value in row.values():
        assert issued.key not in str(value)
        assert secret_part not in str(value)
    database.dispose()  # flush the WAL and close every connection before reading the bytes
    for path in tmp_path.glob("catalogue.sqlite*"):
        assert secret_part.encode() not in path.read_bytes(), path.name
