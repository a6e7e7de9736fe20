"""The permissions tabs' item models, under Qt's model tester while their rows change."""

from __future__ import annotations

from typing import Any

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.services.access import GroupSummary, RulesetInfo, TeamSummary, UserSummary
from app.services.api_keys import ApiKeyInfo
from app.views.permissions.models import (
    KEY_ROLE,
    ApiKeysModel,
    ChecklistModel,
    GroupsModel,
    RulesetsModel,
    TeamsModel,
    UsersModel,
    is_checked,
)
from app.views.qt import QtCore

Qt = QtCore.Qt
ANN = UserSummary(1, "ann", "Ann Example", "ann@example.org", True, ("fin01",), (7,))
BOB = UserSummary(2, "bob", "", None, True, (), ())
ANALYSTS = GroupSummary(7, "Analysts", "people who analyse", (1,))
FINANCE = TeamSummary("fin01", "Finance", (1,))


def check(tester: ModelTester, model: QtCore.QAbstractItemModel) -> None:
    # force_py=False: Qt's own QAbstractItemModelTester, which goes on watching the model.
    tester.check(model, force_py=False)  # type: ignore[no-untyped-call, unused-ignore]


def texts(model: QtCore.QAbstractItemModel) -> list[list[Any]]:
    return [
        [model.index(row, column).data() for column in range(model.columnCount())]
        for row in range(model.rowCount())
    ]


def test_users_model(qtmodeltester: ModelTester) -> None:
    model = UsersModel()
    check(qtmodeltester, model)
    model.show([ANN, BOB], {"fin01": "Finance"}, {7: "Analysts"})
    check(qtmodeltester, model)
    assert texts(model) == [
        ["ann", "Ann Example", "ann@example.org", "Finance", "Analysts"],
        ["bob", "", "", "", ""],
    ]
    assert model.index(1, 3).data(KEY_ROLE) == 2
    assert model.headerData(0, Qt.Orientation.Horizontal) == "User name"
    model.show([BOB], {}, {})
    assert model.rowCount() == 1


def test_groups_and_teams_models(qtmodeltester: ModelTester) -> None:
    groups, teams = GroupsModel(), TeamsModel()
    groups.show([ANALYSTS])
    teams.show([FINANCE, TeamSummary("hr002", "People", ())])
    check(qtmodeltester, groups)
    check(qtmodeltester, teams)
    assert texts(groups) == [["Analysts", "people who analyse", "1"]]
    assert texts(teams) == [["fin01", "Finance", "1"], ["hr002", "People", "0"]]
    assert teams.index(1, 0).data(KEY_ROLE) == "hr002"
    groups.show([])
    assert groups.rowCount() == 0


def test_api_keys_model_greys_revoked_keys(qtmodeltester: ModelTester) -> None:
    model = ApiKeysModel()
    check(qtmodeltester, model)
    live = ApiKeyInfo("k1", "harvester", 1, "ann", "cd_ab", "2026-01-01T00:00:00.000Z", None)
    revoked = ApiKeyInfo("k2", "", 2, "bob", "cd_cd", "2026-01-02T00:00:00.000Z", "2026-02-01")
    model.show([live, revoked])
    assert texts(model)[0] == ["k1", "harvester", "ann", "cd_ab…", live.created_at, ""]
    assert model.index(0, 1).data(Qt.ItemDataRole.ForegroundRole) is None
    assert model.index(1, 1).data(Qt.ItemDataRole.ForegroundRole) is not None


def test_rulesets_model_asks_for_a_toggle_and_stores_nothing(
    qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    model = RulesetsModel()
    model.show([RulesetInfo("group", 7, "Analysts", ["explore_restricted_dataset"])])
    check(qtmodeltester, model)
    assert [model.index(0, c).data() for c in (0, 1)] == ["Group", "Analysts"]
    states = [is_checked(model.index(0, c).data(Qt.ItemDataRole.CheckStateRole)) for c in (2, 3)]
    assert states == [True, False]
    assert not model.flags(model.index(0, 1)) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.flags(model.index(0, 3)) & Qt.ItemFlag.ItemIsUserCheckable

    with qtbot.waitSignal(model.toggled) as asked:
        assert model.setData(
            model.index(0, 3), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole
        )
    assert asked.args == ["group", 7, ["explore_restricted_dataset", "edit_dataset"]]
    assert not is_checked(model.index(0, 3).data(Qt.ItemDataRole.CheckStateRole))
    with qtbot.waitSignal(model.toggled) as asked:
        model.setData(model.index(0, 2), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert asked.args == ["group", 7, []]
    model.show([])
    assert model.rowCount() == 0


def test_checklist_model_updates_in_place(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    model = ChecklistModel()
    check(qtmodeltester, model)
    model.show([(1, "ann"), (2, "bob")], {1})
    check(qtmodeltester, model)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))

    with qtbot.waitSignal(model.dataChanged):
        model.show([(1, "ann"), (2, "bob")], {2})  # same keys: no reset, so a view keeps focus
    assert resets == []
    assert [is_checked(model.index(r).data(Qt.ItemDataRole.CheckStateRole)) for r in (0, 1)] == [
        False,
        True,
    ]
    with qtbot.waitSignal(model.toggled) as asked:
        model.setData(model.index(0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert asked.args == [1, True]
    model.show([(3, "cat")], set())
    assert resets == [True]
    assert model.index(0).data() == "cat" and model.index(0).data(KEY_ROLE) == 3
