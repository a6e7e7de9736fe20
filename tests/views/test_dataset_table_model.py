"""The windowed table model: Qt's model tester, windows off the GUI thread, requeries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.models import Dataset
from app.models.database import Database
from app.services import browse, datasets, synthetic
from app.services.browse import BrowseSpec
from app.services.progress import Progress
from app.views.dataset_table_model import (
    COLUMNS,
    PLACEHOLDER,
    TITLE_COLUMN,
    WINDOW,
    DatasetIdRole,
    DatasetTableModel,
)
from app.views.qt import QtCore
from app.views.tasks import TaskRunner
from tests.conftest import AUTHOR

SIZE = 560
STATE_COLUMN = 2


@pytest.fixture
def catalogue(database: Database) -> Database:
    synthetic.generate(database, SIZE, seed=21)
    return database


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    assert tasks.wait_for_all()


@pytest.fixture
def model(
    qtbot: QtBot, qtmodeltester: ModelTester, catalogue: Database, runner: TaskRunner
) -> Iterator[DatasetTableModel]:
    table = DatasetTableModel(catalogue, runner)
    with qtbot.waitSignal(table.orderLoaded, timeout=10000):
        pass
    qtmodeltester.check(table, force_py=False)  # type: ignore[no-untyped-call, unused-ignore]
    yield table
    runner.wait_for_all()


def _order(db: Database, spec: BrowseSpec) -> list[tuple[str, str]]:
    """(id, title) in table order, straight from browse (itself checked against Python)."""
    with db.read() as session:
        pks = browse.ordered_pks(session, spec).tolist()
        return [(r.id, r.title) for r in browse.fetch_pks(session, spec, pks)]


def _text(model: DatasetTableModel, row: int, column: int = TITLE_COLUMN) -> Any:
    return model.data(model.index(row, column))


def _load(qtbot: QtBot, model: DatasetTableModel, row: int) -> None:
    if model.is_loaded(row):
        return
    with qtbot.waitSignal(
        model.windowLoaded, timeout=10000, check_params_cb=lambda first, last: first <= row <= last
    ):
        assert _text(model, row) == PLACEHOLDER


def _wait_order(qtbot: QtBot, model: DatasetTableModel) -> None:
    if not model.order_loaded:
        with qtbot.waitSignal(model.orderLoaded, timeout=10000):
            pass


def _all_titles(qtbot: QtBot, model: DatasetTableModel) -> list[tuple[str | None, Any]]:
    seen = []
    for row in range(model.rowCount()):
        _load(qtbot, model, row)
        seen.append((model.dataset_id_at(row), _text(model, row)))
    return seen


def test_first_window_arrives_with_the_count(
    qtbot: QtBot, catalogue: Database, runner: TaskRunner
) -> None:
    table = DatasetTableModel(catalogue, runner)
    assert table.rowCount() == 0  # nothing is read on the GUI thread
    with qtbot.waitSignal(table.countChanged, timeout=10000) as blocker:
        pass
    assert blocker.args == [SIZE]
    assert table.rowCount() == SIZE
    expected = _order(catalogue, BrowseSpec())
    assert [(table.dataset_id_at(r), _text(table, r)) for r in range(WINDOW)] == expected[:WINDOW]
    _wait_order(qtbot, table)


def test_last_row_loads_by_keyset_before_the_order_is_known(
    qtbot: QtBot, catalogue: Database, runner: TaskRunner
) -> None:
    table = DatasetTableModel(catalogue, runner)
    with qtbot.waitSignal(table.countChanged, timeout=10000):
        pass
    expected = _order(catalogue, BrowseSpec())
    last = SIZE - 1
    if not table.order_loaded:
        _load(qtbot, table, last)
        assert _text(table, last) == expected[last][1]
    _wait_order(qtbot, table)


def test_every_row_matches_the_query_and_is_checked_by_qt(
    qtbot: QtBot, model: DatasetTableModel, catalogue: Database
) -> None:
    assert _all_titles(qtbot, model) == _order(catalogue, BrowseSpec())
    assert [c.header for c in model.columns] == [
        model.headerData(i, QtCore.Qt.Orientation.Horizontal) for i in range(len(COLUMNS))
    ]
    assert model.data(model.index(0, 0), DatasetIdRole) == model.dataset_id_at(0)


def test_sort_search_and_filter_requery(
    qtbot: QtBot, model: DatasetTableModel, catalogue: Database
) -> None:
    def requery(change: Any, spec: BrowseSpec) -> None:
        expected = _order(catalogue, spec)
        with qtbot.waitSignals(
            [
                (model.modelReset, "modelReset"),
                (model.countChanged, "countChanged"),
                (model.orderLoaded, "orderLoaded"),
            ],
            order="strict",
            timeout=10000,
        ):
            change()
        assert model.rowCount() == len(expected)
        assert _all_titles(qtbot, model) == expected

    updated = next(i for i, c in enumerate(COLUMNS) if c.key == "updated_at")
    requery(
        lambda: model.sort(updated, QtCore.Qt.SortOrder.DescendingOrder),
        BrowseSpec(sort="updated_at", descending=True),
    )
    requery(
        lambda: model.set_search("air"),
        BrowseSpec(sort="updated_at", descending=True, search="air"),
    )
    requery(
        lambda: model.set_state_filter("draft"),
        BrowseSpec(sort="updated_at", descending=True, search="air", state="draft"),
    )
    states = {_text(model, r, STATE_COLUMN) for r in range(model.rowCount())}
    assert states == {"draft"}


def test_unsortable_column_is_ignored(model: DatasetTableModel) -> None:
    resources = next(i for i, c in enumerate(COLUMNS) if c.key == "resources")
    before = model.spec
    model.sort(resources, QtCore.Qt.SortOrder.AscendingOrder)
    assert model.spec == before


def test_a_superseded_search_is_dropped(
    qtbot: QtBot, model: DatasetTableModel, catalogue: Database
) -> None:
    expected = len(_order(catalogue, BrowseSpec(search="footfall")))
    with qtbot.waitSignal(model.countChanged, timeout=10000) as blocker:
        model.set_search("a")
        model.set_search("footfall")
    assert blocker.args == [expected]
    assert model.rowCount() == expected


def test_row_of_and_dataset_id_at_agree(qtbot: QtBot, model: DatasetTableModel) -> None:
    for row in (0, 17, SIZE // 2, SIZE - 1):
        _load(qtbot, model, row)
        dataset_id = model.dataset_id_at(row)
        assert dataset_id is not None
        assert model.row_of(dataset_id) == row
    assert model.row_of("zzzzz") is None


def test_row_of_before_the_order_is_loaded(
    qtbot: QtBot, catalogue: Database, runner: TaskRunner
) -> None:
    table = DatasetTableModel(catalogue, runner)
    with qtbot.waitSignal(table.countChanged, timeout=10000):
        pass
    expected = _order(catalogue, BrowseSpec())
    assert table.row_of(expected[321][0]) == 321
    _wait_order(qtbot, table)


def test_refresh_after_an_edit_and_a_delete(
    qtbot: QtBot, model: DatasetTableModel, catalogue: Database
) -> None:
    first_id = model.dataset_id_at(0)
    assert first_id is not None
    with catalogue.transaction() as session:
        datasets.update_dataset(session, first_id, {"title": "Zzz renamed"}, author=AUTHOR)
    with qtbot.waitSignal(model.countChanged, timeout=10000) as blocker:
        model.refresh()
    assert blocker.args == [SIZE]
    _wait_order(qtbot, model)
    assert model.row_of(first_id) == SIZE - 1
    _load(qtbot, model, SIZE - 1)
    assert _text(model, SIZE - 1) == "Zzz renamed"

    with catalogue.transaction() as session:
        datasets.delete_dataset(session, first_id, author=AUTHOR)
    with qtbot.waitSignals(
        [(model.rowsRemoved, "rowsRemoved"), (model.countChanged, "countChanged")],
        order="strict",
        timeout=10000,
    ):
        model.refresh()
    assert model.rowCount() == SIZE - 1
    assert model.row_of(first_id) is None
    with catalogue.read() as session:
        assert session.scalar(select(Dataset.pk).where(Dataset.id == first_id)) is None


def test_resolve_rows_gives_the_ids_of_cached_and_uncached_rows_in_table_order(
    model: DatasetTableModel, catalogue: Database
) -> None:
    """A selection's ids, as an export or a link check asks for them: the shown window from
    the cache, rows never shown from the ordered pk list (a query on the worker)."""
    order = [dataset_id for dataset_id, _title in _order(catalogue, model.spec)]
    assert not model.is_loaded(WINDOW * 3)
    ranges = [(WINDOW * 3 + 5, WINDOW * 3 + 9), (2, 4), (3, 6), (SIZE - 2, SIZE + 10)]
    resolve = model.resolve_rows(ranges)
    ids = resolve(Progress())
    expected = order[2:7] + order[WINDOW * 3 + 5 : WINDOW * 3 + 10] + order[SIZE - 2 :]
    assert ids == tuple(expected)
