"""The window's writes as steps that can be reverted without losing anything.

Each write the window makes (save, delete, publish, unpublish, restore, a batch edit, an import)
returns a `Step`: for every dataset it wrote, the record before and after and the dataset's
version after the write. `revert` applies a step backwards as new versions, each with
`expected_version`: if a dataset changed since the step (a PATCH from the server, a pull,
another window), it refuses (StaleEdit, saying who changed what) and, since the caller's
transaction rolls back, changes nothing at all. Reverting returns the step that reverts the
revert: redo is `revert` again.

No Qt here: the window keeps the steps (views.undo), and a script could do the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from app.services import datasets, history, publication, trash
from app.services.errors import InvalidTransition, NotFound, StaleEdit
from app.services.record.fields import CATALOGUE_KEYS, label
from app.services.records import Record, changed_keys


@dataclass(frozen=True)
class Edit:
    """One dataset written by a step."""

    dataset_id: str
    before: Record | None  # None: it did not exist
    after: Record | None  # None: it was deleted
    version: int | None  # its version after the write; None once deleted

    @property
    def title(self) -> str:
        record = self.after or self.before or {}
        return str(record.get("title") or self.dataset_id)

    def changed(self) -> list[str]:
        if self.before is None or self.after is None:
            return []
        return changed_keys(self.before, self.after)


@dataclass(frozen=True)
class Step:
    """What one operation wrote: its action and the datasets it wrote."""

    action: str  # "edit", "create", "delete", "publish", "unpublish", "restore", "undo"...
    edits: tuple[Edit, ...]
    detail: str = ""  # e.g. "version 2" for a restore

    @property
    def dataset_ids(self) -> frozenset[str]:
        return frozenset(edit.dataset_id for edit in self.edits)

    def label(self) -> str:
        """Short, for a menu: "edit of title", "publish of 3 datasets", "delete"."""
        count = len(self.edits)
        noun = {"create": "creation", "edit": "edit"}.get(self.action, self.action)
        if count != 1 or self.action == "import":  # an import says how many, even one
            return f"{noun} of {count:,} dataset{'' if count == 1 else 's'}"
        if self.action == "edit":
            fields = [label(key) for key in self.edits[0].changed() if key != "updatedAt"]
            if len(fields) == 1:
                return f"edit of {fields[0].lower()}"
            if len(fields) == 2:
                return f"edit of {fields[0].lower()} and {fields[1].lower()}"
            return f"edit of {len(fields)} fields"
        return f"{noun} of {self.detail}" if self.detail else noun

    def describe(self) -> str:
        """Longer, for a tooltip or a status message: which datasets."""
        titles = ", ".join(f"“{edit.title}”" for edit in self.edits[:3])
        more = f" and {len(self.edits) - 3:,} more" if len(self.edits) > 3 else ""
        return f"{self.label()[:1].upper()}{self.label()[1:]}: {titles}{more}"


def _version(session: Session, dataset_id: str) -> int:
    return datasets.get_dataset(session, dataset_id).version


def save(
    session: Session,
    record: Record,
    *,
    author: str,
    is_new: bool,
    expected_version: int | None,
) -> Step | None:
    """The form's save: create the dataset or replace its content. None if nothing changed."""
    if is_new:
        saved = datasets.create_dataset(session, record, author=author)
        edit = Edit(saved["id"], None, saved, _version(session, saved["id"]))
        return Step("create", (edit,))
    before = datasets.get_record(session, record["id"])
    saved = datasets.update_dataset(
        session, record["id"], record, author=author, expected_version=expected_version
    )
    if saved == before:
        return None
    return Step("edit", (Edit(record["id"], before, saved, _version(session, record["id"])),))


def delete(session: Session, dataset_ids: Sequence[str], *, author: str) -> Step:
    """Delete datasets (they go to the trash)."""
    edits = []
    for dataset_id in dataset_ids:
        before = datasets.get_record(session, dataset_id)
        datasets.delete_dataset(session, dataset_id, author=author)
        edits.append(Edit(dataset_id, before, None, None))
    return Step("delete", tuple(edits))


