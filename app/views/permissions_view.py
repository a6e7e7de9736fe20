"""Who may do what: users, groups, teams, the current dataset's rulesets (seed 004), API keys.

One widget per tab (views.permissions.*_tab), each over small item models
(views.permissions.models). Every change is one `database.transaction()` through
app.services.access / api_keys, run as an operation (views.operations) off the GUI thread; a
refused change (ValidationFailed, NotFound, ...) is shown next to the field it concerns, and
`changed` is emitted only after a commit. The lists here are a handful of rows read in one
short query, so they are read on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.models.database import Database
from app.services.db_faults import explain
from app.views.api_key_dialog import ApiKeyDialog
from app.views.failures import FailureReporter
from app.views.operations import Operations, Outcome, change_of
from app.views.permissions.api_keys_tab import ApiKeysTab
from app.views.permissions.common import Change, Confirm, Directory, FieldErrors
from app.views.permissions.groups_tab import GroupsTab, TeamsTab
from app.views.permissions.rulesets_tab import RulesetsTab
from app.views.permissions.users_tab import UsersTab
from app.views.qt import QtWidgets, Signal


class PermissionsView(QtWidgets.QWidget):
    """Tabs: Users, Groups, Teams, Rulesets (of the dataset given to `set_dataset`), API keys."""

    changed = Signal()  # after any committed change

    def __init__(
        self,
        database: Database,
        parent: QtWidgets.QWidget | None = None,
        *,
        operations: Operations | None = None,
    ) -> None:
        super().__init__(parent)
        self._database = database
        # The window's operations; on its own the view writes through its own.
        self.operations = operations or Operations(database, FailureReporter(self), self)
        # Asked before anything irreversible; replace it to answer without a message box.
        self.confirm: Confirm = self._ask

        def ask(title: str, text: str) -> bool:
            return self.confirm(title, text)

        self.users = UsersTab(self._commit)
        self.groups = GroupsTab(self._commit)
        self.teams = TeamsTab(self._commit)
        self.rulesets = RulesetsTab(database, self._commit, ask)
        self.keys = ApiKeysTab(database, self._commit, ask, self.users.selected_user)
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

    def refresh(self) -> None:
        """Re-read everything shown (after a change made elsewhere)."""
        with self._database.read() as session:
            directory = Directory.read(session)
        for tab in (self.users, self.groups, self.teams, self.keys, self.rulesets):
            tab.show_directory(directory)

    def _commit(
        self,
        errors: FieldErrors,
        change: Change,
        *,
        refresh: bool = True,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Run one change as an operation (off the GUI thread, one transaction); show a
        refusal next to its field, or refresh and signal the commit."""

        def run(session: Session) -> Outcome[None]:
            change(session)
            # Rulesets decide who sees which datasets: the window re-reads what it shows.
            return Outcome(None, change_of(directory=True))

        def done(_none: None) -> None:
            errors.clear()
            if refresh:
                self.refresh()
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
        self.refresh()
        self.keys.select(uid)
        self.changed.emit()

    def _ask(self, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(self, title, text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes
