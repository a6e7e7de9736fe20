"""Duplicate datasets: found by title or by file, and merged into one.

`find_duplicates` reads every dataset's title and every file's MD5 (two plain queries, no
records) and joins datasets that
- have the same title once normalised (case, accents, punctuation, spacing: `title_key`),
- have very similar titles (difflib's ratio of the normalised titles at least SIMILAR), or
- share a file with the same MD5.
Comparing every pair of 100,000 titles is out of the question, so similar titles are only
compared within blocks: each title is filed under its RARE_WORDS rarest words, and a word
shared by more than BLOCK_LIMIT titles files nothing (it says nothing about duplication).
Two near-identical titles share their rarest words, so they meet in a block.

`merge` writes one group as one step (services.undoable): the kept dataset takes the fields the
person chose (`MergePlan.choices`, by default the kept record's own) and the files and links of
all, united without repeats by URL or MD5, with the version the person saw (`expected_version`);
the others are deleted, so they wait in the trash. `merge_groups` merges many groups in one
step, so one undo reverses them all. No Qt here.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.dataset import Dataset, Resource
from app.models.search_index import words
from app.services import datasets
from app.services.progress import Progress
from app.services.record.fields import DATASET, Kind, SetBy
from app.services.records import Record, dataset_to_record
from app.services.undoable import Edit, Step

SIMILAR = 0.9  # difflib ratio of two normalised titles from which they are "very similar"
RARE_WORDS = 2  # a title is filed under this many of its rarest words
BLOCK_LIMIT = 200  # a word in more titles than this files none of them

SAME_TITLE = "same title"
SIMILAR_TITLE = "similar title"
SAME_FILE = "same file"

# What the person picks field by field: what a person edits, files and links aside (those are
# united) and the publication state aside (a merge never publishes or unpublishes).
MERGE_KEYS: tuple[str, ...] = tuple(
    f.name
    for f in DATASET
    if f.set_by is SetBy.USER and f.kind is not Kind.CHILDREN and f.name != "state"
)


@dataclass(frozen=True)
class Member:
    dataset_id: str
    title: str
    updated_at: str


@dataclass(frozen=True)
class Group:
    """Datasets taken for duplicates of one another, the most recently modified first."""

    members: tuple[Member, ...]
    reasons: tuple[str, ...]  # SAME_TITLE, SIMILAR_TITLE, SAME_FILE: why they were joined

    @property
    def title(self) -> str:
        return self.members[0].title

    @property
    def dataset_ids(self) -> tuple[str, ...]:
        return tuple(m.dataset_id for m in self.members)


def title_key(title: str) -> str:
    """A title as compared: folded words (case and Latin accents), punctuation and spacing
    gone. "Trees, 2024 " and "trees 2024" are the same."""
    return " ".join(words(title))


class _Union:
    """Union-find over dataset indices, remembering why each component was joined."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        self.reasons: dict[int, set[str]] = defaultdict(set)

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def join(self, items: Sequence[int], reason: str) -> None:
        if len(items) < 2:
            return
        root = self.find(items[0])
        reasons = self.reasons[root]
        for item in items[1:]:
            other = self.find(item)
            if other != root:
                self.parent[other] = root
                reasons |= self.reasons.pop(other, set())
        reasons.add(reason)


def find_duplicates(session: Session, progress: Progress | None = None) -> list[Group]:
    """Every group of likely duplicates in the catalogue, by title (newest member's) order."""
    rows = session.execute(select(Dataset.pk, Dataset.id, Dataset.title, Dataset.updated_at)).all()
    members = [Member(row.id, row.title or "", row.updated_at or "") for row in rows]
    index_of = {row.pk: i for i, row in enumerate(rows)}
    union = _Union(len(members))

    key_of = {title: title_key(title) for title in {member.title for member in members}}
    keys = [key_of[member.title] for member in members]
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        if key:
            by_key[key].append(i)
    for same in by_key.values():
        union.join(same, SAME_TITLE)
    if progress is not None:
        progress.report(1, 3)

    by_hash: dict[str, list[int]] = defaultdict(list)
    hashes = select(Resource.dataset_pk, Resource.hash).where(Resource.hash.is_not(None))
    for dataset_pk, md5 in session.execute(hashes):
        md5 = (md5 or "").strip().lower()
        if md5 and dataset_pk in index_of:
            by_hash[md5].append(index_of[dataset_pk])
    for same in by_hash.values():
        if len(same) > 1:  # most files are in one dataset only
            union.join(sorted(set(same)), SAME_FILE)
    if progress is not None:
        progress.report(2, 3)

    for first, second in similar_pairs(by_key):
        union.join([by_key[first][0], by_key[second][0]], SIMILAR_TITLE)
    if progress is not None:
        progress.report(3, 3)

    components: dict[int, list[int]] = defaultdict(list)
    for i in range(len(members)):
        components[union.find(i)].append(i)
    found: list[tuple[str, Group]] = []
    for root, items in components.items():
        if len(items) < 2:
            continue
        # The newest first; ties by id, so the order never depends on the query's.
        items.sort(key=lambda i: (members[i].updated_at, members[i].dataset_id), reverse=True)
        reasons = tuple(
            r for r in (SAME_TITLE, SIMILAR_TITLE, SAME_FILE) if r in union.reasons[root]
        )
        found.append((keys[items[0]], Group(tuple(members[i] for i in items), reasons)))
    found.sort(key=lambda pair: (pair[0], pair[1].dataset_ids))
    return [group for _key, group in found]


