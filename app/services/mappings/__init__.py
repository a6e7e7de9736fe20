"""One mapping module per external format, both directions (docs/ARCHITECTURE.md: the record).

Each module maps our canonical record (services.records, the seed-002 DataPress JSON) to the
format and back, and declares once, as a `Carriage`, which record fields each direction carries.
What a direction cannot carry is derived from that declaration: the record's fields
(`record_fields`) minus the carried ones, each with a generic reason ("not carried by CKAN")
unless the mapping gives one that adds information. The server's serializers, the importers and
the sync adapters all call these modules, so an import preview, a sync preview and the server
report the same losses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.services.clock import today_iso
from app.services.record.fields import DATASET, SetBy


def record_fields() -> tuple[str, ...]:
    """The fields of a record a person sets (the field table's): what a format may carry or
    lose."""
    return tuple(_EMPTY)


# Each field's value in a new record: a field still at it has nothing to lose.
_EMPTY = {f.name: f.empty() for f in DATASET if f.set_by is SetBy.USER}


@dataclass(frozen=True, slots=True)
class Loss:
    """Something of one record a format cannot carry: a field path, and why."""

    field: str
    reason: str


def is_embargoed(record: Mapping[str, Any], today: str | None = None) -> bool:
    """Whether `record` is still under embargo (the day has not come yet): services.policy."""
    from app.services import policy  # loads SQLAlchemy: not for `main.py --help`

    embargo = record.get("embargoUntil")
    return policy.is_embargoed(str(embargo) if embargo else None, today)


def is_public_now(record: Mapping[str, Any], today: str | None = None) -> bool:
    """Published and out of embargo (services.policy): what a portal may show anybody."""
    from app.services import policy

    embargo = record.get("embargoUntil")
    return policy.published_out_of_embargo(
        policy.PYTHON, record.get("state"), str(embargo) if embargo else None, today or today_iso()
    )


def has_value(value: Any) -> bool:
    """Set to something: an empty text, list or object (or an object of empty parts) is not."""
    if isinstance(value, dict):
        return any(has_value(v) for v in value.values())
    return value not in (None, "", [], {})


# A field whose loss matters only in some states: an embargo that has passed loses nothing.
_MATTERS: dict[str, Callable[[Mapping[str, Any], str | None], bool]] = {
    "embargoUntil": is_embargoed,
}


@dataclass(frozen=True, slots=True)
class Carriage:
    """Which record fields one direction of a format carries, and why it drops the others
    (`reasons`: only where the reason says more than "not carried by <format>")."""

    format: str
    carried: frozenset[str]
    reasons: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, format_: str, carried: Iterable[str], **reasons: str) -> Carriage:
        return cls(format_, frozenset(carried), reasons)

    @classmethod
    def all_but(cls, format_: str, **reasons: str) -> Carriage:
        """Every field but those given, each with why it is not carried."""
        return cls(format_, frozenset(k for k in record_fields() if k not in reasons), reasons)

    @property
    def not_carried(self) -> tuple[str, ...]:
        return tuple(k for k in record_fields() if k not in self.carried)

    def reason(self, key: str) -> str:
        return self.reasons.get(key) or f"not carried by {self.format}"

    def losses(
        self,
        record: Mapping[str, Any],
        *,
        keys: Iterable[str] | None = None,
        today: str | None = None,
    ) -> list[Loss]:
        """The fields of `record` (of `keys`, if given) that are not carried and hold more than
        a new record's value."""
        wanted = None if keys is None else set(keys)
        losses: list[Loss] = []
        for key in self.not_carried:
            if wanted is not None and key not in wanted:
                continue
            matters = _MATTERS.get(key)
            value = record.get(key)
            if matters(record, today) if matters else has_value(value) and value != _EMPTY[key]:
                losses.append(Loss(key, self.reason(key)))
        return losses


def grouped(losses: Iterable[tuple[str, Loss]], examples: int = 5) -> list[str]:
    """One line per (field, reason) of (dataset id, loss) pairs: how many datasets, a few of
    them by id."""
    groups: dict[tuple[str, str], list[str]] = {}
    for dataset, loss in losses:
        groups.setdefault((loss.field.split("/")[0], loss.reason), []).append(dataset)
    lines = []
    for (field_, reason), datasets in groups.items():
        shown = ", ".join(datasets[:examples])
        more = f" and {len(datasets) - examples} more" if len(datasets) > examples else ""
        lines.append(f"{field_}: {reason} — {shown}{more}")
    return lines


class Titles:
    """Managed-list titles by id, for the formats that show them beside the ids. (A plain
    class: one is made per dataset a serializer writes.)"""

    __slots__ = ("mastheads", "teams", "topics")

    def __init__(
        self,
        topics: Mapping[str, str] | None = None,
        mastheads: Mapping[str, str] | None = None,
        teams: Mapping[str, str] | None = None,
    ) -> None:
        self.topics: Mapping[str, str] = topics or {}
        self.mastheads: Mapping[str, str] = mastheads or {}
        self.teams: Mapping[str, str] = teams or {}


NO_TITLES = Titles()
