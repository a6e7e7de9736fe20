"""Datasets with their resources (file uploads) and links, in the shape of DataPress seed 002."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base

if TYPE_CHECKING:
    from app.models.access import Team, User


class Dataset(Base):
    __tablename__ = "datasets"
    # AUTOINCREMENT: a deleted row's pk is never reused, so the pk is an immutable keyset key.
    __table_args__ = (
        Index("ix_datasets_title", "title", "pk"),
        Index("ix_datasets_updated_at", "updated_at", "pk"),
        Index("ix_datasets_state", "state", "pk"),
        Index("ix_datasets_created_at", "created_at", "pk"),
        Index("ix_datasets_catalogue_version", "catalogue_version", "pk"),
        Index("ix_datasets_changed_at", "changed_at", "pk"),
        Index("ix_datasets_embargo_until", "embargo_until", "pk"),
        # What a search checks of each full-text match (services.dataset_search), by pk.
        Index(
            "ix_datasets_search_filters",
            "pk",
            "state",
            "sharing",
            "embargo_until",
            "team",
            "licence_title",
            "changed_at",
            "created_at",
        ),
        {"sqlite_autoincrement": True},
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(5), unique=True)
    title: Mapped[str] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    description_text: Mapped[str] = mapped_column(Text, default="")
    description_iframe: Mapped[str | None] = mapped_column(Text)
    masthead: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_review_date: Mapped[str | None] = mapped_column(String(10))
    licence_url: Mapped[str | None] = mapped_column(Text)
    licence_title: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_title: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sharing: Mapped[str] = mapped_column(String(10), default="public")
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default="draft")
    embargo_until: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[str] = mapped_column(String(24))
    updated_at: Mapped[str] = mapped_column(String(24))
    site: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The catalogue version of its last change (services.catalogue_version), and that
    # version's time: what the incremental feeds and OAI-PMH select on.
    catalogue_version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[str] = mapped_column(String(24), default="")

    resources: Mapped[list[Resource]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        order_by="Resource.position",
        passive_deletes=True,
    )
    links: Mapped[list[Link]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        order_by="Link.position",
        passive_deletes=True,
    )

    # DataPress access lists: collaborators edit; read users and read teams read a private dataset.
    collaborators: Mapped[list[User]] = relationship(
        secondary="dataset_collaborators", order_by="User.id"
    )
    read_users: Mapped[list[User]] = relationship(
        secondary="dataset_read_users", order_by="User.id"
    )
    read_teams: Mapped[list[Team]] = relationship(
        secondary="dataset_read_teams", order_by="Team.id"
    )

    def __repr__(self) -> str:
        return f"<Dataset {self.id} {self.title!r}>"


# Sorting by team puts datasets without one first; coalesce lets one index serve that order.
Index("ix_datasets_team_sort", func.coalesce(Dataset.team, ""), Dataset.pk)


class Resource(Base):
    __tablename__ = "resources"
    __table_args__ = (UniqueConstraint("dataset_pk", "rid"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("datasets.pk", ondelete="CASCADE"), index=True
    )
    rid: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str | None] = mapped_column(Text)
    time_from: Mapped[str | None] = mapped_column(String(7))
    time_to: Mapped[str | None] = mapped_column(String(7))
    format: Mapped[str | None] = mapped_column(String(40))
    hash: Mapped[str | None] = mapped_column(String(135))  # "sha512:" and 128 hex digits
    size: Mapped[int | None] = mapped_column(Integer)
    timestamp: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[str | None] = mapped_column(Text)

    dataset: Mapped[Dataset] = relationship(back_populates="resources")


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("dataset_pk", "lid"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("datasets.pk", ondelete="CASCADE"), index=True
    )
    lid: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    qa_timestamp: Mapped[str | None] = mapped_column(String(32))
    qa_hash: Mapped[str | None] = mapped_column(Text)
    qa_size: Mapped[int | None] = mapped_column(Integer)
    qa_mimetype: Mapped[str | None] = mapped_column(Text)
    qa_http_status: Mapped[int | None] = mapped_column(Integer)

    dataset: Mapped[Dataset] = relationship(back_populates="links")
