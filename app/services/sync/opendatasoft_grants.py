"""Our access rules of one dataset, as Opendatasoft security rulesets would hold them.

Opendatasoft (seed 004) grants per dataset, to users (by username) and to groups (by group uid),
the permissions explore_restricted_dataset, edit_dataset, publish_dataset and manage_dataset:
the same four our rulesets hold (services.permissions). So:

- our user rulesets -> user rulesets; collaborators -> edit_dataset; read users ->
  explore_restricted_dataset; each with what it implies (editing implies reading, as
  services.visibility has it);
- our group rulesets -> group rulesets, the portal group uid derived from our group's title;
- the owner team and read teams -> nothing: Opendatasoft has no teams (reported).

`CatalogueGrants` answers for a remote's datasets from the local catalogue (sync links give the
local dataset of a remote id); its database reads run in a worker thread.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Dataset, Group, GroupRuleset, SyncLink, User, UserRuleset
from app.models.database import Database
from app.services.mappings import Loss
from app.services.mappings.opendatasoft import DatasetGrants, group_uid
from app.services.permissions import Permission, effective, to_names


def local_grants(session: Session, dataset_id: str) -> DatasetGrants | None:
    """The grants of local dataset `dataset_id` (None if it does not exist)."""
    dataset = session.scalar(select(Dataset).where(Dataset.id == dataset_id))
    if dataset is None:
        return None
    users: dict[str, int] = {}
    for ruleset in session.scalars(select(UserRuleset).where(UserRuleset.dataset_pk == dataset.pk)):
        users[ruleset.user.username] = users.get(ruleset.user.username, 0) | ruleset.perms
    for user in dataset.collaborators:
        users[user.username] = users.get(user.username, 0) | Permission.EDIT_DATASET
    for user in dataset.read_users:
        users[user.username] = users.get(user.username, 0) | Permission.EXPLORE_RESTRICTED_DATASET
    groups: dict[str, int] = {}
    for group_ruleset in session.scalars(
        select(GroupRuleset).where(GroupRuleset.dataset_pk == dataset.pk)
    ):
        uid = group_uid(group_ruleset.group.title)
        groups[uid] = groups.get(uid, 0) | group_ruleset.perms
    issues: list[Loss] = []
    if dataset.team:
        issues.append(
            Loss("team", f"Opendatasoft has no teams: team {dataset.team} is not granted")
        )
    if dataset.read_teams:
        names = ", ".join(t.id for t in dataset.read_teams)
        issues.append(Loss("readteams", f"Opendatasoft has no teams: {names} not granted"))
    return DatasetGrants(
        users={name: to_names(effective(bits)) for name, bits in sorted(users.items())},
        groups={uid: to_names(effective(bits)) for uid, bits in sorted(groups.items())},
        issues=tuple(issues),
        managed_users=frozenset(session.scalars(select(User.username))),
        managed_groups=frozenset(group_uid(t) for t in session.scalars(select(Group.title))),
    )


class CatalogueGrants:
    """Grants of the local datasets synced with one remote."""

    def __init__(self, database: Database, remote_pk: int) -> None:
        self.database = database
        self.remote_pk = remote_pk

    async def for_dataset(self, dataset_id: str) -> DatasetGrants | None:
        return await asyncio.to_thread(self._read, dataset_id, None)

    async def for_remote(self, remote_id: str) -> DatasetGrants | None:
        return await asyncio.to_thread(self._read, None, remote_id)

    def _read(self, dataset_id: str | None, remote_id: str | None) -> DatasetGrants | None:
        with self.database.read() as session:
            if dataset_id is None:
                dataset_id = session.scalar(
                    select(SyncLink.dataset_id).where(
                        SyncLink.remote_pk == self.remote_pk, SyncLink.remote_id == remote_id
                    )
                )
            return local_grants(session, dataset_id) if dataset_id else None
