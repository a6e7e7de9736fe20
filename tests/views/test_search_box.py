"""The search box: seed 003's query language typed into the real window, its error under the
box, field names completed, saved searches with the new syntax."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import access, browse, datasets
from app.services.browse import BrowseSpec
from app.views.main_window import MainWindow
from app.views.qt import QtCore
from app.views.search_box import QueryLineEdit
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import titles_shown

KEY = QtCore.Qt.Key


def _fill(database: Database) -> None:
    with database.transaction() as session:
        access.create_team(session, "parks", "Parks team")
        for title, tags, team in (("Air quality", ["air", "FOI"], "parks"),
                                  ("Air traffic", ["air"], None),
                                  ("Tree census", ["trees", "FOI"], "parks"),
                                  ("Parking fines", ["money"], None)):  # fmt: skip
            datasets.create_dataset(
                session, make_record(title=title, tags=tags, team=team), author=AUTHOR
            )


def _service_titles(database: Database, text: str) -> list[str]:
    with database.read() as session:
        return [r.title for r in browse.fetch_after(session, BrowseSpec(search=text), None, 100)]


def _type(qtbot: QtBot, window: MainWindow, text: str) -> None:
    """Type `text` at the cursor and wait until the box hands the whole text to the table."""
    with qtbot.waitSignal(window.search_bar.searchChanged):
        qtbot.keyClicks(window.search_box, text)
    qtbot.waitUntil(lambda: window.model.spec.search == window.search_box.text())


def test_a_field_query_filters_the_table_to_what_the_service_says(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    _fill(database)
    main_window.model.refresh()
    qtbot.waitUntil(lambda: len(titles_shown(main_window)) == 4)
    text = "tag:FOI AND modified >= 2024"
    _type(qtbot, main_window, text)
    expected = _service_titles(database, text)
    assert expected == ["Air quality", "Tree census"]  # not the plain words' (none match)
    qtbot.waitUntil(lambda: titles_shown(main_window) == expected)
    assert main_window.search_bar.error.isHidden()
    assert main_window.count_label.text() == "2 datasets"


def test_a_malformed_query_says_where_and_the_table_keeps_its_words(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    _fill(database)
    main_window.model.refresh()
    qtbot.waitUntil(lambda: len(titles_shown(main_window)) == 4)
    error = main_window.search_bar.error
    _type(qtbot, main_window, "air)")
    qtbot.waitUntil(error.isVisible)  # with the table's answer
    assert error.text().startswith("Unexpected ')' (at column 4)")
    # Under the box, in the window.
    box = main_window.search_box
    assert (
        error.mapTo(main_window, QtCore.QPoint(0, 0)).y()
        > box.mapTo(main_window, QtCore.QPoint(0, box.height())).y() - 1
    )
    # The plain words' matches, not an empty table.
    qtbot.waitUntil(lambda: titles_shown(main_window) == ["Air quality", "Air traffic"])

    # Fixed: "(air)" reads, and the error goes.
    qtbot.keyClick(box, KEY.Key_Home)
    _type(qtbot, main_window, "(")
    assert box.text() == "(air)"
    qtbot.waitUntil(error.isHidden)
    assert titles_shown(main_window) == ["Air quality", "Air traffic"]

    # A field query that names an unknown field: the column of the name.
    box.clear()
    _type(qtbot, main_window, "trees OR colour:red")
    qtbot.waitUntil(error.isVisible)
    assert "Unknown field 'colour'" in error.text() and "column 10" in error.text()
    box.clear()
    qtbot.waitUntil(error.isHidden)


def test_the_completer_offers_field_names_for_the_word_typed(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    box = main_window.search_box
    assert isinstance(box, QueryLineEdit)
    completer, popup = box.completer_, box.popup
    qtbot.keyClicks(box, "key")
    qtbot.waitUntil(popup.isVisible)
    offered = [
        completer.completionModel().index(row, 0).data()
        for row in range(completer.completionCount())
    ]
    assert offered == ["keyword:"]
    qtbot.keyClick(popup, KEY.Key_Down)
    qtbot.keyClick(popup, KEY.Key_Return)
    assert box.text() == "keyword:"
    assert not popup.isVisible()
    qtbot.keyClicks(box, "FOI AND tit")  # only the word under the cursor is completed
    qtbot.waitUntil(popup.isVisible)
    assert completer.currentCompletion() == "title:"
    qtbot.keyClick(popup, KEY.Key_Escape)
    assert box.text() == "keyword:FOI AND tit"

    # Plain words, values and phrases are left alone.
    box.clear()
    qtbot.keyClicks(box, 'air title:ti "desc')
    assert not popup.isVisible()

    # A name before its colon is completed without a second colon; in a function, none.
    box.setText("ti:air")
    box.setCursorPosition(2)
    qtbot.keyClick(box, KEY.Key_T)
    qtbot.waitUntil(popup.isVisible)
    box.insert_completion("title:")
    assert box.text() == "title:air"
    box.setText("")
    qtbot.keyClicks(box, "#exact(key")
    qtbot.waitUntil(popup.isVisible)
    box.insert_completion("keyword:")
    assert box.text() == "#exact(keyword"


def test_a_saved_search_keeps_the_query_language(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    _fill(database)
    main_window.model.refresh()
    qtbot.waitUntil(lambda: len(titles_shown(main_window)) == 4)
    sidebar = main_window.facets
    text = "tag:FOI OR title:parking"
    _type(qtbot, main_window, text)
    qtbot.waitUntil(lambda: titles_shown(main_window) == ["Air quality", "Parking fines",
                                                          "Tree census"])  # fmt: skip
    main_window.model.set_facets((("team", ""),))
    qtbot.waitUntil(lambda: titles_shown(main_window) == ["Parking fines"])
    sidebar.ask_name = lambda: "FOI or parking, no team"
    saved = sidebar.save_current()
    assert saved is not None and saved.search == text

    main_window.model.set_facets(())
    main_window.search_box.clear()
    qtbot.waitUntil(lambda: len(titles_shown(main_window)) == 4)
    sidebar.apply_saved(saved)
    qtbot.waitUntil(lambda: titles_shown(main_window) == ["Parking fines"])
    assert main_window.search_box.text() == text
    assert main_window.search_bar.error.isHidden()
