"""Sync with hosted portals: the remotes, and one link per dataset synced with a remote.

A remote is a portal (kind, base URL) under a name the person chose. Its API key is never
stored here: it lives in the OS keyring, or comes each run from an environment variable named
by `key_env` or from a file (readable only by its owner) named by `key_file`
(services.sync.remotes).

A sync link ties a local dataset to a remote one and holds what the three-way comparison needs
(docs/ARCHITECTURE.md: sync): the remote id and version, the local dataset version, and the base
snapshot, the last state both sides agreed on (the synced record keys only). `dataset_id` is not
a foreign key: a link outlives its local dataset, so that a local deletion can be shown and
pushed rather than forgotten. A link with `remote_id` NULL is a create in flight: the remote
dataset may or may not exist yet, and the next push looks it up before creating anything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base


class Remote(Base):
    __tablename__ = "remotes"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(Text)
    # "keyring", "env" (the key is read from the variable key_env each run), "file" (read from
    # the file key_file each run) or "none".
    key_source: Mapped[str] = mapped_column(String(10), default="none")
    key_env: Mapped[str | None] = mapped_column(String(200))
    key_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(24))
    last_synced_at: Mapped[str | None] = mapped_column(String(24))
    # The adapter's token of the last listing whose every change was applied (incremental).
    listing_token: Mapped[str | None] = mapped_column(Text)

    links: Mapped[list[SyncLink]] = relationship(
        back_populates="remote", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Remote {self.name} {self.kind} {self.base_url}>"


class SyncLink(Base):
    __tablename__ = "sync_links"
    __table_args__ = (
        Index("ix_sync_links_remote_dataset", "remote_pk", "dataset_id", unique=True),
        Index("ix_sync_links_remote_remote_id", "remote_pk", "remote_id", unique=True),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    remote_pk: Mapped[int] = mapped_column(ForeignKey("remotes.pk", ondelete="CASCADE"))
    dataset_id: Mapped[str] = mapped_column(String(5))
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_version: Mapped[str | None] = mapped_column(Text)
    local_version: Mapped[int | None] = mapped_column(Integer)
    # none_as_null: a link without an agreed state yet stores SQL NULL.
    base: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    synced_at: Mapped[str] = mapped_column(String(24))

    remote: Mapped[Remote] = relationship(back_populates="links")

    def __repr__(self) -> str:
        return f"<SyncLink {self.dataset_id} <-> {self.remote_id}>"
