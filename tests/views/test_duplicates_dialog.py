"""Tools > Find duplicates through the real window: groups found (title variants, same file),
the merge preview's picks, a merge applied, one Undo restoring all, the merged-away datasets in
View > Deleted datasets; and every group merged at once with the defaults."""

from __future__ import annotations

from typing import Any

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets
from app.services.duplicates import SAME_FILE, SAME_TITLE, SIMILAR_TITLE
from app.views.duplicates_dialog import DuplicatesDialog
from app.views.main_window import MainWindow
from app.views.qt import QtCore
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import saying_yes, wait_for_writes

LEFT = QtCore.Qt.MouseButton.LeftButton
CHECK = QtCore.Qt.ItemDataRole.CheckStateRole
MD5 = "0123456789abcdef0123456789abcdef"


def _create(database: Database, **fields: Any) -> str:
    with database.transaction() as session:
        return str(datasets.create_dataset(session, make_record(**fields), author=AUTHOR)["id"])


def _open(qtbot: QtBot, window: MainWindow) -> DuplicatesDialog:
    window.duplicates_action.trigger()  # Tools > Find duplicates…
    dialog = window.duplicates_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.groups.rowCount() > 0 and dialog.preview.plan is not None)
    return dialog


def _groups(dialog: DuplicatesDialog) -> list[tuple[frozenset[str], tuple[str, ...]]]:
    return sorted(
        ((frozenset(g.dataset_ids), g.reasons) for g in dialog.groups.rows()),
        key=lambda item: sorted(item[0]),
    )


def test_duplicates_found_previewed_merged_undone_and_in_the_trash(
    qtbot: QtBot, qtmodeltester: ModelTester, database: Database
) -> None:
    old = _create(
        database,
        title="Street trees, Barnet",
        description="<p>The old description</p>",
        tags=["old"],
        resources={"aaa": {"title": "Trees", "url": "https://x/trees.csv", "hash": MD5}},
    )
    _create(database, title="Library loans")
    typo = _create(database, title="street tress barnet", tags=["typo"])
    new = _create(
        database,
        title="STREET TREES — Barnet",
        description="<p>The new description</p>",
        tags=["new"],
        resources={"bbb": {"title": "Trees 2", "url": "https://y/trees.csv", "hash": MD5}},
    )
    bins = _create(
        database,
        title="Bins",
        resources={"ccc": {"title": "A", "url": "https://b/1", "hash": "f" * 32}},
    )
    rounds = _create(
        database,
        title="Refuse rounds",
        resources={"ddd": {"title": "B", "url": "https://b/2", "hash": "f" * 32}},
    )
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.model.countChanged):
        window.show()
    try:
        dialog = _open(qtbot, window)
        assert _groups(dialog) == sorted(
            [
                (frozenset({old, typo, new}), (SAME_TITLE, SIMILAR_TITLE, SAME_FILE)),
                (frozenset({bins, rounds}), (SAME_FILE,)),
            ],
            key=lambda item: sorted(item[0]),
        )
        qtmodeltester.check(dialog.groups, force_py=True)  # type: ignore[no-untyped-call, unused-ignore]

        # The trees group: the newest record is kept, each field as it has it.
        row = next(i for i, g in enumerate(dialog.groups.rows()) if new in g.dataset_ids)
        with qtbot.waitSignal(dialog.previewed):
            dialog.group_table.selectRow(row)
        preview = dialog.preview
        qtmodeltester.check(preview, force_py=True)  # type: ignore[no-untyped-call, unused-ignore]
        assert preview.plan is not None
        columns = {record["id"]: i for i, record in enumerate(preview.plan.records)}
        assert preview.plan.kept == columns[new]
        described = preview.row_of("description")
        assert (
            preview.data(preview.index(described, columns[new]), CHECK)
            == QtCore.Qt.CheckState.Checked
        )

        # Pick the old description by clicking its cell's check box.
        cell = preview.index(described, columns[old])
        rect = dialog.preview_table.visualRect(cell)
        box = QtCore.QPoint(rect.left() + 12, rect.center().y())
        qtbot.mouseClick(dialog.preview_table.viewport(), LEFT, pos=box)
        assert preview.data(cell, CHECK) == QtCore.Qt.CheckState.Checked
        assert (
            preview.data(preview.index(described, columns[new]), CHECK)
            == QtCore.Qt.CheckState.Unchecked
        )
        assert preview.merged()["description"] == "<p>The old description</p>"
        assert "1 file" in dialog.preview_note.text()  # the two files have the same MD5

        with qtbot.waitSignal(dialog.merged) as merged:
            qtbot.mouseClick(dialog.merge_button, LEFT)
        assert merged.args is not None
        qtbot.waitUntil(lambda: len(dialog.groups.rows()) == 1)  # found again: bins remain
        with database.read() as session:
            kept = datasets.get_record(session, new)
            assert kept["description"] == "<p>The old description</p>"
            assert kept["tags"] == ["new"]
            assert len(kept["resources"]) == 1
            assert not datasets.taken_ids(session, [old, typo])
        assert window.undo_action.text() == "Undo merge of 3 datasets"

        # The merged-away datasets wait in View > Deleted datasets.
        deleted = window.open_deleted()
        qtbot.waitUntil(lambda: deleted.model.rowCount() == 2)
        listed = {deleted.model.row(r).dataset_id for r in range(deleted.model.rowCount())}
        assert listed == {old, typo}
        deleted.reject()

        # One undo restores all three as they were.
        window.table.setFocus()
        window.undo_action.trigger()
        wait_for_writes(qtbot, window)
        with database.read() as session:
            assert datasets.get_record(session, new)["description"] == "<p>The new description</p>"
            assert datasets.get_record(session, old)["tags"] == ["old"]
            assert datasets.get_record(session, typo)["tags"] == ["typo"]
        assert window.undo_action.text() != "Undo merge of 3 datasets"
    finally:
        window.close()
        window.tasks.wait_for_all()
        window.deleteLater()


