"""The one place that decides who sees which dataset (docs/ARCHITECTURE.md: visibility).

Anonymous callers see published, public datasets whose embargo has passed. A user (an API key
acts as its user) also sees, in any state, the datasets they are granted: their team owns it,
they collaborate on it, they or one of their teams is on its read list, or a user or group
ruleset (seed 004) with any permission is declared for them. The desktop owner sees everything.
Every endpoint, export and view filters through `visible_clause`; `permissions_for` answers the
same question for one dataset and also says what the caller may do with it. The rules they
rest on (the embargo, "public", the state column) are written once in services.policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, case, exists, or_, select, true
from sqlalchemy.orm import Session

from app.models import (
    Dataset,
    GroupRuleset,
    User,
    UserRuleset,
    dataset_collaborators,
    dataset_read_teams,
    dataset_read_users,
)
from app.services import policy
from app.services.clock import today_iso
from app.services.permissions import Permission, effective

READ = Permission.EXPLORE_RESTRICTED_DATASET
ALL = Permission(15)
# Members of the owner team and collaborators edit, as DataPress has it.
EDITOR = Permission.EDIT_DATASET | READ
TEAM_MEMBER = Permission.EDIT_DATASET | Permission.PUBLISH_DATASET | READ


@dataclass(frozen=True)
class Principal:
    """Who is asking: nobody (anonymous), a user (through an API key), or the desktop owner."""

    name: str
    user_id: int | None = None
    team_ids: frozenset[str] = field(default_factory=frozenset)
    group_ids: frozenset[int] = field(default_factory=frozenset)
    is_owner: bool = False

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and not self.is_owner


ANONYMOUS = Principal(name="anonymous")
OWNER = Principal(name="owner", is_owner=True)


def principal_for_user(user: User) -> Principal:
    return Principal(
        name=user.username,
        user_id=user.id,
        team_ids=frozenset(t.id for t in user.teams),
        group_ids=frozenset(g.id for g in user.groups),
    )


def public_clause(today: str | None = None) -> ColumnElement[bool]:
    """Published, public and out of embargo: what anybody may see (policy.public)."""
    return policy.public(
        policy.SQL, Dataset.state, Dataset.sharing, Dataset.embargo_until, today or today_iso()
    )


def _granted_clause(principal: Principal) -> ColumnElement[bool]:
    user_id = principal.user_id
    teams = sorted(principal.team_ids)
    groups = sorted(principal.group_ids)
    clauses: list[ColumnElement[bool]] = [
        exists().where(
            dataset_collaborators.c.dataset_pk == Dataset.pk,
            dataset_collaborators.c.user_id == user_id,
        ),
        exists().where(
            dataset_read_users.c.dataset_pk == Dataset.pk,
            dataset_read_users.c.user_id == user_id,
        ),
        exists().where(
            UserRuleset.dataset_pk == Dataset.pk,
            UserRuleset.user_id == user_id,
            UserRuleset.perms != 0,
        ),
    ]
    if teams:
        clauses.append(Dataset.team.in_(teams))
        clauses.append(
            exists().where(
                dataset_read_teams.c.dataset_pk == Dataset.pk,
                dataset_read_teams.c.team_id.in_(teams),
            )
        )
    if groups:
        clauses.append(
            exists().where(
                GroupRuleset.dataset_pk == Dataset.pk,
                GroupRuleset.group_id.in_(groups),
                GroupRuleset.perms != 0,
            )
        )
    return or_(*clauses)


def visible_clause(
    principal: Principal, today: str | None = None, *, published_only: bool = False
) -> ColumnElement[bool]:
    """SQL condition on `Dataset` for the datasets `principal` may read.

    published_only: the bulk open-data surface (seed 000), published and out of embargo only,
    whatever else the caller is granted.
    """
    today = today or today_iso()
    if principal.is_owner:
        base: ColumnElement[bool] = true()
    elif principal.user_id is None:
        base = public_clause(today)
    else:
        base = or_(public_clause(today), _granted_clause(principal))
    if published_only:
        return and_(
            base,
            policy.published_out_of_embargo(
                policy.SQL, Dataset.state, Dataset.embargo_until, today
            ),
        )
    return base


def permissions_for(
    session: Session, principal: Principal, dataset: Dataset, today: str | None = None
) -> Permission:
    """What `principal` may do with one dataset. READ is set exactly when `visible_clause` holds."""
    if principal.is_owner:
        return ALL
    granted = Permission(0)
    if principal.user_id is not None:
        uid = principal.user_id
        if dataset.team is not None and dataset.team in principal.team_ids:
            granted |= TEAM_MEMBER
        if any(u.id == uid for u in dataset.collaborators):
            granted |= EDITOR
        if any(u.id == uid for u in dataset.read_users) or any(
            t.id in principal.team_ids for t in dataset.read_teams
        ):
            granted |= READ
        for perms in session.scalars(
            select(UserRuleset.perms).where(
                UserRuleset.dataset_pk == dataset.pk, UserRuleset.user_id == uid
            )
        ):
            granted |= effective(perms)
        if principal.group_ids:
            for perms in session.scalars(
                select(GroupRuleset.perms).where(
                    GroupRuleset.dataset_pk == dataset.pk,
                    GroupRuleset.group_id.in_(principal.group_ids),
                )
            ):
                granted |= effective(perms)
    if is_public(dataset, today):
        granted |= READ
    return granted


def is_public(dataset: Dataset, today: str | None = None) -> bool:
    """`public_clause` for one dataset."""
    return policy.public(
        policy.PYTHON, dataset.state, dataset.sharing, dataset.embargo_until, today or today_iso()
    )


def display_state(dataset: Dataset, today: str | None = None) -> str:
    """The state column: draft, embargoed, private or published (policy.display_states)."""
    return display_state_of(dataset.state, dataset.sharing, dataset.embargo_until, today)


def display_state_of(
    state: str | None, sharing: str | None, embargo_until: str | None, today: str | None = None
) -> str:
    """`display_state` of a record's values (the form's badge says what the table says)."""
    cases = policy.display_states(
        policy.PYTHON, state, sharing, embargo_until, today or today_iso()
    )
    return next((name for holds, name in cases if holds), policy.DEFAULT_DISPLAY_STATE)


def display_state_expr(today: str | None = None) -> ColumnElement[str]:
    """`display_state` in SQL, for sorting and filtering the table."""
    cases = policy.display_states(
        policy.SQL, Dataset.state, Dataset.sharing, Dataset.embargo_until, today or today_iso()
    )
    return case(*cases, else_=policy.DEFAULT_DISPLAY_STATE)
