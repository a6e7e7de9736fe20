"""`python main.py dataset publish|unpublish|delete ID...`: the form's Publish, Unpublish and
Delete, headless, for scripts. A client of services.publication and services.datasets, like the
window.

All or nothing: every id is looked up first (an unknown one is named, exit 2, nothing written),
then every change is made in one transaction. A dataset already as asked (published, a draft,
deleted) is reported and left alone. A change the catalogue's rules refuse (a draft that does
not validate) is reported with its reason for every such dataset, and nothing is written
(exit 1). One line per dataset says what happened, once the transaction committed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.cli_transfer import login_name

if TYPE_CHECKING:  # SQLAlchemy loads when a command runs, not for --help
    from sqlalchemy.orm import Session

DATASET_COMMAND = "dataset"
# action -> (the state it leads to, what is printed once done, what is printed if already so)
_ACTIONS = {
    "publish": ("published", "published", "already published"),
    "unpublish": ("draft", "unpublished", "already a draft"),
    "delete": (None, "deleted", "already deleted"),
}


def add_dataset_parser(commands: Any) -> list[argparse.ArgumentParser]:
    """Add `dataset publish|unpublish|delete` to the CLI's sub-parsers; the parsers, for
    `--db`."""
    dataset: argparse.ArgumentParser = commands.add_parser(
        DATASET_COMMAND, help="publish, unpublish or delete datasets by id"
    )
    actions = dataset.add_subparsers(dest="dataset_action", metavar="ACTION", required=True)
    helps = {
        "publish": "publish drafts (all or none)",
        "unpublish": "turn published datasets back into drafts (all or none)",
        "delete": "delete datasets; they go to the trash, with their history (all or none)",
    }
    parsers = [dataset]
    for action, help_text in helps.items():
        parser = actions.add_parser(action, help=help_text)
        parser.add_argument("ids", nargs="+", metavar="ID", help="dataset id")
        parser.add_argument("--author", default=None, help="name recorded in the history")
        parsers.append(parser)
    return parsers


class _Refused(Exception):
    """Changes the catalogue refused; raised inside the transaction so that it rolls back."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def run_dataset(args: argparse.Namespace) -> int:
    """Run `dataset ACTION ID...`; the exit status. CatalogueError (an unknown id) goes up to
    the CLI, which prints it and exits 2."""
    from app.services.catalogue_files import open_database

    action: str = args.dataset_action
    ids = list(dict.fromkeys(args.ids))  # an id given twice is changed once
    author = args.author or login_name("cli")
    database = open_database(args.db)
    try:
        with database.transaction() as session:
            lines = _change(session, action, ids, author)
    except _Refused as refused:
        for reason in refused.reasons:
            print(f"error: {reason}", file=sys.stderr)
        print(f"nothing {_ACTIONS[action][1]}: no dataset was changed", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    for line in lines:
        print(line)
    return 0


def _change(session: Session, action: str, ids: list[str], author: str) -> list[str]:
    """Look every id up, then make every change; the lines to print. Raises NotFound before
    writing anything, _Refused after trying every change (the caller's transaction then rolls
    back whole)."""
    from app.services import datasets, publication
    from app.services.errors import CatalogueError

    target, done, already = _ACTIONS[action]
    states = _states(session, ids, deleting=action == "delete")
    lines: list[str] = []
    refused: list[str] = []
    for dataset_id in ids:
        state = states[dataset_id]
        if state == target or (action == "delete" and state is None):
            lines.append(f"{already} {dataset_id}")
            continue
        try:
            if action == "delete":
                datasets.delete_dataset(session, dataset_id, author=author)
            elif action == "publish":
                publication.publish(session, dataset_id, author=author)
            else:
                publication.unpublish(session, dataset_id, author=author)
        except CatalogueError as error:  # the rules said no: raised before this one was written
            refused.append(f"cannot {action} {dataset_id}: {error.message}")
            continue
        lines.append(f"{done} {dataset_id}")
    if refused:
        raise _Refused(refused)
    return lines


def _states(session: Session, ids: list[str], *, deleting: bool) -> dict[str, str | None]:
    """Each id's publication state; None for a deleted dataset when deleting (it is already
    as asked). NotFound naming every id that is not there."""
    from app.services import datasets, history, trash
    from app.services.errors import NotFound

    states: dict[str, str | None] = {}
    unknown: list[str] = []
    gone: list[str] = []
    for dataset_id in ids:
        try:
            states[dataset_id] = datasets.get_dataset(session, dataset_id).state
        except NotFound:
            last = history.latest_version(session, dataset_id)
            if last is not None and last.action in (trash.DELETE, trash.PURGE):
                if deleting:
                    states[dataset_id] = None
                else:
                    gone.append(dataset_id)
            else:
                unknown.append(dataset_id)
    problems = []
    if unknown:
        problems.append(f"no dataset with id {', '.join(unknown)}")
    if gone:
        problems.append(f"deleted (restore from the trash first): {', '.join(gone)}")
    if problems:
        raise NotFound("; ".join(problems) + "; nothing written")
    return states
