"""The publication state machine: draft <-> published, with an optional embargo date.

    draft --publish--> published --unpublish--> draft

An embargo keeps a published dataset out of every public surface until its date; the table
shows it as "embargoed". Publishing needs publish_dataset; the desktop owner has every right.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.services import datasets
from app.services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from app.services.permissions import Permission
from app.services.records import Record
from app.services.validation import is_iso_date
from app.services.visibility import OWNER, Principal, permissions_for

TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "publish"): "published",
    ("published", "unpublish"): "draft",
}


def allowed_actions(state: str) -> list[str]:
    return [action for (source, action) in TRANSITIONS if source == state]


def _transition(
    session: Session, dataset_id: str, action: str, *, author: str, principal: Principal
) -> Record:
    dataset = datasets.get_dataset(session, dataset_id)
    target = TRANSITIONS.get((dataset.state, action))
    if target is None:
        raise InvalidTransition(f"Cannot {action} dataset {dataset_id}: it is {dataset.state}")
    if not permissions_for(session, principal, dataset) & Permission.PUBLISH_DATASET:
        raise PermissionDenied(f"{principal.name} may not {action} dataset {dataset_id}")
    return datasets.update_dataset(
        session, dataset_id, {"state": target}, author=author, action=action
    )


def publish(
    session: Session, dataset_id: str, *, author: str, principal: Principal = OWNER
) -> Record:
    return _transition(session, dataset_id, "publish", author=author, principal=principal)


def unpublish(
    session: Session, dataset_id: str, *, author: str, principal: Principal = OWNER
) -> Record:
    return _transition(session, dataset_id, "unpublish", author=author, principal=principal)


def set_embargo(
    session: Session,
    dataset_id: str,
    until: str | None,
    *,
    author: str,
    principal: Principal = OWNER,
) -> Record:
    if until is not None and not is_iso_date(until):
        raise ValidationFailed({"embargoUntil": "must be a date, YYYY-MM-DD"})
    dataset = datasets.get_dataset(session, dataset_id)
    if not permissions_for(session, principal, dataset) & Permission.PUBLISH_DATASET:
        raise PermissionDenied(f"{principal.name} may not embargo dataset {dataset_id}")
    return datasets.update_dataset(
        session, dataset_id, {"embargoUntil": until}, author=author, action="embargo"
    )