def test_merge_all_groups_with_defaults_is_one_operation_one_undo(
    qtbot: QtBot, database: Database
) -> None:
    pairs = [
        (_create(database, title=t), _create(database, title=t.upper()))
        for t in ("Bins", "Parks", "Roads")
    ]
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.model.countChanged):
        window.show()
    try:
        dialog = _open(qtbot, window)
        assert len(dialog.groups.rows()) == 3
        asked: list[str] = []
        dialog.confirm = saying_yes(asked)
        with qtbot.waitSignal(dialog.merged) as merged:
            qtbot.mouseClick(dialog.merge_all_button, LEFT)
        assert asked[0].startswith("Merge all 3 groups (6 datasets)?")
        assert merged.args is not None and len(merged.args[0].edits) == 6
        qtbot.waitUntil(lambda: dialog.groups.rowCount() == 0)
        with database.read() as session:
            assert len(datasets.taken_ids(session, [i for pair in pairs for i in pair])) == 3
        window.table.setFocus()
        window.undo_action.trigger()
        wait_for_writes(qtbot, window)
        with database.read() as session:
            assert len(datasets.taken_ids(session, [i for pair in pairs for i in pair])) == 6
    finally:
        window.close()
        window.tasks.wait_for_all()
        window.deleteLater()


def test_a_merge_after_a_change_elsewhere_writes_nothing_and_says_why(
    qtbot: QtBot, database: Database
) -> None:
    first, second = _create(database, title="Bins"), _create(database, title="bins!")
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.model.countChanged):
        window.show()
    try:
        dialog = _open(qtbot, window)
        with database.transaction() as session:  # the server, a sync: after the preview
            datasets.update_dataset(session, first, {"tags": ["edited elsewhere"]}, author="bob")
        refused: list[str] = []
        dialog.refused.connect(refused.append)
        with qtbot.waitSignal(dialog.found):  # refused, then the groups read again
            qtbot.mouseClick(dialog.merge_button, LEFT)
        assert len(refused) == 1 and "changed since" in refused[0]
        assert dialog.summary.text().startswith("Nothing was merged")
        with database.read() as session:
            assert datasets.taken_ids(session, [first, second]) == {first, second}
            assert datasets.get_record(session, first)["tags"] == ["edited elsewhere"]
        assert window.undo_action.text() == "Undo"
    finally:
        window.close()
        window.tasks.wait_for_all()
        window.deleteLater()