def transition(session: Session, dataset_ids: Sequence[str], action: str, *, author: str) -> Step:
    """Publish or unpublish datasets; those already there are left out of the step.
    InvalidTransition if none could be."""
    change: Callable[..., Record] = {
        "publish": publication.publish,
        "unpublish": publication.unpublish,
    }[action]
    edits = []
    for dataset_id in dataset_ids:
        before = datasets.get_record(session, dataset_id)
        if action not in publication.allowed_actions(str(before.get("state"))):
            continue
        after = change(session, dataset_id, author=author)
        edits.append(Edit(dataset_id, before, after, _version(session, dataset_id)))
    if not edits:
        what = "it is" if len(dataset_ids) == 1 else "they are"
        done = "published" if action == "publish" else "a draft"
        raise InvalidTransition(f"Nothing to {action}: {what} already {done}.")
    return Step(action, tuple(edits))


def restore_version(session: Session, version_pk: int, *, author: str) -> Step:
    """History's Restore: an earlier version's content as a new version (recreating the
    dataset if it was deleted since)."""
    version, _snapshot = history.version_snapshot(session, version_pk)
    dataset_id = version.dataset_id
    before = _record_or_none(session, dataset_id)
    after = datasets.restore_version(session, version_pk, author=author)
    return Step(
        "restore",
        (Edit(dataset_id, before, after, _version(session, dataset_id)),),
        detail=f"version {version.number}",
    )


def restore_deleted(session: Session, dataset_ids: Iterable[str], *, author: str) -> Step:
    """The trash's Restore: deleted datasets back from their last snapshots."""
    edits = []
    for dataset_id in dataset_ids:
        after = trash.restore(session, dataset_id, author=author)
        edits.append(Edit(dataset_id, None, after, _version(session, dataset_id)))
    return Step("restore", tuple(edits))


def revert(session: Session, step: Step, *, author: str, action: str = "undo") -> Step:
    """Apply `step` backwards, each dataset only if it is as the step left it; the step that
    reverts this one (for redo). StaleEdit (say why) if any dataset changed since: the caller's
    transaction then rolls back whole."""
    edits = []
    for edit in step.edits:
        _check_unchanged(session, edit, step, action)
        dataset_id = edit.dataset_id
        if edit.before is None:
            datasets.delete_dataset(
                session, dataset_id, author=author, expected_version=edit.version
            )
            edits.append(Edit(dataset_id, edit.after, None, None))
        elif edit.after is None:
            after = trash.restore(session, dataset_id, author=author)
            edits.append(Edit(dataset_id, None, after, _version(session, dataset_id)))
        else:
            keys = [k for k in changed_keys(edit.after, edit.before) if k not in CATALOGUE_KEYS]
            content = {key: edit.before.get(key) for key in keys}
            after = datasets.update_dataset(
                session,
                dataset_id,
                content,
                author=author,
                expected_version=edit.version,
                action=action,
            )
            edits.append(Edit(dataset_id, edit.after, after, _version(session, dataset_id)))
    return replace(step, edits=tuple(edits))


def _check_unchanged(session: Session, edit: Edit, step: Step, verb: str) -> None:
    """StaleEdit, in words, if the dataset is not as `step` left it."""
    current = _version_or_none(session, edit.dataset_id)
    if current == edit.version:
        return
    last = history.latest_version(session, edit.dataset_id)
    title = f"“{edit.title}”"
    if edit.version is None:
        why = f"{title} is no longer deleted: it was restored or recreated since"
    elif current is None:
        why = f"{title} was deleted since"
    else:
        why = f"{title} was changed since"
    if last is not None:
        fields = ", ".join(label(key).lower() for key in last.changes[:4])
        what = f" ({fields})" if fields and last.action not in ("create", "restore") else ""
        why += f": {last.action}{what} by {last.author} at {last.at[:16].replace('T', ' ')} UTC"
    raise StaleEdit(f"Cannot {verb} the {step.label()}: {why}. Nothing was changed.")


def _record_or_none(session: Session, dataset_id: str) -> Record | None:
    try:
        return datasets.get_record(session, dataset_id)
    except NotFound:
        return None


def _version_or_none(session: Session, dataset_id: str) -> int | None:
    try:
        return _version(session, dataset_id)
    except NotFound:
        return None