def similar_pairs(keys: Iterable[str], ratio: float = SIMILAR) -> list[tuple[str, str]]:
    """Pairs of distinct normalised titles whose difflib ratio is at least `ratio`, compared
    only within blocks of shared rare words (see the module's docstring)."""
    keys = list(keys)
    tokens = {key: set(key.split()) for key in keys}
    frequency: Counter[str] = Counter(word for words_ in tokens.values() for word in words_)
    blocks: dict[str, list[str]] = defaultdict(list)
    for key, words_ in tokens.items():
        rare = sorted(words_, key=lambda word: (frequency[word], word))[:RARE_WORDS]
        for word in rare:
            if frequency[word] <= BLOCK_LIMIT:
                blocks[word].append(key)
    pairs: set[tuple[str, str]] = set()
    # ratio = 2 * matches / (len(a) + len(b)) <= 2 * len(a) / (len(a) + len(b)): a title
    # longer than this many times the shorter one cannot reach `ratio`.
    longest = (2 - ratio) / ratio
    for block in blocks.values():
        block.sort(key=len)
        for i, first in enumerate(block):
            matcher = difflib.SequenceMatcher(None, b=first, autojunk=False)  # b is cached
            limit = len(first) * longest
            for second in block[i + 1 :]:
                if len(second) > limit:
                    break  # sorted by length: the rest are longer still
                pair = (first, second) if first < second else (second, first)
                if pair in pairs:
                    continue
                matcher.set_seq1(second)
                if matcher.quick_ratio() >= ratio and matcher.ratio() >= ratio:
                    pairs.add(pair)
    return sorted(pairs)


# -- merging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergePlan:
    """One group's merge: the records as the person saw them, which one is kept, and for each
    field (MERGE_KEYS) whose record's value it takes (absent: the kept one's)."""

    records: tuple[Record, ...]
    versions: tuple[int, ...]  # each record's version when read: the merge expects them
    kept: int = 0  # index into records
    choices: Mapping[str, int] = field(default_factory=dict)

    def source(self, key: str) -> int:
        return self.choices.get(key, self.kept)


def default_plan(records: Sequence[Record], versions: Sequence[int]) -> MergePlan:
    """Keep the most recently modified record, each field as it has it."""
    newest = max(range(len(records)), key=lambda i: (str(records[i].get("updatedAt") or ""), -i))
    return MergePlan(tuple(records), tuple(versions), kept=newest)


def read_plan(session: Session, dataset_ids: Sequence[str]) -> MergePlan:
    """The group's records as they are now, and the default choices."""
    found = [datasets.get_dataset(session, dataset_id) for dataset_id in dataset_ids]
    return default_plan([dataset_to_record(d) for d in found], [d.version for d in found])


def merged_record(plan: MergePlan) -> Record:
    """The kept dataset's content after the merge: chosen fields, files and links united."""
    kept = plan.records[plan.kept]
    content: Record = {key: plan.records[plan.source(key)].get(key) for key in MERGE_KEYS}
    order = [plan.kept] + [i for i in range(len(plan.records)) if i != plan.kept]
    content["resources"] = _united([plan.records[i].get("resources") or {} for i in order])
    content["links"] = _united([plan.records[i].get("links") or {} for i in order])
    return {key: value for key, value in content.items() if kept.get(key) != value}


def _united(children: Sequence[Mapping[str, Record]]) -> dict[str, Record]:
    """The first mapping's children, then each other one's not yet there by URL or MD5 (ids
    renewed where they collide); in order."""
    united: dict[str, Record] = {}
    seen: set[str] = set()
    for mapping in children:
        for child_id, child in sorted(mapping.items(), key=lambda kv: kv[1].get("order") or 0):
            marks = {f"url:{child.get('url') or ''}".strip()} if child.get("url") else set()
            md5 = str(child.get("hash") or "").strip().lower()
            if md5:
                marks.add(f"md5:{md5}")
            if marks & seen:
                continue
            seen |= marks
            new_id = child_id if child_id not in united else datasets.new_child_id(set(united))
            united[new_id] = {**child, "order": len(united)}
    return united


def merge(session: Session, plan: MergePlan, *, author: str) -> Step:
    """Write one group's merge (see the module's docstring); StaleEdit if any dataset changed
    since the plan was read, and the caller's transaction then rolls back whole."""
    return Step("merge", tuple(_merge_edits(session, plan, author)))


def merge_groups(session: Session, plans: Iterable[MergePlan], *, author: str) -> Step:
    """Many groups merged as one step: one undo reverses them all."""
    edits = [edit for plan in plans for edit in _merge_edits(session, plan, author)]
    return Step("merge", tuple(edits))


def _merge_edits(session: Session, plan: MergePlan, author: str) -> list[Edit]:
    kept = plan.records[plan.kept]
    kept_id = kept["id"]
    after = datasets.update_dataset(
        session,
        kept_id,
        merged_record(plan),
        author=author,
        expected_version=plan.versions[plan.kept],
        action="merge",
    )
    edits = [Edit(kept_id, kept, after, datasets.get_dataset(session, kept_id).version)]
    for i, record in enumerate(plan.records):
        if i == plan.kept:
            continue
        datasets.delete_dataset(
            session, record["id"], author=author, expected_version=plan.versions[i]
        )
        edits.append(Edit(record["id"], record, None, None))
    return edits
