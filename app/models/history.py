"""Every change to a dataset, kept as a version that can be inspected and restored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        Index("ix_dataset_versions_dataset", "dataset_pk", "number"),
        # A dataset's next version number is looked up by its id (which survives a delete and
        # a restore under a new pk): without this index every write scans the whole history.
        Index("ix_dataset_versions_dataset_id", "dataset_id", "number"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: the history of a deleted dataset stays, so it can be restored.
    dataset_pk: Mapped[int] = mapped_column(Integer)
    dataset_id: Mapped[str] = mapped_column(String(5))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(24))
    author: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # none_as_null: a deletion's missing snapshot is SQL NULL, not the JSON value null.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
