"""What every permissions tab shares: the directory it shows, the way it commits a change, and
errors shown next to the field they concern."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.services import access, api_keys
from app.services.errors import CatalogueError, ValidationFailed
from app.views.permissions.models import KEY_ROLE
from app.views.qt import QtCore, QtWidgets

Qt = QtCore.Qt

Confirm = Callable[[str, str], bool]  # (title, question) -> go ahead?
Change = Callable[[Session], object]


@dataclass(frozen=True)
class Directory:
    """Users, groups, teams and API keys: a handful of rows, read in one short query."""

    users: list[access.UserSummary]
    groups: list[access.GroupSummary]
    teams: list[access.TeamSummary]
    keys: list[api_keys.ApiKeyInfo]

    @classmethod
    def read(cls, session: Session) -> Directory:
        return cls(
            access.user_summaries(session),
            access.group_summaries(session),
            access.team_summaries(session),
            api_keys.api_key_summaries(session),
        )


class FieldErrors:
    """Routes a service error to the label of the field it names, the rest to a general one."""

    def __init__(
        self, general: QtWidgets.QLabel, fields: dict[str, QtWidgets.QLabel] | None = None
    ) -> None:
        self.general = general
        self.fields = fields or {}

    def clear(self) -> None:
        for label in (self.general, *self.fields.values()):
            label.clear()
            label.hide()

    def show(self, error: CatalogueError) -> None:
        self.clear()
        if isinstance(error, ValidationFailed):
            general: list[str] = []
            for key, message in error.errors.items():
                label = self.fields.get(key)
                if label is None:
                    general.append(f"{key}: {message}")
                else:
                    label.setText(message)
                    label.show()
            if general:
                self._general("\n".join(general))
        else:
            self._general(error.message)

    def _general(self, text: str) -> None:
        self.general.setText(text)
        self.general.show()


class Commit(Protocol):
    """Runs one change in its own transaction, off the GUI thread (views.operations). A
    refusal is shown through `errors`; after a commit every tab is re-read, then `then` runs
    and the view says so (`changed`)."""

    def __call__(
        self, errors: FieldErrors, change: Change, *, then: Callable[[], None] | None = None
    ) -> None: ...


def error_label() -> QtWidgets.QLabel:
    label = QtWidgets.QLabel()
    label.setStyleSheet("color: #b00020")
    label.setWordWrap(True)
    label.hide()
    return label


def add_field(
    form: QtWidgets.QFormLayout, text: str, editor: QtWidgets.QWidget
) -> QtWidgets.QLabel:
    """A form row whose error message sits right under its editor."""
    error = error_label()
    box = QtWidgets.QVBoxLayout()
    box.setSpacing(2)
    box.addWidget(editor)
    box.addWidget(error)
    label = QtWidgets.QLabel(text)
    label.setBuddy(editor)  # the & shortcut focuses the editor
    form.addRow(label, box)
    return error


def table_view(model: QtCore.QAbstractItemModel) -> QtWidgets.QTableView:
    """A read-only table of whole rows, one selected at a time."""
    table = QtWidgets.QTableView()
    table.setModel(model)
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.setAlternatingRowColors(True)
    return table


def fit_columns(table: QtWidgets.QTableView) -> None:
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)


def selected_key(table: QtWidgets.QAbstractItemView) -> Any:
    """The key (KEY_ROLE) of the selected row, or None."""
    rows = table.selectionModel().selectedRows()
    return rows[0].data(KEY_ROLE) if rows else None


def select_key(table: QtWidgets.QAbstractItemView, key: object, *, scroll: bool = True) -> None:
    """Select the row whose key is `key`, if there is one."""
    model = table.model()
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data(KEY_ROLE) == key:
            table.selectionModel().select(
                index,
                QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QtCore.QItemSelectionModel.SelectionFlag.Rows,
            )
            if scroll:
                table.scrollTo(index)
            return


def split_tab(
    table: QtWidgets.QTableView, add_box: QtWidgets.QGroupBox, member_box: QtWidgets.QGroupBox
) -> QtWidgets.QSplitter:
    """The people tabs' layout: the table over its Add form, beside the selected row's
    memberships (disabled until a row is selected)."""
    left = QtWidgets.QWidget()
    left_layout = QtWidgets.QVBoxLayout(left)
    left_layout.setContentsMargins(0, 0, 0, 0)
    left_layout.addWidget(table, 1)
    left_layout.addWidget(add_box)
    # A splitter, so the view still works when docked narrow beside the catalogue.
    splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
    splitter.setChildrenCollapsible(False)
    splitter.addWidget(left)
    splitter.addWidget(member_box)
    splitter.setStretchFactor(0, 3)
    splitter.setStretchFactor(1, 2)
    member_box.setEnabled(False)
    return splitter
