"""Topics, licences and mastheads: the pre-defined lists the form offers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Licence, Masthead, Topic
from app.services.errors import ValidationFailed
from app.services.validation import is_url


def list_topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.title)))


def list_licences(session: Session) -> list[Licence]:
    return list(session.scalars(select(Licence).order_by(Licence.title)))


def list_mastheads(session: Session) -> list[Masthead]:
    return list(session.scalars(select(Masthead).order_by(Masthead.title)))


def add_topic(session: Session, topic_id: str, title: str) -> Topic:
    if not topic_id.strip() or not title.strip():
        raise ValidationFailed({"topic": "an id and a title are required"}, subject="topic")
    topic_id, title = topic_id.strip(), title.strip()
    topic = session.merge(Topic(id=topic_id, title=title))
    session.flush()
    return topic


def add_licence(session: Session, url: str, title: str) -> Licence:
    if not is_url(url):
        raise ValidationFailed({"licence.url": "must be an http(s) URL"}, subject="licence")
    licence = session.scalar(select(Licence).where(Licence.url == url))
    if licence is None:
        licence = Licence(url=url, title=title.strip() or url)
        session.add(licence)
    else:
        licence.title = title.strip() or licence.title
    session.flush()
    return licence


def add_masthead(session: Session, masthead_id: str, title: str) -> Masthead:
    if not masthead_id.strip() or not title.strip():
        raise ValidationFailed({"masthead": "an id and a title are required"}, subject="masthead")
    masthead_id, title = masthead_id.strip(), title.strip()
    masthead = session.merge(Masthead(id=masthead_id, title=title))
    session.flush()
    return masthead
