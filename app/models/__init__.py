"""SQLAlchemy schema and the engine/session of a catalogue. No Qt, no HTTP, no business rules."""

from app.models.access import (
    ApiKey,
    Group,
    GroupRuleset,
    Team,
    User,
    UserRuleset,
    dataset_collaborators,
    dataset_read_teams,
    dataset_read_users,
    group_members,
    team_members,
)
from app.models.base import Base
from app.models.catalogue_version import CatalogueCounter, CatalogueVersion, Tombstone
from app.models.dataset import Dataset, Link, Resource
from app.models.history import DatasetVersion
from app.models.managed_lists import Licence, Masthead, Topic
from app.models.settings import ServerSetting
from app.models.sync import Remote, SyncLink

__all__ = [
    "ApiKey",
    "Base",
    "CatalogueCounter",
    "CatalogueVersion",
    "Dataset",
    "DatasetVersion",
    "Group",
    "GroupRuleset",
    "Licence",
    "Link",
    "Masthead",
    "Remote",
    "Resource",
    "ServerSetting",
    "SyncLink",
    "Team",
    "Tombstone",
    "Topic",
    "User",
    "UserRuleset",
    "dataset_collaborators",
    "dataset_read_teams",
    "dataset_read_users",
    "group_members",
    "team_members",
]
