"""One way to change the catalogue from the window (docs/ARCHITECTURE.md: off the GUI thread),
after Anki's CollectionOp and QueryOp.

`Operations.write(doing, fn, on_done)` runs `fn(session)` on the writer thread, in one
transaction, one write at a time in the order asked (a queue of one thread: no two writes of
this window race for the lock); `fn` returns an `Outcome`: its value for `on_done` and the
`CatalogueChange` it made, which `catalogueChanged` then announces on the GUI thread. The
table, the form and the panels refresh from that one signal, whoever wrote.

`catalogueChanged` also fires for what others commit (the server's PATCH, a sync, another
process): a `CatalogueWatch` (services.catalogue_watch) is polled on a light timer from a
worker on SQLite; on PostgreSQL a worker of its own waits in `CatalogueWatch.wait` until a
notification (LISTEN/NOTIFY) wakes it, or its slow fallback poll comes round. Its own writes
are not announced twice: each write tells the watch which versions it wrote, and one that
changed the directory (which writes no version) has the watch take the data_version its commit
moved as its own.

`read(fn, on_done)` runs a read that can take long (a dataset's record and lists) on a worker.
A view that re-reads what it shows on every change reads through a `LatestRead`: a newer read
supersedes an older one, and callbacks waiting for a read run after the newest is shown.

Failures go to one handler (views.failures): an `on_error` callback may take an expected
failure (a refused save shows its field errors), anything it does not take is shown there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services.catalogue_watch import (
    FALLBACK_S,
    CatalogueChange,
    CatalogueWatch,
    newest_version,
)
from app.services.progress import Progress
from app.views.failures import FailureReporter
from app.views.qt import QtCore, Signal
from app.views.tasks import Task, TaskRunner

T = TypeVar("T")
R = TypeVar("R")

# How often the watch looks for others' commits: one PRAGMA on SQLite, so it can be often.
POLL_MS = 500


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a write returns: its value, and what it changed in the catalogue."""

    value: T
    change: CatalogueChange


class Operations(QtCore.QObject):
    catalogueChanged = Signal(object)  # CatalogueChange, on the GUI thread
    busyChanged = Signal(bool)  # writes pending or not

    def __init__(
        self,
        database: Database,
        reporter: FailureReporter,
        parent: QtCore.QObject | None = None,
        *,
        poll_ms: int = POLL_MS,
        fallback_s: float = FALLBACK_S,
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._reporter = reporter
        self._writer = TaskRunner(self, max_threads=1)
        self._readers = TaskRunner(self)
        # PostgreSQL: the thread that waits for notifications (its own: it blocks).
        self._listener = TaskRunner(self, max_threads=1)
        self._fallback_s = fallback_s
        self._pending = 0
        self._watch: CatalogueWatch | None = None
        self._polling: Task | None = None
        self._poll_timer = QtCore.QTimer(self, interval=poll_ms)
        self._poll_timer.timeout.connect(self.poll_now)

    # -- writes -------------------------------------------------------------------------------

    def write(
        self,
        doing: str,
        fn: Callable[[Session], Outcome[T]],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[Exception], bool] | None = None,
    ) -> Task:
        """Run `fn` in a write transaction off the GUI thread. doing: what it does, for an
        error message ("save “Trees”"). on_error returns True when it showed the failure.
        Once committed, `on_done` runs first, then `catalogueChanged` announces the change (a
        view may wait, in `on_done`, for the re-read that announcement starts)."""
        watch = self._watch

        def run(_progress: Progress) -> tuple[Outcome[T], CatalogueChange | None]:
            owned: tuple[int, int] | None = None
            try:
                with self._database.transaction() as session:
                    # The first statement takes the write lock (BEGIN IMMEDIATE on SQLite):
                    # the versions written between these two reads are this write's own.
                    first = newest_version(session)
                    outcome = fn(session)
                    owned = (first, newest_version(session))
                    if watch is not None:  # told before the commit, so no poll sees it first
                        watch.own(*owned)
            except BaseException:
                if watch is not None and owned is not None:
                    # Rolled back: SQLite hands those pks out again, to others' versions.
                    watch.disown(*owned)
                raise
            return outcome, _absorb(watch, outcome.change)

        def done(result: tuple[Outcome[T], CatalogueChange | None]) -> None:
            outcome, news = result
            self._finished()
            if on_done is not None:
                on_done(outcome.value)
            if outcome.change:
                self.catalogueChanged.emit(outcome.change)
            if news:
                self.catalogueChanged.emit(news)

        def failed(error: Exception) -> None:
            self._finished()
            if on_error is None or not on_error(error):
                self._reporter.report(error, doing)

        self._pending += 1
        if self._pending == 1:
            self.busyChanged.emit(True)
        return self._writer.run(run, on_done=done, on_error=failed)

    def _finished(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self.busyChanged.emit(False)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def expected_message(self, error: BaseException) -> str | None:
        """The words for an expected failure (views.failures), None for a bug."""
        return self._reporter.expected_message(error)

    def report(self, error: BaseException, doing: str = "") -> None:
        self._reporter.report(error, doing)

    def announce(self, change: CatalogueChange) -> None:
        """A write made outside this API (an import, a pull) finished, or one made of several
        writes through it (a link check's batches): say what it changed, once."""
        if change:
            self.catalogueChanged.emit(change)

    # -- reads --------------------------------------------------------------------------------

    def read(
        self,
        doing: str,
        fn: Callable[[Session], R],
        on_done: Callable[[R], None],
        on_error: Callable[[Exception], bool] | None = None,
    ) -> Task:
        """Run `fn` in a read session off the GUI thread; `on_done` gets its result."""

        def run(_progress: Progress) -> R:
            with self._database.read() as session:
                return fn(session)

        def failed(error: Exception) -> None:
            if on_error is None or not on_error(error):
                self._reporter.report(error, doing)

        return self._readers.run(run, on_done=on_done, on_error=failed)

    # -- others' changes ----------------------------------------------------------------------

    def start_watching(self) -> None:
        """Begin watching for others' commits (the watch opens on a worker)."""
        if self._watch is not None or self._poll_timer.isActive():
            return

        def opened(watch: CatalogueWatch) -> None:
            self._watch = watch
            if watch.listens:
                self._wait_for_news(watch)
            else:
                self._poll_timer.start()

        self._readers.run(lambda _p: CatalogueWatch(self._database), on_done=opened,
                          on_error=self._watch_failed)  # fmt: skip

    @property
    def watching(self) -> bool:
        """The watch is open: others' commits are looked for."""
        return self._watch is not None

    @property
    def listening(self) -> bool:
        """Others' commits wake the watch (PostgreSQL's LISTEN); no timer polls for them."""
        watch = self._watch
        return watch is not None and watch.listening and not self._poll_timer.isActive()

    @property
    def polling(self) -> bool:
        """A look for others' commits is under way."""
        return self._polling is not None

    def poll_now(self) -> None:
        """Look for others' commits now (the timer does this every POLL_MS)."""
        watch = self._watch
        if watch is None or self._polling is not None:
            return

        def done(change: CatalogueChange | None) -> None:
            self._polling = None
            if change is not None and self._watch is not None:
                self.catalogueChanged.emit(change)

        def failed(error: Exception) -> None:
            self._polling = None
            self._watch_failed(error)

        self._polling = self._readers.run(lambda _p: watch.poll(), on_done=done, on_error=failed)

    def _wait_for_news(self, watch: CatalogueWatch) -> None:
        """Wait (on the listener thread) for the next notification, announce it, wait again."""

        def done(change: CatalogueChange | None) -> None:
            if self._watch is not watch:
                return  # stopped meanwhile
            if change is not None:
                self.catalogueChanged.emit(change)
            self._wait_for_news(watch)

        fallback = self._fallback_s
        self._listener.run(lambda _p: watch.wait(fallback), on_done=done,
                           on_error=self._watch_failed)  # fmt: skip

    def _watch_failed(self, error: Exception) -> None:
        # Said once: a watch that fails every half second would bury the window in dialogs.
        self._poll_timer.stop()
        self._reporter.report(error, "watch the catalogue for changes made elsewhere")

    def stop(self, msecs: int = 30000) -> bool:
        """Stop watching and wait for the writes and reads in flight; False if they did not end."""
        self._poll_timer.stop()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()  # first: it wakes the listener thread's wait
        runners = (self._writer, self._readers, self._listener)
        return all(runner.wait_for_all(msecs) for runner in runners)


class LatestRead(Generic[R]):
    """What a view shows, re-read off the GUI thread whenever it may have changed.

    Reads may overtake each other: only the newest is shown (`show`), an older answer that
    arrives later is dropped. A callback waiting for a read (`then`, or `wait`) runs once the
    newest read is shown, so one that a newer read superseded is not lost, and a caller that
    reads again because the catalogue changed meanwhile keeps everyone's callbacks."""

    def __init__(
        self,
        operations: Operations,
        doing: str,
        show: Callable[[R], None],
        settled: Callable[[], None] | None = None,
    ) -> None:
        """show: puts a result on screen; settled: runs after it and the waiting callbacks
        (a view's `loaded` signal)."""
        self._operations = operations
        self._doing = doing
        self._show = show
        self._settled = settled
        self._asked = 0  # bumps with each read asked (or result shown without one)
        self._shown = 0
        self._waiting: list[Callable[[], None]] = []

    @property
    def pending(self) -> bool:
        """A read was asked whose answer is not shown yet."""
        return self._shown != self._asked

    def run(self, fn: Callable[[Session], R], then: Callable[[], None] | None = None) -> Task:
        """Read `fn` on a worker and show it, unless a newer read was asked meanwhile."""
        self._asked += 1
        asked = self._asked
        self.wait(then)

        def done(result: R) -> None:
            if asked == self._asked:
                self._settle(asked, result)

        return self._operations.read(self._doing, fn, done)

    def show_now(self, result: R) -> None:
        """Show `result` without reading (there is nothing to read); reads on their way are
        dropped, and the callbacks waiting run."""
        self._asked += 1
        self._settle(self._asked, result)

    def wait(self, then: Callable[[], None] | None) -> None:
        """Run `then` once the next read asked is shown (a caller that knows one is coming,
        e.g. from the catalogueChanged of its own write)."""
        if then is not None:
            self._waiting.append(then)

    def _settle(self, asked: int, result: R) -> None:
        self._shown = asked
        self._show(result)
        waiting, self._waiting = self._waiting, []
        for then in waiting:
            then()
        if self._settled is not None:
            self._settled()


def _absorb(watch: CatalogueWatch | None, change: CatalogueChange) -> CatalogueChange | None:
    """After a commit to the directory (users, rulesets, keys: no version written, so the watch
    cannot tell it from others' by its versions): take its data_version move as ours, or the
    next poll would announce the same change again as made elsewhere. Others' dataset changes
    the watch finds meanwhile are returned, to be announced."""
    if watch is None or not change.directory:
        return None
    try:
        return watch.poll(ours=True)
    except Exception:  # the write is committed; the timer's poll meets this again and says so
        return None


def change_of(datasets: Any = (), *, directory: bool = False) -> CatalogueChange:
    """A change of this window's own making: these dataset ids, the directory or not."""
    return CatalogueChange(frozenset(datasets), directory=directory)
