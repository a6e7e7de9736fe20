"""Who may do what: users, groups, teams, the current dataset's rulesets (seed 004), API keys.

One widget per tab (views.permissions.*_tab), each over small item models
(views.permissions.models). Every change is one transaction through app.services.access /
api_keys, run as an operation (views.operations) off the GUI thread; a refused change
(ValidationFailed, NotFound, ...) is shown next to the field it concerns.

What is shown is read off the GUI thread too (views.operations.LatestRead), again whenever
`catalogueChanged` says the directory changed: this view's own changes, an API key issued in
its dialog, or a change made elsewhere (the server, another process). `changed` is emitted
after a commit, once the view shows it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services.catalogue_watch import CatalogueChange
from app.services.db_faults import explain
from app.views.api_key_dialog import ApiKeyDialog
from app.views.failures import FailureReporter
from app.views.operations import LatestRead, Operations, Outcome, change_of
from app.views.permissions.api_keys_tab import ApiKeysTab
from app.views.permissions.common import Change, Confirm, Directory, FieldErrors
from app.views.permissions.groups_tab import GroupsTab, TeamsTab
from app.views.permissions.rulesets_tab import RulesetsTab
from app.views.permissions.users_tab import UsersTab
from app.views.qt import QtWidgets, Signal


class PermissionsView(QtWidgets.QWidget):
    """Tabs: Users, Groups, Teams, Rulesets (of the dataset given to `set_dataset`), API keys."""

    changed = Signal()  # after any committed change, once it is shown
    loaded = Signal()  # the directory and the rulesets shown were (re)read

    def __init__(
        self,
        database: Database,
        parent: QtWidgets.QWidget | None = None,
        *,
        operations: Operations | None = None,
    ) -> None:
        super().__init__(parent)
        # The window's operations; on its own the view writes through its own.
        self.operations = operations or Operations(database, FailureReporter(self), self)
        self._directory: LatestRead[Directory] = LatestRead(
            self.operations, "read the users, groups, teams and API keys", self._show_directory
        )
        # Asked before anything irreversible; replace it to answer without a message box.
        self.confirm: Confirm = self._ask

        def ask(title: str, text: str) -> bool:
            return self.confirm(title, text)

        self.users = UsersTab(self._commit)
        self.groups = GroupsTab(self._commit)
        self.teams = TeamsTab(self._commit)
        self.rulesets = RulesetsTab(self.operations, self._commit, ask)
        self.keys = ApiKeysTab(self.operations, self._commit, ask, self.users.selected_user)
        self.keys.created.connect(self._key_created)

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.users, "&Users")
        self.tabs.addTab(self.groups, "&Groups")
        self.tabs.addTab(self.teams, "&Teams")
        self.tabs.addTab(self.rulesets, "&Rulesets")
        self.tabs.addTab(self.keys, "API &keys")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.operations.catalogueChanged.connect(self._catalogue_changed)
        self.refresh()

    @property
    def dataset_id(self) -> str | None:
        return self.rulesets.dataset_id

    @property
    def key_dialog(self) -> ApiKeyDialog | None:
        """The New API key dialog while it is open."""
        return self.keys.dialog

    def set_dataset(self, dataset_id: str | None) -> None:
        """Show (and edit) the rulesets of this dataset; None when no dataset is selected."""
        self.rulesets.set_dataset(dataset_id)

    @property
    def reading(self) -> bool:
        """A read of what the view shows is on its way."""
        return self._directory.pending or self.rulesets.reading

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """Re-read everything shown, off the GUI thread; `then`, then `loaded`, once shown."""
        self._after_refresh(then)
        self._directory.run(Directory.read)
        self.rulesets.refresh()

    def _after_refresh(self, then: Callable[[], None] | None) -> None:
        """Run `then`, then `loaded`, once the directory and the rulesets read next are both
        shown (a read that a newer one supersedes hands its callbacks on, views.operations)."""
        left = [2]

        def one() -> None:
            left[0] -= 1
            if left[0] == 0:
                if then is not None:
                    then()
                self.loaded.emit()

        self._directory.wait(one)
        self.rulesets.wait(one)

    def _show_directory(self, directory: Directory) -> None:
        for tab in (self.users, self.groups, self.teams, self.keys, self.rulesets):
            tab.show_directory(directory)

    def _catalogue_changed(self, change: CatalogueChange) -> None:
        if change.directory:
            self.refresh()

    def _commit(
        self, errors: FieldErrors, change: Change, *, then: Callable[[], None] | None = None
    ) -> None:
        """Run one change as an operation (off the GUI thread, one transaction); show a
        refusal next to its field, or, once the view shows the change, `then` and `changed`."""

        def run(session: Session) -> Outcome[None]:
            change(session)
            # Rulesets decide who sees which datasets: the window re-reads what it shows.
            return Outcome(None, change_of(directory=True))

        def done(_none: None) -> None:
            errors.clear()
            # The write announces its change right after this (catalogueChanged, directory):
            # the re-read it starts here is the one `shown` waits for.
            self._after_refresh(shown)

        def shown() -> None:
            if then is not None:
                then()
            self.changed.emit()

        def failed(error: Exception) -> bool:
            explained = explain(error)
            if explained is None:
                return False  # a bug: the one handler shows it
            errors.show(explained)
            return True

        self.operations.write("change the permissions", run, done, failed)

    def _key_created(self, uid: str) -> None:
        # Issued by the dialog's own write, which announces it: select it once re-read.
        self._after_refresh(lambda: self._select_key(uid))

    def _select_key(self, uid: str) -> None:
        self.keys.select(uid)
        self.changed.emit()

    def _ask(self, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self, title, text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes
