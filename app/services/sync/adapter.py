"""The one interface every portal kind implements (docs/ARCHITECTURE.md: sync), and its types.

How to write an adapter for a portal kind:

1. Subclass `PortalAdapter`, set `kind` (the `--kind` name) and implement the abstract
   coroutines. Talk HTTP only through `self.http` (a `sync.http.PortalHttp`: base URL, auth,
   concurrency limit, timeouts, retries and 429 handling are already there). Every request
   names the dataset it is about (`dataset=`), so errors say which dataset failed.
2. Map the portal's record to our canonical record (`services.records`, the seed-002 JSON) in
   `fetch`, and ours back to the portal's in `update` / `create`. Put a key in
   `RemoteRecord.record` only for the fields the portal really carries: the engine compares
   and writes only those keys, so a field the portal lacks is never blanked on either side.
   Anything that cannot be carried over (a field, a permission, a file) goes into the
   `MappingReport` you return, never silently dropped.
3. Register a factory in `sync.registry` (`register("kind", MyAdapter)`).

The engine (sync.engine) calls, in this order: `list_datasets(since)` once per sync; `fetch`
only for the datasets whose summary `version` differs from the one stored in the sync link (or
that are new), after one `prefetch` of them all; then, for a push, `update`/`create`/`delete`.
`find` is how an interrupted push resumes without duplicates: before creating again, the engine
asks whether the portal holds a dataset that create made, and adopts it if so. Identity is never
guessed: `find` answers only with a dataset the adapter can prove it made (our id in the remote
record, a marker it wrote), never one found by a name or a title, which may be somebody else's.

Comparisons are made in the portal's normal form: `normal_form(record)` is a local record as the
portal would hold it after a write (its vocabulary applied, its normalisations made, what it
cannot hold dropped), so a value the portal normalises is no change, and a second push of an
unchanged catalogue sends nothing. `prepare()` is awaited before `normal_form` is used.

Errors: raise the `PortalError` subclasses below (the http wrapper already does for status
codes, network failures and malformed JSON); a field of an otherwise good answer that has the
wrong shape is `MalformedAnswer(..., dataset=...)`. Nothing else may escape an adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from app.services.errors import CatalogueError
from app.services.record.fields import CHILDREN, SYNC_KEYS
from app.services.records import Record

if TYPE_CHECKING:
    from app.models.database import Database
    from app.services.sync.http import PortalHttp

# -- the record fields sync compares -----------------------------------------------------------

# Top-level record keys the three-way comparison looks at (resources and links by child id):
# the synced fields of the field table. Never compared: the catalogue's and the derived ones.
SYNC_FIELDS: tuple[str, ...] = SYNC_KEYS
CHILD_FIELDS: frozenset[str] = frozenset(CHILDREN)


# -- errors ------------------------------------------------------------------------------------


class PortalError(CatalogueError):
    """A portal could not be used: names the remote, the request and the dataset if any."""

    code = "portal_error"

    def __init__(
        self,
        message: str,
        *,
        remote: str = "",
        method: str = "",
        url: str = "",
        dataset: str | None = None,
        status: int | None = None,
    ) -> None:
        detail = [f"dataset {dataset}"] if dataset else []
        if method or url:
            detail.append(f"{method} {url}".strip())
        text = message + (f" ({'; '.join(detail)})" if detail else "")
        super().__init__(f"remote {remote}: {text}" if remote else text)
        self.reason = message
        self.remote = remote
        self.method = method
        self.url = url
        self.dataset = dataset
        self.status = status


class PortalUnreachable(PortalError):
    """Network failure or timeout, after the retries."""

    code = "portal_unreachable"


class PortalServerError(PortalError):
    """5xx, after the retries."""

    code = "portal_server_error"


class RateLimited(PortalError):
    """429 that did not clear within the wait we accept (e.g. a daily quota)."""

    code = "rate_limited"

    reset_time: str | None = None  # when the portal says the quota resets, if it does


class PortalAuthError(PortalError):
    """401: no key, or the key is not valid."""

    code = "portal_unauthorized"


class PortalForbidden(PortalError):
    """403: the key may not do this."""

    code = "portal_forbidden"


class PortalNotFound(PortalError):
    """404: the dataset (or endpoint) does not exist."""

    code = "portal_not_found"


class PortalConflict(PortalError):
    """409/412: the remote changed under us (a failed JSON Patch `test`, a stale ETag), or a
    create found its name taken by another dataset."""

    code = "portal_conflict"

    @classmethod
    def name_taken(
        cls, remote: str, dataset: str, what: str, name: str, suggestion: str | None
    ) -> PortalConflict:
        """A create refused because `name` (the portal's `what`) belongs to another dataset;
        nothing was written, and `suggestion` is a free one checked on the portal."""
        free = f"a free one: {suggestion!r}" if suggestion else "no free one near it"
        return cls(
            f"the {what} {name!r} is taken on the portal by another dataset: nothing was "
            f"written ({free})",
            remote=remote,
            dataset=dataset,
            status=409,
        )


class PortalRejected(PortalError):
    """400/415/422 and other 4xx: the portal refused what we sent."""

    code = "portal_rejected"


class MalformedAnswer(PortalError):
    """The portal answered, but not with what its API documents (bad JSON, wrong shape)."""

    code = "portal_malformed_answer"


class Unsupported(PortalError):
    """The portal's API offers no way to do this (e.g. DataPress has no create endpoint)."""

    code = "portal_unsupported"


# -- what adapters hand back -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappingIssue:
    """One thing that could not be carried over between the portal and our record."""

    dataset: str  # our id, or the remote id when there is no local dataset yet
    field: str  # a record key or JSON-pointer-like path: "team", "resources/k93/url"
    direction: Literal["pull", "push"]
    reason: str


@dataclass(slots=True)
class MappingReport:
    """Anything that could not be carried over, collected over a whole sync."""

    issues: list[MappingIssue] = field(default_factory=list)

    def add(
        self, dataset: str, field_: str, direction: Literal["pull", "push"], reason: str
    ) -> None:
        self.issues.append(MappingIssue(dataset, field_, direction, reason))

    def extend(self, other: MappingReport) -> None:
        self.issues.extend(other.issues)

    def __bool__(self) -> bool:
        return bool(self.issues)

    def lines(self) -> list[str]:
        return [f"{i.dataset} {i.field} ({i.direction}): {i.reason}" for i in self.issues]

    def grouped(self, examples: int = 5) -> list[str]:
        """One line per (field, direction, reason): how many datasets, and a few of them."""
        groups: dict[tuple[str, str, str], list[str]] = {}
        for issue in self.issues:
            field_ = issue.field.split("/")[0] if "/" in issue.field else issue.field
            groups.setdefault((field_, issue.direction, issue.reason), []).append(issue.dataset)
        lines = []
        for (field_, direction, reason), datasets in groups.items():
            shown = ", ".join(datasets[:examples])
            more = f" and {len(datasets) - examples} more" if len(datasets) > examples else ""
            lines.append(f"{field_} ({direction}): {reason} — {shown}{more}")
        return lines


@dataclass(frozen=True, slots=True)
class RemoteSummary:
    """One dataset as a portal's listing reports it: enough to tell whether it changed.

    version: whatever the portal gives that changes whenever the dataset does (ETag, updatedAt,
    a content hash of the listing entry). Compared for equality only, and only with versions
    from the same adapter's listings.
    local_id: our dataset id if the portal carries it (lets a first sync match datasets).
    """

    remote_id: str
    version: str | None
    title: str = ""
    local_id: str | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The answer of `PortalAdapter.list_datasets`.

    complete: True when `summaries` is every dataset the key may see (absent ones were deleted
    or hidden); False when it is only what changed since the `since` token (a 304 is a Listing
    with no summaries and complete=False). token: opaque; the engine stores it and passes it as
    `since` next time, only once everything listed has been applied.
    """

    summaries: list[RemoteSummary]
    complete: bool = True
    token: str | None = None


LISTING_ATTEMPTS = 3

Item = dict[str, Any]


async def collect_pages(
    page: Callable[[int], Awaitable[tuple[Sequence[Item], int]]],
    key: Callable[[Item], str],
) -> dict[str, Item] | None:
    """Every item of a search paged by `start` (`page(start)` gives a page and the total), by
    `key`; None when the total moved between pages: the catalogue changed under the paging,
    so a page may have skipped or repeated an item."""
    items: dict[str, Item] = {}
    start, total = 0, None
    while total is None or start < total:
        batch, count = await page(start)
        if total is not None and count != total:
            return None
        total = count
        for item in batch:
            items[key(item)] = item
        if not batch:
            break
        start += len(batch)
    return items


async def stable_listing(
    full_listing: Callable[[], Awaitable[Listing | None]], *, remote: str
) -> Listing:
    """A portal's full listing made by paging, which `full_listing` returns as None when the
    catalogue changed while it was paged (a page may then have skipped or repeated a dataset):
    tried again, up to LISTING_ATTEMPTS times."""
    for _attempt in range(LISTING_ATTEMPTS):
        listing = await full_listing()
        if listing is not None:
            return listing
    raise PortalError("the catalogue kept changing while it was listed; try again", remote=remote)


@dataclass(frozen=True, slots=True)
class RemoteRecord:
    """One dataset of the portal, mapped to our canonical record.

    record: only the keys the portal carries (a subset of SYNC_FIELDS, plus "id"/"createdAt"/
    "updatedAt" when known). version: comparable with RemoteSummary.version if the adapter can
    tell it from this answer, else None (the engine then re-reads the listing next time).
    """

    remote_id: str
    record: Record
    version: str | None = None
    report: MappingReport = field(default_factory=MappingReport)


@dataclass(frozen=True, slots=True)
class Access:
    """What a remote's key may do, as `test connection` found out."""

    reachable: bool
    authenticated: bool  # a key was sent and accepted
    read: bool
    read_private: bool
    edit: bool
    create: bool
    delete: bool = False
    upload: bool = False
    datasets: int | None = None  # how many datasets the key sees, if known
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        text = (
            f"reachable: {yes(self.reachable)}; key accepted: {yes(self.authenticated)}; "
            f"read: {yes(self.read)}; read private: {yes(self.read_private)}; "
            f"edit: {yes(self.edit)}; create: {yes(self.create)}"
        )
        if self.datasets is not None:
            text += f"; datasets visible: {self.datasets}"
        return text


# -- the interface -----------------------------------------------------------------------------


class PortalAdapter(ABC):
    """One portal kind. Built by the registry with the remote's name and a ready PortalHttp."""

    kind: ClassVar[str]
    # Whether the portal's API can create and delete datasets (the engine plans accordingly).
    can_create: ClassVar[bool] = False
    can_delete: ClassVar[bool] = False

    def __init__(self, name: str, http: PortalHttp) -> None:
        self.name = name
        self.http = http

    @classmethod
    def auth_headers(cls, key: str) -> dict[str, str]:
        """The HTTP headers that present `key` to this kind of portal (default: DataPress's
        bare key in `Authorization`; Opendatasoft wants `Apikey KEY`)."""
        return {"Authorization": key}

    @abstractmethod
    async def check_access(self) -> Access:
        """Reach the portal and find out what the key may do (read, read private, edit,
        create). Must not change anything on the portal."""

    @abstractmethod
    async def list_datasets(self, since: str | None) -> Listing:
        """Every dataset the key may see (complete), or only those modified since the token
        of an earlier listing (complete=False)."""

    async def prefetch(self, remote_ids: Sequence[str]) -> None:
        """Called once before `fetch` is called for each of these datasets: a portal that can
        read many datasets in one request (CKAN's package_search) reads them here, and `fetch`
        answers from what it read. Default: nothing (every fetch is a request)."""
        del remote_ids

    @abstractmethod
    async def fetch(self, remote_id: str) -> RemoteRecord:
        """One dataset, full, mapped to our record. PortalNotFound if it is gone."""

    @abstractmethod
    async def update(self, remote_id: str, before: Record, after: Record) -> RemoteRecord | None:
        """Make the remote dataset go from `before` (what we believe it holds now, in our
        record shape, only synced keys) to `after`. Send only the difference; if the portal can
        refuse a write made against a stale state (JSON Patch `test`, If-Match), do so:
        PortalConflict. The new state if the portal answers with it, else None."""

    async def create(self, record: Record) -> RemoteRecord:
        """Create `record` on the portal; the new remote dataset. Must be safe to retry after
        `find` said the dataset is not there."""
        raise Unsupported(
            f"a {self.kind} portal's API cannot create datasets",
            remote=self.name,
            dataset=record.get("id"),
        )

    async def find(self, record: Record) -> RemoteSummary | None:
        """The remote dataset an earlier, interrupted create made for `record`, if any."""
        return None

    async def delete(self, remote_id: str) -> None:
        raise Unsupported(
            f"a {self.kind} portal's API cannot delete datasets",
            remote=self.name,
            dataset=remote_id,
        )

    async def prepare(self) -> None:
        """Read what `normal_form` needs from the portal (its vocabulary). Default: nothing."""
        return None

    def normal_form(self, record: Record) -> Record:
        """A local `record` as this portal would hold it, for comparing with the portal's
        records (default: as it is)."""
        return record

    def outgoing_report(self, dataset: str, record: Record) -> MappingReport:
        """What of `record` this portal cannot hold (shown in the push preview). Default:
        nothing."""
        return MappingReport()

    def attach_catalogue(self, database: Database, remote_pk: int) -> None:
        """Called by the engine once the remote is open: lets a portal whose permissions live
        outside our record (Opendatasoft's user and group rulesets) read them from the local
        catalogue when it pushes. Default: nothing."""
        del database, remote_pk
