"""The export rows (export_query.DatasetRow) as the record the mappings read, for the server.

Shallow: the row's tuples and mappings are handed on as they are (the mappings only read them),
so a serializer pays one small dict per dataset and child, no copy of their contents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.services.mappings import Titles
from app.services.records import Record, link_to_dict

if TYPE_CHECKING:
    from app.services.export_query import DatasetRow


def row_record(row: DatasetRow) -> Record:
    """The record of `row`, as records.dataset_to_record gives it (access lists left empty:
    the export rows do not hold them)."""
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "descriptionText": row.description_text,
        "masthead": row.masthead.id if row.masthead else None,
        "tags": row.tags,
        "topics": [t.id for t in row.topics],
        "nextReviewDate": row.next_review_date,
        "licence": {"url": row.licence_url, "title": row.licence_title},
        "contact": {"email": row.contact_email, "title": row.contact_title},
        "custom": row.custom,
        "resources": {
            r.rid: {
                "url": r.url,
                "order": r.position,
                "title": r.title,
                "description": r.description,
                "filename": r.filename,
                "timeFrame": {"gte": r.time_from, "lte": r.time_to},
                "format": r.format,
                "hash": r.hash,
                "size": r.size,
                "timestamp": r.timestamp,
            }
            for r in row.resources
        },
        "links": {link.lid: link_to_dict(link) for link in row.links},
        "team": row.team.id if row.team else None,
        "sharing": row.sharing,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "site": row.site,
        "state": row.state,
        "embargoUntil": row.embargo_until,
    }


def row_titles(row: DatasetRow) -> Titles:
    """The managed-list titles `row` names."""
    masthead, team = row.masthead, row.team
    return Titles(
        {t.id: t.title for t in row.topics} if row.topics else None,
        {masthead.id: masthead.title} if masthead else None,
        {team.id: team.title} if team else None,
    )
