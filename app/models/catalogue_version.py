"""The catalogue version: one integer that every committed change of the datasets moves on,
its log (when each version was made) and the tombstones of datasets that left the published
set. Written by services.catalogue_version; read by the harvest surfaces (incremental feeds,
deleted.json, OAI-PMH)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class CatalogueCounter(Base):
    """One row: the newest version handed out, and its time. A writer takes it with an UPDATE,
    which holds the row until the transaction ends: versions are handed out in commit order."""

    __tablename__ = "catalogue_counter"
    __table_args__ = (CheckConstraint("id = 1", name="ck_catalogue_counter_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[str] = mapped_column(String(24), default="")  # ISO 8601 UTC, as clock.now_iso


class CatalogueVersion(Base):
    """When version `version` was made: `at` (never earlier than the version before) and the
    local day (clock.today_iso), which the embargo compares with."""

    __tablename__ = "catalogue_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(24), index=True)
    day: Mapped[str] = mapped_column(String(10))


class Tombstone(Base):
    """A dataset that left the published set (deleted, unpublished, made private, embargoed
    again), at which version and when; kept for good, the newest leaving per id."""

    __tablename__ = "dataset_tombstones"
    __table_args__ = (Index("ix_dataset_tombstones_version", "version", "dataset_id"),)

    dataset_id: Mapped[str] = mapped_column(String(5), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(24))
