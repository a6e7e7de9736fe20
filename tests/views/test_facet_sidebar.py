"""The facet sidebar: counts for the current search, a click filters the table, saved searches."""

from __future__ import annotations

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import access, datasets
from app.views import saved_searches
from app.views.facet_sidebar import FACET_ROLE, FacetSidebar
from app.views.main_window import MainWindow
from app.views.qt import QtCore
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import titles_shown

LEFT = QtCore.Qt.MouseButton.LeftButton


def _fill(database: Database) -> None:
    with database.transaction() as session:
        access.create_team(session, "parks", "Parks team")
        for title, tags, team in (("Air quality", ["air", "health"], "parks"),
                                  ("Air traffic", ["air"], None),
                                  ("Tree census", ["trees"], "parks")):  # fmt: skip
            datasets.create_dataset(
                session, make_record(title=title, tags=tags, team=team), author=AUTHOR
            )


def _counts(sidebar: FacetSidebar) -> dict[str, dict[str, str]]:
    model, found = sidebar.model, {}
    for row in range(model.rowCount()):
        parent = model.index(row, 0)
        values = {}
        for child in range(model.rowCount(parent)):
            index = model.index(child, 0, parent)
            count = model.index(child, 1, parent).data()
            values[index.data(FACET_ROLE)[1]] = f"{index.data()}  {count}"
        found[model.facet_keys()[row]] = values
    return found


def _click_value(qtbot: QtBot, sidebar: FacetSidebar, facet: str, value: str) -> None:
    model = sidebar.model
    parent = model.index(model.facet_keys().index(facet), 0)
    for child in range(model.rowCount(parent)):
        index = model.index(child, 0, parent)
        if index.data(FACET_ROLE) == (facet, value):
            sidebar.tree.scrollTo(index)
            rect = sidebar.tree.visualRect(index)
            with qtbot.waitSignal(sidebar.countsShown):
                qtbot.mouseClick(sidebar.tree.viewport(), LEFT, pos=rect.center())
            return
    raise AssertionError(f"no {facet} {value} shown")


def test_counts_follow_the_search_and_a_click_filters_the_table(
    qtbot: QtBot, qtmodeltester: ModelTester, database: Database
) -> None:
    _fill(database)
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.facets.countsShown):
        window.show()
    sidebar = window.facets
    qtmodeltester.check(sidebar.model, force_py=True)  # type: ignore[no-untyped-call, unused-ignore]
    assert _counts(sidebar)["tag"] == {"air": "air  2", "health": "health  1", "trees": "trees  1"}
    assert _counts(sidebar)["team"] == {"parks": "Parks team  2", "": "(none)  1"}

    with qtbot.waitSignal(sidebar.countsShown):
        qtbot.keyClicks(window.search_box, "air")
    assert _counts(sidebar)["team"] == {"parks": "Parks team  1", "": "(none)  1"}
    assert sorted(titles_shown(window)) == ["Air quality", "Air traffic"]

    _click_value(qtbot, sidebar, "team", "parks")
    assert titles_shown(window) == ["Air quality"]
    # the team facet still offers the other team (a switch), the others follow the choice
    assert _counts(sidebar)["team"] == {"parks": "Parks team  1", "": "(none)  1"}
    assert _counts(sidebar)["tag"] == {"air": "air  1", "health": "health  1"}
    team = sidebar.model.index(sidebar.model.facet_keys().index("team"), 0)
    checked = {
        sidebar.model.index(row, 0, team).data(FACET_ROLE)[1]
        for row in range(sidebar.model.rowCount(team))
        if sidebar.model.index(row, 0, team).data(QtCore.Qt.ItemDataRole.CheckStateRole)
        == QtCore.Qt.CheckState.Checked
    }
    assert checked == {"parks"}

    _click_value(qtbot, sidebar, "team", "parks")  # a second click lifts it
    assert sorted(titles_shown(window)) == ["Air quality", "Air traffic"]
    window.close()


def test_a_saved_search_keeps_text_and_facets_and_comes_back(
    qtbot: QtBot, database: Database
) -> None:
    _fill(database)
    window = MainWindow(database, author="archivist")
    with qtbot.waitSignal(window.facets.countsShown):
        window.show()
    sidebar = window.facets
    with qtbot.waitSignal(sidebar.countsShown):
        qtbot.keyClicks(window.search_box, "air")
    _click_value(qtbot, sidebar, "tag", "health")
    assert titles_shown(window) == ["Air quality"]
    sidebar.ask_name = lambda: "Health of the air"
    qtbot.mouseClick(sidebar.save_button, LEFT)
    assert sidebar.saved.count() == 1

    with qtbot.waitSignal(sidebar.countsShown):
        qtbot.mouseClick(sidebar.clear_button, LEFT)
    window.search_box.clear()
    qtbot.waitUntil(lambda: len(titles_shown(window)) == 3)

    item = sidebar.saved.item(0)
    rect = sidebar.saved.visualItemRect(item)
    qtbot.mouseClick(sidebar.saved.viewport(), LEFT, pos=rect.center())
    qtbot.waitUntil(lambda: titles_shown(window) == ["Air quality"])
    assert window.search_box.text() == "air"
    # stored per catalogue in the settings: a new window lists it
    assert [s.name for s in saved_searches.load(database.url)] == ["Health of the air"]
    assert saved_searches.load("sqlite:///elsewhere.sqlite") == []
    window.close()
