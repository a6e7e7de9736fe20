"""Users, groups, teams and the per-dataset rulesets of seed 004."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Group, GroupRuleset, Team, User, UserRuleset
from app.services.datasets import get_dataset
from app.services.errors import NotFound, ValidationFailed
from app.services.permissions import from_names, to_names
from app.services.validation import EMAIL


@dataclass(frozen=True)
class RulesetInfo:
    """One ruleset as shown in the permissions view: for a user or for a group."""

    kind: str  # "user" or "group"
    target_id: int
    target_name: str
    permissions: list[str]


@dataclass(frozen=True)
class UserSummary:
    """A user with the ids of their teams and groups, detached from any session."""

    id: int
    username: str
    display_name: str
    email: str | None
    is_active: bool
    team_ids: tuple[str, ...]
    group_ids: tuple[int, ...]


@dataclass(frozen=True)
class GroupSummary:
    id: int
    title: str
    description: str
    member_ids: tuple[int, ...]


@dataclass(frozen=True)
class TeamSummary:
    id: str
    title: str
    member_ids: tuple[int, ...]


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def list_groups(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.title)))


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.title)))


def create_user(
    session: Session, username: str, *, display_name: str = "", email: str | None = None
) -> User:
    username = username.strip()
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "a user name is required"
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        errors["username"] = f"{username} is taken"
    if email and not EMAIL.match(email):
        errors["email"] = "is not an email address"
    if errors:
        raise ValidationFailed(errors, subject="user")
    user = User(username=username, display_name=display_name or username, email=email or None)
    session.add(user)
    session.flush()
    return user


def create_group(session: Session, title: str, *, description: str = "") -> Group:
    title = title.strip()
    if not title:
        raise ValidationFailed({"title": "a group title is required"}, subject="group")
    if session.scalar(select(Group.id).where(Group.title == title)) is not None:
        raise ValidationFailed({"title": f"a group called {title} exists"}, subject="group")
    group = Group(title=title, description=description)
    session.add(group)
    session.flush()
    return group


def create_team(session: Session, team_id: str, title: str) -> Team:
    if len(team_id) != 5 or not team_id.isalnum() or team_id != team_id.lower():
        raise ValidationFailed({"id": "must be 5 lower-case letters or digits"}, subject="team")
    if not title.strip():
        raise ValidationFailed({"title": "a team title is required"}, subject="team")
    if session.get(Team, team_id) is not None:
        raise ValidationFailed({"id": f"team {team_id} exists"}, subject="team")
    team = Team(id=team_id, title=title.strip())
    session.add(team)
    session.flush()
    return team


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist")
    return user


def get_group(session: Session, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound(f"Group {group_id} does not exist")
    return group


def get_team(session: Session, team_id: str) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"Team {team_id} does not exist")
    return team


def add_to_group(session: Session, group_id: int, user_id: int) -> None:
    group, user = get_group(session, group_id), get_user(session, user_id)
    if user not in group.members:
        group.members.append(user)


def add_to_team(session: Session, team_id: str, user_id: int) -> None:
    team, user = get_team(session, team_id), get_user(session, user_id)
    if user not in team.members:
        team.members.append(user)


def set_user_ruleset(
    session: Session, dataset_id: str, user_id: int, permissions: list[str]
) -> None:
    """Create or replace a user's ruleset on a dataset; no permissions removes it."""
    get_user(session, user_id)
    _set_ruleset(session, UserRuleset, dataset_id, {"user_id": user_id}, permissions)


def set_group_ruleset(
    session: Session, dataset_id: str, group_id: int, permissions: list[str]
) -> None:
    """Create or replace a group's ruleset on a dataset; no permissions removes it."""
    get_group(session, group_id)
    _set_ruleset(session, GroupRuleset, dataset_id, {"group_id": group_id}, permissions)


RulesetModel = TypeVar("RulesetModel", UserRuleset, GroupRuleset)


def _set_ruleset(
    session: Session,
    model: type[RulesetModel],
    dataset_id: str,
    target: dict[str, int],
    permissions: list[str],
) -> None:
    dataset = get_dataset(session, dataset_id)
    bits = _bits(permissions)
    ruleset = session.scalar(select(model).filter_by(dataset_pk=dataset.pk, **target))
    if not bits:
        if ruleset is not None:
            session.delete(ruleset)
    elif ruleset is None:
        session.add(model(dataset_pk=dataset.pk, perms=bits, **target))
    else:
        ruleset.perms = bits


def list_rulesets(session: Session, dataset_id: str) -> list[RulesetInfo]:
    dataset = get_dataset(session, dataset_id)
    result: list[RulesetInfo] = []
    for ur in session.scalars(
        select(UserRuleset).where(UserRuleset.dataset_pk == dataset.pk).order_by(UserRuleset.pk)
    ):
        result.append(RulesetInfo("user", ur.user_id, ur.user.username, to_names(ur.perms)))
    for gr in session.scalars(
        select(GroupRuleset).where(GroupRuleset.dataset_pk == dataset.pk).order_by(GroupRuleset.pk)
    ):
        result.append(RulesetInfo("group", gr.group_id, gr.group.title, to_names(gr.perms)))
    return result


def _bits(permissions: list[str]) -> int:
    try:
        return from_names(permissions)
    except ValueError as error:
        raise ValidationFailed({"permissions": str(error)}, subject="ruleset") from error


def user_summaries(session: Session) -> list[UserSummary]:
    """Every user with their memberships, by user name, in three queries."""
    users = session.scalars(
        select(User)
        .options(selectinload(User.teams), selectinload(User.groups))
        .order_by(User.username)
    )
    return [
        UserSummary(
            id=u.id,
            username=u.username,
            display_name=u.display_name,
            email=u.email,
            is_active=u.is_active,
            team_ids=tuple(sorted(t.id for t in u.teams)),
            group_ids=tuple(sorted(g.id for g in u.groups)),
        )
        for u in users
    ]


def group_summaries(session: Session) -> list[GroupSummary]:
    groups = session.scalars(
        select(Group).options(selectinload(Group.members)).order_by(Group.title)
    )
    return [
        GroupSummary(g.id, g.title, g.description, tuple(sorted(u.id for u in g.members)))
        for g in groups
    ]


def team_summaries(session: Session) -> list[TeamSummary]:
    teams = session.scalars(select(Team).options(selectinload(Team.members)).order_by(Team.title))
    return [TeamSummary(t.id, t.title, tuple(sorted(u.id for u in t.members))) for t in teams]


def remove_from_group(session: Session, group_id: int, user_id: int) -> None:
    group, user = get_group(session, group_id), get_user(session, user_id)
    if user in group.members:
        group.members.remove(user)


def remove_from_team(session: Session, team_id: str, user_id: int) -> None:
    team, user = get_team(session, team_id), get_user(session, user_id)
    if user in team.members:
        team.members.remove(user)
