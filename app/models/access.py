"""Who may do what: teams, users, groups, per-dataset rulesets (seed 004) and issued API keys."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base

team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

group_members = Table(
    "group_members",
    Base.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

# DataPress access lists of a dataset: collaborators edit, read users and read teams read.
dataset_collaborators = Table(
    "dataset_collaborators",
    Base.metadata,
    Column("dataset_pk", ForeignKey("datasets.pk", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

dataset_read_users = Table(
    "dataset_read_users",
    Base.metadata,
    Column("dataset_pk", ForeignKey("datasets.pk", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

dataset_read_teams = Table(
    "dataset_read_teams",
    Base.metadata,
    Column("dataset_pk", ForeignKey("datasets.pk", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(5), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    members: Mapped[list[User]] = relationship(secondary=team_members, back_populates="teams")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)

    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members")
    groups: Mapped[list[Group]] = relationship(secondary=group_members, back_populates="members")


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    members: Mapped[list[User]] = relationship(secondary=group_members, back_populates="groups")


class UserRuleset(Base):
    """Seed 004 dataset user ruleset; `perms` is a bit set of services.permissions.Permission."""

    __tablename__ = "user_rulesets"
    __table_args__ = (UniqueConstraint("dataset_pk", "user_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_pk: Mapped[int] = mapped_column(ForeignKey("datasets.pk", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    perms: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship()


class GroupRuleset(Base):
    """Seed 004 dataset group ruleset; same bit set as UserRuleset."""

    __tablename__ = "group_rulesets"
    __table_args__ = (UniqueConstraint("dataset_pk", "group_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_pk: Mapped[int] = mapped_column(ForeignKey("datasets.pk", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    perms: Mapped[int] = mapped_column(Integer, default=0)

    group: Mapped[Group] = relationship()


class ApiKey(Base):
    """An API key this app issued. Only the SHA-256 of the key is stored; the key is shown once."""

    __tablename__ = "api_keys"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[str] = mapped_column(String(24))
    revoked_at: Mapped[str | None] = mapped_column(String(24))

    user: Mapped[User] = relationship()
