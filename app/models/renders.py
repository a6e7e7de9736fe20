"""Each dataset's export fragments, rendered when the dataset is written (services.renders).

A dump is then a concatenation of stored fragments instead of a rendering per request: what
changes once per edit is rendered once per edit. `version` is the dataset's version the fragments
were rendered from; a row whose version is not the dataset's is stale and ignored by readers.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class DatasetRender(Base):
    __tablename__ = "dataset_renders"

    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("datasets.pk", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    datasets_csv: Mapped[bytes] = mapped_column(LargeBinary)
    resources_csv: Mapped[bytes] = mapped_column(LargeBinary)
    jsonld_node: Mapped[bytes] = mapped_column(LargeBinary)
    export_json: Mapped[bytes] = mapped_column(LargeBinary)
