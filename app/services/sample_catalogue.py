"""The sample catalogue: what a brand-new, empty catalogue starts with, so a first-time user
sees something real (the fictional Harrowfield Borough Council and its archives).

The content is ``resources/sample_catalogue.json``, package data read through
``importlib.resources`` (app.resources), so an installed copy loads it as a checkout does;
``load_sample`` also takes an explicit path.

Everything is loaded through the ordinary services (access, managed lists, datasets), so the
sample passes the same validation as a person's edit and every dataset gets its "create" version
in the history. The load is one transaction: all of it or none of it.
"""

from __future__ import annotations

import copy
import json
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Dataset, DatasetVersion, Group, Team, User
from app.models.database import Database
from app.models.settings import ServerSetting
from app.resources import SAMPLE_CATALOGUE, resource
from app.services import access, datasets, managed_lists
from app.services.catalogue_files import create_database, open_database
from app.services.errors import ValidationFailed
from app.services.records import Record

SAMPLE_PATH = resource(SAMPLE_CATALOGUE)
# The author of the sample's history entries.
SAMPLE_AUTHOR = "sample catalogue"
# Set in a catalogue made empty on purpose (File > New): the sample is never loaded into it.
SAMPLE_DECLINED = "sample_declined"


class SampleTeam(TypedDict):
    id: str
    title: str
    members: list[int]


class SampleUser(TypedDict):
    id: int
    username: str
    displayName: str
    email: NotRequired[str | None]


class SampleGroup(TypedDict):
    id: int
    title: str
    description: NotRequired[str]
    members: list[int]


class SampleNamed(TypedDict):
    id: str
    title: str


class SampleLicence(TypedDict):
    url: str
    title: str


class SampleRuleset(TypedDict):
    """A seed-004 ruleset on one dataset, for either a user or a group (exactly one of them)."""

    dataset: str
    user: NotRequired[int]
    group: NotRequired[int]
    permissions: list[str]


class Sample(TypedDict):
    """The JSON file. User and group ids are the file's own; the loader maps them to real ids."""

    teams: list[SampleTeam]
    users: list[SampleUser]
    groups: list[SampleGroup]
    topics: list[SampleNamed]
    licences: list[SampleLicence]
    mastheads: list[SampleNamed]
    datasets: list[Record]
    rulesets: list[SampleRuleset]


def read_sample(path: Path | Traversable | None = None) -> Sample:
    """The sample's JSON (``SAMPLE_PATH`` unless another file is given)."""
    path = path or SAMPLE_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"The sample catalogue is missing: {path} (shipped in resources/)"
        ) from error
    data: Sample = json.loads(text)
    return data


def load_sample(database: Database, path: Path | None = None) -> int:
    """Load the sample into `database` in one transaction; returns the number of datasets.

    It does not check that the catalogue is empty (see `open_catalogue`); a clash with what is
    there already (a team id, a user name, a dataset id) raises ValidationFailed and loads nothing.
    """
    sample = read_sample(path)
    with database.transaction() as session:
        return _load(session, sample)


def is_empty(database: Database) -> bool:
    """True for a catalogue that has never held a dataset: no datasets and no history."""
    with database.read() as session:
        return _is_empty(session)


def open_catalogue(db: str | Path | None, *, with_sample: bool) -> Database:
    """Open (and migrate) a catalogue; with_sample loads the sample into a brand-new one.

    Brand-new means: no datasets, no history (`is_empty`) and no users, teams or groups either,
    so a catalogue whose owner emptied it, or set up people before adding datasets, is left
    alone; nor one made empty on purpose (`new_catalogue`). Raises NotACatalogue or
    CatalogueUnreachable (services.catalogue_files) for what cannot be opened.

    The check runs inside the loading write transaction (BEGIN IMMEDIATE on SQLite), so
    two processes opening the same new file at once load the sample only once.
    """
    database = open_database(db)
    if not with_sample:
        return database
    try:
        if is_empty(database):
            sample = read_sample()
            with database.transaction() as session:
                if _is_pristine(session):
                    _load(session, sample)
    except BaseException:
        database.dispose()
        raise
    return database


