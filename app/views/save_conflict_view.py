"""A save over another person's change, shown as the sync's conflicts are: the conflict dialog
(views.conflict_dialog), base / mine / theirs side by side, a field at a time, every field
decided before the save goes again. The comparison is services.save_conflict's."""

from __future__ import annotations

from typing import Any

from app.services.save_conflict import SaveConflict
from app.services.sync.merge import get_unit
from app.services.sync.plan import ItemState, PlanItem
from app.views.conflict_dialog import ConflictDialog, Wording, unit_label
from app.views.history_panel import local_time
from app.views.qt import QtWidgets


def who_changed(conflict: SaveConflict) -> str:
    """The people who changed the dataset since it was opened, as history names them."""
    return ", ".join(conflict.authors) or "someone else"


def conflict_dialog(conflict: SaveConflict, parent: QtWidgets.QWidget) -> ConflictDialog:
    """The dialog for one refused save (opened by the caller; `chosen` reads its answer)."""
    who = who_changed(conflict)
    when = local_time(conflict.at) if conflict.at else ""
    notes = []
    if conflict.taken:
        fields = ", ".join(unit_label(unit) for unit in conflict.taken)
        notes.append(f"only {who} changed {fields}: their version is kept there")
    item = PlanItem(
        key=conflict.dataset_id,
        dataset_id=conflict.dataset_id,
        remote_id=None,
        title=conflict.title,
        conflicts=list(conflict.conflicts),
        notes=notes,
        state=ItemState(local_full=conflict.merged),
    )
    wording = Wording(
        title=f"“{conflict.title}” was changed by {who} while you edited it",
        intro=f"{who} saved this dataset after you opened it, and changed these fields too. "
        "Choose, for each, which value to save; fields only one of you changed are already "
        "merged. Cancel saves nothing and keeps your edit in the form.",
        base="As you opened it",
        mine="Mine (your edit)",
        theirs=f"Theirs ({who}{', ' + when if when else ''})",
        ok="Save with these choices",
        decide_all=True,
    )
    return ConflictDialog(
        [(item, c) for c in conflict.conflicts], remote=who, wording=wording, parent=parent
    )


def chosen(conflict: SaveConflict, dialog: ConflictDialog) -> dict[str, Any]:
    """unit -> the value chosen in an accepted dialog."""
    by_unit = {c.unit: c for c in conflict.conflicts}
    values: dict[str, Any] = {}
    for (_key, unit), resolution in dialog.resolutions().items():
        if resolution.choice == "mine":
            values[unit] = get_unit(conflict.merged, unit)
        elif resolution.choice == "theirs":
            values[unit] = by_unit[unit].remote
        else:
            values[unit] = resolution.value
    return values
