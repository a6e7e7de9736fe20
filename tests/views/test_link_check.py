"""Tools > Check links against a real HTTP server on loopback: broken links in table and form."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytestqt.qtbot import QtBot

from app.models.database import Database
from app.services import datasets, history, link_check
from app.services.catalogue_watch import CatalogueChange
from app.views import link_checker
from app.views.dataset_table_model import COLUMNS, TITLE_COLUMN
from app.views.facet_sidebar import FACET_ROLE
from app.views.main_window import MainWindow
from app.views.qt import QtCore, QtGui, QtWidgets
from tests.conftest import AUTHOR, make_record
from tests.views.conftest import another_writer_holds_the_lock, open_in_form, titles_shown

BROKEN_COLUMN = [c.key for c in COLUMNS].index("broken_links")


class Site:
    """A small web site on 127.0.0.1: /ok answers 200, /gone 404, /slow only when released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked: list[str] = []  # paths requested, in order
        release, asked = self.release, self.asked

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, *, body: bool) -> None:
                asked.append(self.path)
                if self.path == "/slow":
                    release.wait()  # the Site's exit releases it
                status = 200 if self.path in ("/ok", "/slow") else 404
                payload = b"species,height\noak,12\n" if status == 200 else b"gone"
                self.send_response(status)
                self.send_header("Content-Type", "text/csv" if status == 200 else "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("ETag", '"v1"')
                self.end_headers()
                if body:
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet tests

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def link(lid: str, title: str, url: str, order: int) -> dict[str, object]:
    qa = {"timestamp": None, "hash": None, "size": None, "mimetype": None, "httpStatus": None}
    return {lid: {"url": url, "order": order, "title": title, "description": "", "qa": qa}}


@pytest.fixture
def catalogue(database: Database, site: Site) -> dict[str, str]:
    """Three datasets: one with a good link, one with a good and a dead link, one with none."""
    links = {
        "Street Trees": link("ln1", "Survey", site.url("/ok"), 0),
        "Parking Fines": {
            **link("ln2", "Tariffs", site.url("/ok"), 0),
            **link("ln3", "Old portal", site.url("/gone"), 1),
        },
        "Library Loans": {},
    }
    ids = {}
    with database.transaction() as session:
        for title, children in links.items():
            record = make_record(title=title, links=children)
            ids[title] = datasets.create_dataset(session, record, author=AUTHOR)["id"]
    return ids


def broken_cells(window: MainWindow) -> dict[str, object]:
    """Title -> what the broken-links column shows for it."""
    model = window.model
    return {
        title: model.data(model.index(row, BROKEN_COLUMN))
        for row, title in enumerate(titles_shown(window))
    }


def qa_of(database: Database, dataset_id: str, lid: str) -> dict[str, object]:
    with database.read() as session:
        return dict(datasets.get_record(session, dataset_id)["links"][lid]["qa"])


def test_checking_all_links_marks_the_broken_one_in_table_and_form(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
) -> None:
    window = main_window
    fines = catalogue["Parking Fines"]
    # Before any check nothing is broken: unknown is not broken.
    assert set(broken_cells(window).values()) == {None}
    assert window.check_all_links_action.isEnabled()
    assert not window.check_selected_links_action.isEnabled()  # nothing selected

    with qtbot.waitSignal(window.link_checker.finished, timeout=20000) as finished:
        window.check_all_links_action.trigger()
        assert window.link_checker.widget.isVisible()  # progress and Cancel in the status bar
        assert not window.check_all_links_action.isEnabled()
    results = finished.args[0]
    assert sorted((r.lid, r.http_status) for r in results) == [
        ("ln1", 200),
        ("ln2", 200),
        ("ln3", 404),
    ]
    assert not window.link_checker.widget.isVisible()
    assert window.statusBar().currentMessage() == "Checked 3 links: 1 broken."

    # The table: the count and a warning icon on Parking Fines only.
    qtbot.waitUntil(lambda: broken_cells(window)["Parking Fines"] == 1)
    assert broken_cells(window) == {"Library Loans": None, "Parking Fines": 1, "Street Trees": None}
    model = window.model
    row = titles_shown(window).index("Parking Fines")
    index = model.index(row, BROKEN_COLUMN)
    assert isinstance(model.data(index, QtCore.Qt.ItemDataRole.DecorationRole), QtGui.QIcon)
    tooltip = model.data(index, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "1 link failed the last link check"
    assert model.headerData(BROKEN_COLUMN, QtCore.Qt.Orientation.Horizontal) == "Broken links"
    # And beside the title, visible however the columns are arranged.
    title = model.index(row, TITLE_COLUMN)
    assert isinstance(model.data(title, QtCore.Qt.ItemDataRole.DecorationRole), QtGui.QIcon)
    assert model.data(title, QtCore.Qt.ItemDataRole.ToolTipRole) == (
        "Parking Fines\n1 link failed the last link check"
    )
    trees = model.index(titles_shown(window).index("Street Trees"), TITLE_COLUMN)
    assert model.data(trees, QtCore.Qt.ItemDataRole.DecorationRole) is None

    # The qa fields, as DataPress QA fills them.
    qa = qa_of(database, fines, "ln2")
    assert (qa["httpStatus"], qa["mimetype"], qa["size"], qa["hash"]) == (
        200,
        "text/csv",
        22,
        '"v1"',
    )
    assert qa_of(database, fines, "ln3")["httpStatus"] == 404

    # The form: each link's last check, the dead one in red with the reason.
    open_in_form(qtbot, window, fines)
    tree = window.form.links.tree
    shown = {}
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        assert item is not None
        shown[item.text(0)] = item.text(1)
    assert shown == {"Tariffs": "200", "Old portal": "404 broken"}
    dead = tree.topLevelItem(1)
    assert dead is not None and dead.text(0) == "Old portal"
    assert dead.toolTip(0).startswith("Broken: the link answered 404 when checked on ")
    assert dead.foreground(0).color().name() == "#c62828"
    window.form.links.tree.setCurrentItem(dead)
    status_field = window.form.links.editors["qa.httpStatus"]
    assert isinstance(status_field, QtWidgets.QLineEdit) and status_field.text() == "404"
    assert not window.form.is_dirty()


def test_checking_the_selection_checks_only_its_links(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
) -> None:
    window = main_window
    trees, fines = catalogue["Street Trees"], catalogue["Parking Fines"]
    open_in_form(qtbot, window, trees)
    assert window.check_selected_links_action.isEnabled()
    with qtbot.waitSignal(window.link_checker.finished, timeout=20000) as finished:
        window.check_selected_links_action.trigger()
    assert [(r.dataset_id, r.http_status) for r in finished.args[0]] == [(trees, 200)]
    assert window.statusBar().currentMessage() == "Checked 1 link: all answered."
    assert qa_of(database, trees, "ln1")["httpStatus"] == 200
    assert qa_of(database, fines, "ln3")["timestamp"] is None  # not checked


def test_cancel_stops_a_slow_check_and_records_nothing(
    qtbot: QtBot,
    database: Database,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A check that would wait for /slow's answer for ten minutes: a Cancel that did not stop
    # the request could not be noticed in time, however long a loaded machine takes.
    monkeypatch.setattr(
        link_check, "probe_links", functools.partial(link_check.probe_links, timeout=600)
    )
    with database.transaction() as session:
        record = make_record(title="Slow Server", links=link("sl1", "Slow", site.url("/slow"), 0))
        slow = datasets.create_dataset(session, record, author=AUTHOR)["id"]
    window = MainWindow(database, author="archivist")
    try:
        with qtbot.waitSignal(window.model.countChanged):
            window.show()
        assert window.check_links(selected=False)
        qtbot.waitUntil(lambda: "/slow" in site.asked, timeout=10000)  # the request hangs
        with qtbot.waitSignal(window.link_checker.cancelled, timeout=20000):
            qtbot.mouseClick(window.link_checker.cancel_button, QtCore.Qt.MouseButton.LeftButton)
        assert window.statusBar().currentMessage() == "Link check cancelled; nothing recorded"
        assert not window.link_checker.widget.isVisible()
        assert window.check_all_links_action.isEnabled()
        assert qa_of(database, slow, "sl1")["timestamp"] is None
    finally:
        site.release.set()
        window.close()
        window.tasks.wait_for_all()
        window.deleteLater()


def links_facet(window: MainWindow) -> dict[str, object]:
    """The links facet's counts in the sidebar: "broken" and "ok" (a value counting none is
    not listed)."""
    model, counts = window.facets.model, {}
    for row in range(model.rowCount()):
        parent = model.index(row, 0)
        for child in range(model.rowCount(parent)):
            facet, value = model.index(child, 0, parent).data(FACET_ROLE)
            if facet == "links":
                counts[value] = model.index(child, 1, parent).data()
    return counts


def links_shown(window: MainWindow) -> dict[str, str]:
    """The form's links: title -> the status it shows."""
    tree = window.form.links.tree
    shown = {}
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        assert item is not None
        shown[item.text(0)] = item.text(1)
    return shown


def test_a_link_check_is_announced_once_for_the_datasets_it_wrote(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its findings are written as the window's operations (a batch each: one dataset here),
    and one catalogueChanged names the datasets written: the form, the table and the facets
    follow from it, as after any write, with no refresh of everything."""
    monkeypatch.setattr(link_checker, "RECORD_BATCH", 1)
    window = main_window
    # Watching: a write made while the watch opens could be announced again as another's.
    qtbot.waitUntil(lambda: window.operations.watching)
    trees, fines = catalogue["Street Trees"], catalogue["Parking Fines"]
    open_in_form(qtbot, window, fines)
    assert links_shown(window) == {"Tariffs": "", "Old portal": ""}
    qtbot.waitUntil(lambda: links_facet(window) == {"ok": "3"})
    changes: list[CatalogueChange] = []
    window.operations.catalogueChanged.connect(changes.append)
    with qtbot.waitSignal(window.link_checker.finished):
        window.check_all_links_action.trigger()
    assert changes == [CatalogueChange(frozenset({trees, fines}))]  # not Library Loans
    # The form showing Parking Fines re-reads it: the dead link, without being opened again.
    qtbot.waitUntil(lambda: links_shown(window) == {"Tariffs": "200", "Old portal": "404 broken"})
    qtbot.waitUntil(lambda: links_facet(window) == {"broken": "1", "ok": "2"})
    assert broken_cells(window)["Parking Fines"] == 1
    with database.read() as session:
        assert history.list_versions(session, trees)[0].action == "link-check"
        assert history.list_versions(session, fines)[0].action == "link-check"


def test_recording_a_check_behind_another_writers_lock_leaves_the_window_responsive(
    qtbot: QtBot,
    catalogue: dict[str, str],
    main_window: MainWindow,
    database: Database,
) -> None:
    window = main_window
    fines = catalogue["Parking Fines"]
    with another_writer_holds_the_lock(database) as pings:
        window.check_all_links_action.trigger()
        qtbot.waitUntil(lambda: window.link_checker.label.text() == "Recording the link check…")
        # The event loop keeps answering while the findings wait for the lock: 100 pings of
        # 30 ms (3 s) are counted while they are pending.
        start = len(pings)
        qtbot.waitUntil(lambda: len(pings) >= start + 100)
        assert window.link_checker.running and window.operations.busy
        assert not window.link_checker.cancel_button.isEnabled()  # the checking is done
        assert not window.check_all_links_action.isEnabled()
        assert qa_of(database, fines, "ln3")["timestamp"] is None  # not yet
    qtbot.waitUntil(lambda: not window.link_checker.running)
    assert qa_of(database, fines, "ln3")["httpStatus"] == 404
    assert window.statusBar().currentMessage() == "Checked 3 links: 1 broken."