def new_catalogue(path: Path, *, with_sample: bool) -> Database:
    """File > New: a new catalogue file, with the sample or empty for good.

    An empty one is marked so that opening it later (`open_catalogue` at start-up) does not
    take it for a brand-new default catalogue and fill it with the sample.
    """
    database = create_database(path)
    try:
        with database.transaction() as session:
            if with_sample:
                _load(session, read_sample())
            else:
                session.merge(ServerSetting(key=SAMPLE_DECLINED, value="1"))
    except BaseException:
        database.dispose()
        raise
    return database


def _count(session: Session, column: Any) -> int:
    return session.scalar(select(func.count(column))) or 0


def _is_empty(session: Session) -> bool:
    return _count(session, Dataset.pk) == 0 and _count(session, DatasetVersion.pk) == 0


def _is_pristine(session: Session) -> bool:
    return (
        _is_empty(session)
        and not any(_count(session, column) for column in (User.id, Team.id, Group.id))
        and session.get(ServerSetting, SAMPLE_DECLINED) is None
    )


def _load(session: Session, sample: Sample) -> int:
    for team in sample["teams"]:
        access.create_team(session, team["id"], team["title"])
    user_ids: dict[int, int] = {}
    for user in sample["users"]:
        created = access.create_user(
            session, user["username"], display_name=user["displayName"], email=user.get("email")
        )
        user_ids[user["id"]] = created.id
    group_ids: dict[int, int] = {}
    for group in sample["groups"]:
        created_group = access.create_group(
            session, group["title"], description=group.get("description", "")
        )
        group_ids[group["id"]] = created_group.id
    for team in sample["teams"]:
        for member in team["members"]:
            access.add_to_team(session, team["id"], _ref(user_ids, member, f"teams.{team['id']}"))
    for group in sample["groups"]:
        for member in group["members"]:
            where = f"groups.{group['id']}"
            access.add_to_group(session, group_ids[group["id"]], _ref(user_ids, member, where))

    for topic in sample["topics"]:
        managed_lists.add_topic(session, topic["id"], topic["title"])
    for licence in sample["licences"]:
        managed_lists.add_licence(session, licence["url"], licence["title"])
    for masthead in sample["mastheads"]:
        managed_lists.add_masthead(session, masthead["id"], masthead["title"])

    for dataset in sample["datasets"]:
        record = copy.deepcopy(dataset)
        where = f"datasets.{record.get('id')}"
        for key in ("collaborators", "readusers"):
            record[key] = [_ref(user_ids, uid, f"{where}.{key}") for uid in record.get(key) or []]
        try:
            datasets.create_dataset(session, record, author=SAMPLE_AUTHOR)
        except ValidationFailed as error:
            raise ValidationFailed(
                {f"{where}.{path}": message for path, message in error.errors.items()}
            ) from error

    for ruleset in sample["rulesets"]:
        where = f"rulesets.{ruleset['dataset']}"
        if "user" in ruleset:
            user_id = _ref(user_ids, ruleset["user"], where)
            access.set_user_ruleset(session, ruleset["dataset"], user_id, ruleset["permissions"])
        elif "group" in ruleset:
            group_id = _ref(group_ids, ruleset["group"], where)
            access.set_group_ruleset(session, ruleset["dataset"], group_id, ruleset["permissions"])
        else:
            raise ValidationFailed({where: "a ruleset names a user or a group"})
    session.flush()
    return len(sample["datasets"])


def _ref(ids: dict[int, int], sample_id: int, where: str) -> int:
    """The real id of a user or group the sample file refers to by its own id."""
    try:
        return ids[sample_id]
    except KeyError:
        raise ValidationFailed({where: f"unknown id {sample_id} in the sample"}) from None
