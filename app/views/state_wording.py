"""What the dataset form says about a dataset's state, sharing and embargo, in words.

Plain functions (no Qt) so the form, the table's tooltips and tests read the same sentences; the
states themselves come from services (visibility.display_state_of, policy.is_embargoed).
"""

from __future__ import annotations

from app.services.policy import is_embargoed
from app.services.record.fields import FIELDS
from app.services.records import Record
from app.services.visibility import display_state_of


def embargo_notice(until: str | None, sharing: str) -> str:
    """A warning for an embargo date that has passed; "" for none or one still ahead."""
    if until is None or is_embargoed(until):
        return ""
    public = " and public" if sharing == "public" else ""
    return (
        f"The embargo date {until} has passed: the dataset is not under embargo, and once "
        f"published{public} it is visible at once. Clear the date, or set one ahead."
    )


def state_text(record: Record) -> str:
    """The Metadata tab's state: the stored state, and what the embargo or sharing makes of it."""
    state = str(record.get("state") or FIELDS["state"].default)
    until = record.get("embargoUntil")
    shown = display_state_of(state, record.get("sharing"), until)
    if shown == "embargoed":
        return f"{state.capitalize()}, embargoed until {until} (hidden from the public till then)"
    if shown == "private":
        return f"{state.capitalize()}, private (only the people under Access see it)"
    return shown.capitalize()


SHARING_TEXT = {
    "public": "Public — anyone can see it once published",
    "private": "Private — only the people listed below",
}
