"""The smaller faults an archivist met in the window (issue 13, finding 6), each driven through
the real widgets: placeholders, the state badge, a passed embargo, date typing, Tab, search
scrolling and "no matches", Delete's default, the server on quit, Help, the Add-remote dialog."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets
from app.services.records import Record
from app.views.form_widgets import FieldRow
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtWidgets
from app.views.remotes_dialog import AddRemoteDialog, no_keyring_text
from app.views.server_panel import State
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import titles_shown

Key = QtCore.Qt.Key
FUTURE = (date.today() + timedelta(days=120)).isoformat()


def fill(database: Database, *records: Record) -> list[str]:
    with database.transaction() as session:
        return [datasets.create_dataset(session, record, author=AUTHOR)["id"] for record in records]


def select(qtbot: QtBot, window: MainWindow, title: str) -> None:
    qtbot.waitUntil(lambda: title in titles_shown(window))
    window.table.selectRow(titles_shown(window).index(title))
    qtbot.waitUntil(lambda: window.form.title_edit.text() == title)


def answer_next_box(check: Callable[[QtWidgets.QMessageBox], None]) -> list[str]:
    """Answer the next modal message box as a person would (`check` clicks or keys), once it
    shows; returns the texts seen."""
    seen: list[str] = []

    def answer() -> None:
        box = QtWidgets.QApplication.activeModalWidget()
        if not isinstance(box, QtWidgets.QMessageBox):
            QtCore.QTimer.singleShot(10, answer)  # not open yet: look again on the next turn
            return
        seen.append(box.text())
        check(box)

    QtCore.QTimer.singleShot(0, answer)
    return seen


def label_of(row: QtWidgets.QWidget) -> str:
    """The text of the form label that names `row` (QFormLayout makes it the row's buddy)."""
    for label in row.window().findChildren(QtWidgets.QLabel):
        if label.buddy() is row:
            return label.text().replace("&", "")
    raise AssertionError("no label")


# -- the form --------------------------------------------------------------------------------


def test_the_empty_form_shows_instructions_not_data(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    main_window.new_action.trigger()
    form = main_window.form
    placeholders = [
        form.title_edit.placeholderText(),
        form.contact_email_edit.placeholderText(),
        form.contact_title_edit.placeholderText(),
        form.licence_title_edit.placeholderText(),
        form.iframe_edit.placeholderText(),
    ]
    for old in ("Freedom of Information", "opendata@example.org", "Open Data Team", "UK Open"):
        assert not any(old in text for text in placeholders)
    assert "@" not in form.contact_email_edit.placeholderText()  # not an address to copy
    assert form.title_edit.placeholderText().startswith("Required")
    assert form.error_for("title") is None  # nothing is "wrong" before a save


def test_with_nothing_selected_the_form_says_so_instead_of_empty_fields(
    main_window: MainWindow,
) -> None:
    form = main_window.form
    assert form.nothing_label.isVisible()
    assert not form.tabs.isVisible() and not form.state_badge.isVisible()
    main_window.new_action.trigger()
    assert not form.nothing_label.isVisible()
    assert form.tabs.isVisible()


def test_labels_are_the_field_tables_words(main_window: MainWindow) -> None:
    form = main_window.form
    row = form.embargo_date.parentWidget()
    assert isinstance(row, FieldRow)
    assert label_of(row) == "Embargo until"
    form.show_errors({"embargoUntil.x": "must be a date", "nextReviewDate": "not a date"})
    assert "embargoUntil" not in form.banner.text()


def test_badge_and_metadata_say_embargoed_as_the_table_does(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    fill(database, make_record(title="Gender Pay Gap", state="published", embargoUntil=FUTURE))
    main_window.model.refresh()
    select(qtbot, main_window, "Gender Pay Gap")
    row = titles_shown(main_window).index("Gender Pay Gap")
    state_column = next(i for i, c in enumerate(main_window.model.columns) if c.key == "state")
    assert main_window.model.index(row, state_column).data() == "embargoed"
    assert main_window.form.state_badge.text() == "Embargoed"
    assert f"embargoed until {FUTURE}" in main_window.form.meta_edits["state"].text()


def test_a_passed_embargo_date_saves_with_a_warning(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    fill(database, make_record(title="Street Trees"))
    main_window.model.refresh()
    select(qtbot, main_window, "Street Trees")
    form = main_window.form
    assert not form.state_notice.isVisible()
    form.tabs.setCurrentIndex(form.TABS.index("Access"))
    edit = form.embargo_date.date_edit
    edit.setFocus()
    edit.setSelectedSection(QtWidgets.QDateTimeEdit.Section.YearSection)
    qtbot.keyClicks(edit, "2020")
    assert form.embargo_date.value() is not None
    assert form.embargo_date.value().startswith("2020-")  # type: ignore[union-attr]
    assert form.state_notice.isVisible()
    assert "has passed" in form.state_notice.text()

    with qtbot.waitSignal(main_window.model.countChanged):
        qtbot.mouseClick(form.save_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not form.is_dirty())
    assert form.state_notice.isVisible()  # still said once saved
    with database.read() as session:
        saved = datasets.get_record(session, form.record()["id"])
    assert str(saved["embargoUntil"]).startswith("2020-")


def test_typing_a_year_in_an_unticked_date_box_sets_the_date(
    qtbot: QtBot, main_window: MainWindow
) -> None:
    main_window.new_action.trigger()
    review = main_window.form.review_date
    assert review.value() is None
    review.date_edit.setFocus()
    review.date_edit.setSelectedSection(QtWidgets.QDateTimeEdit.Section.YearSection)
    qtbot.keyClicks(review.date_edit, "2031")
    assert review.enabled_box.isChecked()
    assert str(review.value()).startswith("2031-")


def test_tab_in_the_description_moves_to_the_next_field(
    qtbot: QtBot, main_window: MainWindow
) -> None:
    main_window.new_action.trigger()
    form = main_window.form
    form.description_edit.setFocus()
    qtbot.waitUntil(lambda: form.description_edit.hasFocus())
    qtbot.keyClicks(form.description_edit, "Tree surveys")
    qtbot.keyClick(form.description_edit, Key.Key_Tab)
    assert "\t" not in form.description_edit.toPlainText()
    assert not form.description_edit.hasFocus()
    assert form.iframe_edit.hasFocus()


# -- the table ---------------------------------------------------------------------------------


def test_a_new_search_starts_at_the_top_finds_ids_and_says_no_matches(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    ids = fill(
        database,
        *(make_record(title=f"Tree Survey {n:03}") for n in range(80)),
        *(make_record(title=f"Parking Fines {n:03}") for n in range(80)),
    )
    with qtbot.waitSignal(main_window.model.countChanged):
        main_window.model.refresh()
    main_window.resize(900, 500)
    main_window.table.scrollToBottom()
    bar = main_window.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() > 0)

    qtbot.keyClicks(main_window.search_box, "tree")
    qtbot.waitUntil(lambda: main_window.model.rowCount() == 80)
    assert bar.value() == 0

    main_window.search_box.clear()  # may answer on its own (the whole list) before the id's
    qtbot.keyClicks(main_window.search_box, ids[100])
    qtbot.waitUntil(lambda: titles_shown(main_window) == ["Parking Fines 020"])
    assert not main_window.empty_notice.isVisible()

    main_window.search_box.clear()
    with qtbot.waitSignal(main_window.model.countChanged, check_params_cb=lambda n: n == 0):
        qtbot.keyClicks(main_window.search_box, "zebra crossings")
    assert main_window.empty_notice.isVisible()
    assert main_window.empty_notice.text() == "No datasets match “zebra crossings”."


def test_delete_asks_with_no_as_the_default(
    qtbot: QtBot, database: Database, main_window: MainWindow
) -> None:
    fill(database, make_record(title="Street Trees"))
    main_window.model.refresh()
    select(qtbot, main_window, "Street Trees")
    defaults: list[str] = []

    def press_enter(box: QtWidgets.QMessageBox) -> None:
        button = box.defaultButton()
        defaults.append(button.text().replace("&", "") if button is not None else "")
        qtbot.keyClick(box, Key.Key_Return)

    seen = answer_next_box(press_enter)
    main_window.delete_action.trigger()
    qtbot.waitUntil(lambda: bool(seen))
    assert defaults == ["No"]
    with database.read() as session:
        assert datasets.get_record(session, main_window.form.record()["id"])  # still there


# -- server, help, dialogs -----------------------------------------------------------------


def test_a_stopped_server_tab_shows_no_empty_banner(main_window: MainWindow) -> None:
    main_window.side_tabs.setCurrentWidget(main_window.server_panel)
    panel = main_window.server_panel
    assert panel.isVisible()
    assert not panel.error_label.isVisible()
    assert "sqlite:" not in panel.status_label.text()


def test_quitting_while_serving_asks_first(qtbot: QtBot, main_window: MainWindow) -> None:
    panel = main_window.server_panel
    panel.port_spin.setValue(0)
    with qtbot.waitSignal(panel.started):
        panel.start()

    def cancel(box: QtWidgets.QMessageBox) -> None:
        qtbot.keyClick(box, Key.Key_Escape)

    seen = answer_next_box(cancel)
    assert not main_window.close()
    assert seen and "being served" in seen[0]
    assert main_window.isVisible() and panel.state is State.RUNNING

    def stop(box: QtWidgets.QMessageBox) -> None:
        chosen = next(b for b in box.buttons() if "Stop serving" in b.text())
        chosen.click()

    answer_next_box(stop)
    assert main_window.close()
    assert not panel.running  # stopped, its port freed


def test_help_lists_the_shortcuts_shows_the_manual_and_about(main_window: MainWindow) -> None:
    menus = [a.text().replace("&", "") for a in main_window.menuBar().actions()]
    assert menus[-1] == "Help"
    shortcuts = main_window.help.show_shortcuts()
    rows = dict(shortcuts.rows())
    assert rows["Save"] == "Ctrl+S"
    assert rows["Open catalogue"] == "Ctrl+O"
    assert rows["Keyboard shortcuts"] == "Ctrl+/"
    assert "Save the dataset in the form (while typing in it)" in rows
    manual = main_window.help.show_manual()
    assert "Two commands" in manual.browser.toPlainText()
    about = main_window.help.show_about()
    assert "Catalogue Desk" in about.text()
    assert "catalogue.sqlite" in about.text()
    about.accept()


@pytest.mark.parametrize("banner", [False, True])
def test_the_add_remote_dialog_opens_usable_and_nothing_overlaps(
    qtbot: QtBot, banner: bool
) -> None:
    dialog = AddRemoteDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    if banner:
        dialog.keyring_unavailable(no_keyring_text("keyring.backends.fail.Keyring"))
    layout = dialog.layout()
    assert layout is not None
    assert dialog.height() >= layout.totalHeightForWidth(dialog.width())
    shown = [
        w
        for w in (dialog.keyring_banner, dialog.name_edit, dialog.url_edit, dialog.env_edit,
                  dialog.anonymous_radio, dialog.add_button)
        if w.isVisible()
    ]  # fmt: skip
    boxes = [QtCore.QRect(w.mapTo(dialog, QtCore.QPoint(0, 0)), w.size()) for w in shown]
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            assert not first.intersects(second)
    assert dialog.env_edit.width() >= 200  # room to type a variable's name
