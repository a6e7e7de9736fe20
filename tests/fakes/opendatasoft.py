"""A fake Opendatasoft portal: Search API v1 (seed 003) and Automation API v1.0 (seed 004).

How to use it::

    portal = OdsPortal()
    portal.add_user("louise", key="k-louise", permissions={"create_dataset", "edit_dataset",
                    "publish_dataset", "manage_dataset"})
    portal.add_group("content_designers", "Content Designers")
    uid = portal.add_dataset("air-quality", title="Air quality", keyword=["air"],
                             theme=["Environment"], published=True)
    with portal.serve() as server:                     # tests.fakes.server.FakeServer
        ...
        portal.edit(uid, title="New")                  # a change made in the back office,
        portal.publish_now(uid)                        #   published at once
        portal.delete(uid)

Search API v1: `GET|POST /api/datasets/1.0/search` (q with full text and field queries such as
`modified > 2024-01-01T00:00:00`, rows, start, sort with seed 003's semantics: descending by
default, `-` ascending), `GET /api/datasets/1.0/<datasetid>`; `{"nhits", "parameters",
"datasets": [{"datasetid", "metas", ...}]}`; errors `{"errorcode", "error"}`. It shows published
datasets only, as last published: an edit through the Automation API is seen once published.
Restricted datasets are seen only by users with a ruleset on them (or domain-wide
explore_restricted_dataset).

Automation API: `/api/automation/v1.0/datasets/` (list with limit/offset/dataset_id, create),
`/datasets/<uid>/` (retrieve, update, delete), `.../publish`, `.../publish_metadata`,
`.../unpublish`, `.../status` (idle -> queued -> processing -> idle, one step per status read),
`.../resources/[<uid>/]`, `.../metadata/[<template>/[<field>/]]`,
`.../security/users/[<username>/]`, `.../security/groups/[<group_uid>/]`; paginated listings
`{"total_count", "next", "previous", "results"}`; errors `{"error_code", "message"}`.

Authentication: `Authorization: Apikey <key>` or `?apikey=`. A key the portal does not know is a
401 on both APIs (anonymous callers may still use the Search API unless the portal is private).

Quotas (seed 003, "Quotas" and "Errors handling"; Explore API docs for the headers): with
`OdsPortal(call_limit=N)` each caller (a key, or anonymous) may make N Search API calls a
period (`quota_period` seconds, a day by default). Every Search API answer then carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds); the call
past the limit is `429` with the seed's body and no `Retry-After`: `{"errorcode": 10002 (a key)
or 10005 (anonymous), "reset_time", "limit_time_unit": "day", "call_limit", "error"}`, and so is
every call until `reset_time`. `quota_resets` lists, in `time.monotonic()` seconds, the moments
the portal's quotas were due to reset after refusing a call: a test compares the fault log's
arrivals with them.
"""

from __future__ import annotations

import copy
import math
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes.server import FakeServer

AUTOMATION = "/api/automation/v1.0"
EXTRACTORS = {"csvfile", "jsonfile", "geojsonfile", "xlsfile", "kmlfile", "shapefile"}
DEFAULT_FIELDS = {
    "title", "description", "keyword", "modified", "modified_updates_on_metadata_change",
    "modified_updates_on_data_change", "geographic_reference", "geographic_reference_auto",
    "language", "timezone", "publisher", "references", "attributions",
}  # fmt: skip
WRITE_METHODS = ["GET", "POST", "PUT", "DELETE"]
PERMISSIONS = {"explore_restricted_dataset", "edit_dataset", "publish_dataset", "manage_dataset"}
FIELD_QUERY = re.compile(r'^(\w+)\s*(>=|<=|>|<|:|=)\s*"?([^"]*)"?$')


class ApiError(Exception):
    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def auto_error(status: int, code: str, message: str, **extra: Any) -> ApiError:
    return ApiError(status, {"error_code": code, "message": message, **extra})


def search_error(status: int, code: int, message: str) -> ApiError:
    return ApiError(status, {"errorcode": code, "error": message})


@dataclass
class OdsUser:
    username: str
    key: str
    permissions: set[str] = field(default_factory=set)  # domain-wide permissions
    groups: set[str] = field(default_factory=set)


@dataclass
class OdsDataset:
    uid: str
    dataset_id: str
    is_restricted: bool
    metadata: dict[str, dict[str, dict[str, Any]]]
    created_at: str
    updated_at: str
    is_published: bool = False
    published_metas: dict[str, Any] | None = None  # what the Search API shows
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    user_rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "idle"
    previous: str | None = None
    since: str = ""
    pending: str | None = None  # "publish", "publish_metadata", "unpublish" while running
    data_changed: bool = False
    data_processed: str | None = None


class _StripSlash:
    """The API documents paths with a trailing slash and clients send both: route both."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope["path"]) > 1:
            scope = {**scope, "path": scope["path"].rstrip("/")}
        await self.app(scope, receive, send)


class OdsPortal:
    """The portal's state and its Starlette app; thread-safe (the server runs in a thread)."""

    def __init__(
        self,
        *,
        private: bool = False,
        status_steps: int = 2,
        call_limit: int | None = None,
        quota_period: float = 86400.0,
    ) -> None:
        self.private = private  # anonymous callers get 401 from the Search API too
        self.status_steps = status_steps  # status reads a publication takes (queued, processing)
        self.call_limit = call_limit  # Search API calls a caller may make a period (None: any)
        self.quota_period = quota_period
        self.quota_resets: list[float] = []  # monotonic moments a refused caller may come back
        self._quotas: dict[str, tuple[float, int]] = {}  # caller -> (period's end, calls)
        self.datasets: dict[str, OdsDataset] = {}
        self.users: dict[str, OdsUser] = {}  # key -> user
        self.groups: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)
        routes = [
            Route("/api/datasets/1.0/search", self._search, methods=["GET", "POST"]),
            Route("/api/datasets/1.0/{datasetid}", self._lookup, methods=["GET", "POST"]),
            Route(AUTOMATION + "/{path:path}", self._automation, methods=WRITE_METHODS),
        ]  # fmt: skip
        self.app = _StripSlash(Starlette(routes=routes))

    def serve(self) -> FakeServer:
        return FakeServer(self.app)

    # -- state helpers for tests ---------------------------------------------------------------

    def add_user(self, username: str, *, key: str, permissions: set[str] | None = None) -> OdsUser:
        with self._lock:
            user = OdsUser(username, key, set(permissions or set()))
            self.users[key] = user
            return user

    def add_group(self, uid: str, title: str, members: tuple[str, ...] = ()) -> None:
        with self._lock:
            self.groups[uid] = {"uid": uid, "title": title, "description": ""}
            for user in self.users.values():
                if user.username in members:
                    user.groups.add(uid)

    def add_dataset(
        self,
        dataset_id: str,
        *,
        published: bool = False,
        restricted: bool = False,
        theme: list[str] | None = None,
        license: str | None = None,
        license_url: str | None = None,
        **default: Any,
    ) -> str:
        """A dataset made in the back office; `default` holds default-template values."""
        with self._lock:
            values = {"title": dataset_id, "language": "en", **default}
            dataset = self._new(dataset_id, restricted, values)
            internal = dataset.metadata["internal"]
            internal["theme"] = {"value": list(theme or [])}
            internal["license"] = {"value": license}
            internal["license_url"] = {"value": license_url}
            if published:
                self._finish(dataset, "publish")
            return dataset.uid

    def add_resource(self, uid: str, title: str, url: str, extractor: str = "csvfile") -> str:
        """A resource made in the back office (takes effect at the next publication)."""
        with self._lock:
            body = {"type": extractor, "title": title, "datasource": {"type": "http", "url": url}}
            resource = self._resource_body(body)
            resource["uid"] = "re_" + _token(6)
            self.datasets[uid].resources[resource["uid"]] = resource
            self._data_changed(self.datasets[uid])
            return str(resource["uid"])

    def edit(self, uid: str, *, theme: list[str] | None = None, **default: Any) -> None:
        """A metadata change in the back office (not yet published)."""
        with self._lock:
            dataset = self.datasets[uid]
            for name, value in default.items():
                dataset.metadata["default"][name] = {"value": value}
            if theme is not None:
                dataset.metadata["internal"]["theme"] = {"value": theme}
            self._metadata_changed(dataset)

    def publish_now(self, uid: str) -> None:
        with self._lock:
            self._finish(self.datasets[uid], "publish")

    def delete(self, uid: str) -> None:
        with self._lock:
            del self.datasets[uid]

    def by_id(self, dataset_id: str) -> OdsDataset:
        with self._lock:
            return next(d for d in self.datasets.values() if d.dataset_id == dataset_id)

    def value(self, uid: str, name: str, template: str = "default") -> Any:
        with self._lock:
            entry = self.datasets[uid].metadata.get(template, {}).get(name)
            return copy.deepcopy(entry["value"]) if entry else None

    # -- HTTP: Search API v1 ---------------------------------------------------------------------

    def _caller(self, request: Request) -> OdsUser | None:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("apikey ") else ""
        key = key or request.query_params.get("apikey", "")
        if not key:
            return None
        user = self.users.get(key)
        if user is None:
            raise ApiError(401, {})  # body chosen by the API that answers
        return user

    async def _search_params(self, request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            # Seed 003: POST takes the same parameters, form-encoded, for long queries.
            body = (await request.body()).decode("utf-8", "replace")
            params.update(dict(parse_qsl(body)))
        return params

    def _quota(self, user: OdsUser | None) -> dict[str, str]:
        """Count a Search API call; the quota headers, or the 429 of seed 003 past the limit."""
        if self.call_limit is None:
            return {}
        caller = user.key if user else ""
        now = time.monotonic()
        with self._lock:
            ends, calls = self._quotas.get(caller, (0.0, 0))
            if now >= ends:
                ends, calls = now + self.quota_period, 0
            calls += 1
            self._quotas[caller] = (ends, calls)
        # Whole milliseconds, rounded up, so a client waiting for reset_time is never early.
        reset = datetime.now(UTC) + timedelta(seconds=math.ceil((ends - now) * 1000) / 1000)
        headers = {
            "X-RateLimit-Limit": str(self.call_limit),
            "X-RateLimit-Remaining": str(max(0, self.call_limit - calls)),
            "X-RateLimit-Reset": str(math.ceil(reset.timestamp())),
        }
        if calls <= self.call_limit:
            return headers
        with self._lock:
            self.quota_resets.append(ends)
        anonymous = user is None
        raise ApiError(
            429,
            {
                "errorcode": 10005 if anonymous else 10002,
                "reset_time": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "limit_time_unit": "day",
                "call_limit": self.call_limit,
                "error": "You have exceeded the requests limit for anonymous users."
                if anonymous
                else "Too many requests on the domain. Please contact the domain administrator.",
            },
            headers,
        )

    async def _search(self, request: Request) -> Response:
        try:
            user = self._search_caller(request)
            quota = self._quota(user)
            params = await self._search_params(request)
            try:
                rows = int(params.get("rows", 10))
                start = int(params.get("start", 0))
            except ValueError:
                raise search_error(400, 10001, "Invalid value for rows or start") from None
            if rows > 10000 or rows < 0 or start < 0:
                raise search_error(400, 10001, "rows must be between 0 and 10000")
            with self._lock:
                hits = [d for d in self.datasets.values() if self._visible(d, user)]
                hits = [d for d in hits if _query(d.published_metas or {}, params.get("q", ""))]
                sort = params.get("sort")
                if sort:
                    key = sort.lstrip("-")
                    # Seed 003: descending by default, a minus sign for ascending.
                    hits.sort(
                        key=lambda d: str((d.published_metas or {}).get(key) or ""),
                        reverse=not sort.startswith("-"),
                    )
                page = [self._search_entry(d) for d in hits[start : start + rows]]
            parameters = {"rows": rows, "start": start, "format": "json", "timezone": "UTC"}
            if sort:
                parameters["sort"] = [sort]
            if params.get("q"):
                parameters["q"] = params["q"]
            body = {"nhits": len(hits), "parameters": parameters, "datasets": page}
            return _json(200, body, quota)
        except ApiError as error:
            return _json(error.status, error.body, error.headers)

    async def _lookup(self, request: Request) -> Response:
        quota: dict[str, str] = {}
        try:
            user = self._search_caller(request)
            quota = self._quota(user)
            datasetid = request.path_params["datasetid"]
            with self._lock:
                for dataset in self.datasets.values():
                    if dataset.dataset_id == datasetid and self._visible(dataset, user):
                        return _json(200, self._search_entry(dataset), quota)
            raise search_error(404, 10003, f"Unknown dataset: {datasetid}")
        except ApiError as error:
            return _json(error.status, error.body, error.headers or quota)

    def _search_caller(self, request: Request) -> OdsUser | None:
        try:
            user = self._caller(request)
        except ApiError:
            raise search_error(401, 10110, "Invalid API key.") from None
        if user is None and self.private:
            raise search_error(401, 10100, "This portal is private: an API key is required.")
        return user

    def _visible(self, dataset: OdsDataset, user: OdsUser | None) -> bool:
        if not dataset.is_published or dataset.published_metas is None:
            return False
        if not dataset.is_restricted:
            return True
        if user is None:
            return False
        return (
            bool(user.permissions & PERMISSIONS)
            or user.username in dataset.user_rulesets
            or bool(user.groups & set(dataset.group_rulesets))
        )

    def _search_entry(self, dataset: OdsDataset) -> dict[str, Any]:
        return {
            "datasetid": dataset.dataset_id,
            "metas": copy.deepcopy(dataset.published_metas or {}),
            "has_records": False,
            "data_visible": True,
            "features": [],
            "attachments": [],
            "alternative_exports": [],
            "fields": [],
            "billing_plans": [],
        }

    # -- HTTP: Automation API --------------------------------------------------------------------

    async def _automation(self, request: Request) -> Response:
        try:
            try:
                user = self._caller(request)
            except ApiError:
                raise auto_error(401, "authentication_failed", "Invalid API key.") from None
            if user is None:
                raise auto_error(
                    401, "not_authenticated", "Authentication credentials were not provided."
                )
            body: Any = None
            if request.method in ("POST", "PUT"):
                raw = await request.body()
                if raw.strip():
                    try:
                        body = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        raise auto_error(400, "parse_error", "JSON parse error.") from None
            parts = [p for p in request.path_params["path"].split("/") if p]
            with self._lock:
                status, result = self._route(request.method, parts, request, user, body)
            return _json(status, result)
        except ApiError as error:
            return _json(error.status, error.body)

    def _route(
        self, method: str, parts: list[str], request: Request, user: OdsUser, body: Any
    ) -> tuple[int, Any]:
        if not parts or parts[0] != "datasets":
            raise auto_error(404, "not_found", "Not found.")
        if len(parts) == 1:
            if method == "GET":
                return 200, self._list_datasets(request, user)
            if method == "POST":
                return 201, self._create(user, body)
        dataset = self.datasets.get(parts[1]) if len(parts) > 1 else None
        if dataset is None:
            raise auto_error(404, "not_found", "Not found.")
        rest = parts[2:]
        if not rest:
            if method == "GET":
                self._require(user, dataset, "edit_dataset")
                return 200, self._dataset_json(dataset)
            if method == "PUT":
                self._require(user, dataset, "edit_dataset")
                return 200, self._update(dataset, body)
            if method == "DELETE":
                self._require(user, dataset, "manage_dataset")
                del self.datasets[dataset.uid]
                return 204, ""
        action = rest[0]
        if action in ("publish", "publish_metadata", "unpublish") and method == "POST":
            self._require(user, dataset, "publish_dataset")
            if dataset.pending is not None:
                raise auto_error(
                    400, "dataset_busy", f"The dataset is {dataset.status}: wait until it is idle."
                )
            dataset.pending = action
            self._set_status(dataset, "queued")
            return 200, {"detail": "ok"}
        if action == "status" and method == "GET":
            self._require(user, dataset, "edit_dataset")
            return 200, self._status(dataset)
        if action == "resources":
            return self._resources(method, rest[1:], user, dataset, body, request)
        if action == "metadata":
            return self._metadata(method, rest[1:], user, dataset, body)
        if action == "security" and len(rest) >= 2 and rest[1] in ("users", "groups"):
            return self._security(method, rest[1], rest[2:], user, dataset, body, request)
        raise auto_error(404, "not_found", "Not found.")

    def _require(self, user: OdsUser, dataset: OdsDataset | None, permission: str) -> None:
        if permission in user.permissions or "manage_dataset" in user.permissions:
            return
        if dataset is not None:
            granted: set[str] = set()
            ruleset = dataset.user_rulesets.get(user.username)
            if ruleset:
                granted |= set(ruleset["permissions"])
            for group in user.groups:
                if group in dataset.group_rulesets:
                    granted |= set(dataset.group_rulesets[group]["permissions"])
            if permission in granted or "manage_dataset" in granted:
                return
        raise auto_error(
            403, "permission_denied", "You do not have permission to perform this action."
        )

    def _list_datasets(self, request: Request, user: OdsUser) -> dict[str, Any]:
        limit, offset = _paging(request)
        wanted = request.query_params.get("dataset_id")
        editable = []
        for dataset in self.datasets.values():
            if wanted is not None and dataset.dataset_id != wanted:
                continue
            try:
                self._require(user, dataset, "edit_dataset")
            except ApiError:
                continue
            editable.append(dataset)
        page = editable[offset : offset + limit] if limit else []
        results = [{**self._dataset_json(d), "metadata": {}} for d in page]
        return _page(request, len(editable), limit, offset, results)

    def _create(self, user: OdsUser, body: Any) -> dict[str, Any]:
        if "create_dataset" not in user.permissions:
            raise auto_error(
                403, "permission_denied", "You do not have permission to perform this action."
            )
        if not isinstance(body, dict):
            raise auto_error(400, "validation_error", "Invalid payload.")
        errors: dict[str, list[str]] = {}
        dataset_id = body.get("dataset_id")
        if not isinstance(dataset_id, str) or not dataset_id:
            errors["dataset_id"] = ["This field may not be blank."]
        elif any(d.dataset_id == dataset_id for d in self.datasets.values()):
            errors["dataset_id"] = ["A dataset with this dataset_id already exists."]
        default = ((body.get("metadata") or {}).get("default")) or {}
        for required in ("title", "language"):
            if not isinstance(default.get(required), dict) or "value" not in default[required]:
                errors[f"metadata.default.{required}"] = ["This field is required."]
        unknown = set(default) - DEFAULT_FIELDS
        if unknown:
            errors["metadata.default"] = [f"Unknown metadata: {', '.join(sorted(unknown))}"]
        if errors:
            raise auto_error(400, "validation_error", "Invalid payload.", fields=errors)
        values = {name: entry["value"] for name, entry in default.items()}
        dataset = self._new(str(dataset_id), body.get("is_restricted") is True, values)
        # Whoever creates a dataset may go on editing it.
        dataset.user_rulesets[user.username] = _ruleset(
            "user", user.username, ["edit_dataset", "publish_dataset"]
        )
        return self._dataset_json(dataset)

    def _update(self, dataset: OdsDataset, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise auto_error(
                400, "validation_error", "Invalid payload.", fields={"metadata": ["required"]}
            )
        new_id = body.get("dataset_id", dataset.dataset_id)
        if new_id != dataset.dataset_id:
            if dataset.is_published:
                raise auto_error(
                    400, "validation_error", "dataset_id cannot change once published."
                )
            dataset.dataset_id = new_id
        if "is_restricted" in body:
            dataset.is_restricted = body["is_restricted"] is True
            if dataset.published_metas is not None:
                # Security takes effect at once, not at the next publication.
                dataset.published_metas["visibility"] = (
                    "restricted" if dataset.is_restricted else "domain"
                )
        default = body["metadata"].get("default")
        if isinstance(default, dict):
            dataset.metadata["default"] = copy.deepcopy(default)
            self._metadata_changed(dataset)
        dataset.updated_at = self._now()
        return self._dataset_json(dataset)

    def _status(self, dataset: OdsDataset) -> dict[str, Any]:
        # Each read moves a running publication one step, so a client must poll.
        if dataset.pending is not None:
            steps = ["queued"] + ["processing"] * max(0, self.status_steps - 1)
            position = steps.index(dataset.status) if dataset.status in steps else -1
            if position + 1 < len(steps):
                self._set_status(dataset, steps[position + 1])
            else:
                self._finish(dataset, dataset.pending)
        return {
            "status": dataset.status,
            "previous": dataset.previous,
            "next": None,
            "since": dataset.since,
            "is_published": dataset.is_published,
            "message": None,
            "records_errors": [],
            "params": {},
        }

    def _resources(
        self,
        method: str,
        rest: list[str],
        user: OdsUser,
        dataset: OdsDataset,
        body: Any,
        request: Request,
    ) -> tuple[int, Any]:
        self._require(user, dataset, "edit_dataset")
        if not rest:
            if method == "GET":
                results = list(copy.deepcopy(r) for r in dataset.resources.values())
                return 200, _paged(request, results)
            if method == "POST":
                resource = self._resource_body(body)
                resource["uid"] = "re_" + _token(6)
                dataset.resources[resource["uid"]] = resource
                self._data_changed(dataset)
                return 201, copy.deepcopy(resource)
        elif len(rest) == 1:
            found = dataset.resources.get(rest[0])
            if found is None:
                raise auto_error(404, "not_found", "Not found.")
            resource = found
            if method == "GET":
                return 200, copy.deepcopy(resource)
            if method == "PUT":
                updated = self._resource_body(body)
                updated["uid"] = resource["uid"]
                dataset.resources[resource["uid"]] = updated
                self._data_changed(dataset)
                return 200, copy.deepcopy(updated)
            if method == "DELETE":
                del dataset.resources[resource["uid"]]
                self._data_changed(dataset)
                return 204, ""
        raise auto_error(404, "not_found", "Not found.")

    def _resource_body(self, body: Any) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if not isinstance(body, dict):
            raise auto_error(400, "validation_error", "Invalid payload.")
        if body.get("type") not in EXTRACTORS:
            errors["type"] = [f"Unknown extractor: {body.get('type')}"]
        if not isinstance(body.get("title"), str) or not body["title"]:
            errors["title"] = ["This field may not be blank."]
        datasource = body.get("datasource")
        if not isinstance(datasource, dict) or datasource.get("type") != "http":
            errors["datasource"] = ["Only http datasources are supported here."]
        elif not str(datasource.get("url") or "").startswith(("http://", "https://")):
            errors["datasource.url"] = ["Enter a valid URL."]
        if errors:
            raise auto_error(400, "validation_error", "Invalid payload.", fields=errors)
        return {
            "type": body["type"],
            "title": body["title"],
            "params": copy.deepcopy(body.get("params") or {}),
            "datasource": copy.deepcopy(datasource),
            "updated_at": self._now(),
        }

    def _metadata(
        self, method: str, rest: list[str], user: OdsUser, dataset: OdsDataset, body: Any
    ) -> tuple[int, Any]:
        self._require(user, dataset, "edit_dataset")
        if not rest and method == "GET":
            return 200, copy.deepcopy(dataset.metadata)
        template = dataset.metadata.get(rest[0]) if rest else None
        if template is None:
            raise auto_error(404, "not_found", "Not found.")
        if len(rest) == 1 and method == "GET":
            return 200, copy.deepcopy(template)
        if len(rest) == 2:
            name = rest[1]
            if method == "GET":
                if name not in template:
                    raise auto_error(404, "not_found", "Not found.")
                return 200, copy.deepcopy(template[name])
            if method == "PUT":
                if rest[0] == "default" and name not in DEFAULT_FIELDS:
                    raise auto_error(400, "validation_error", f"Unknown metadata: {name}")
                if not isinstance(body, dict) or "value" not in body:
                    raise auto_error(
                        400, "validation_error", "Invalid payload.", fields={"value": ["required"]}
                    )
                template[name] = {"value": copy.deepcopy(body["value"])}
                self._metadata_changed(dataset, touched=name)
                return 200, copy.deepcopy(template[name])
            if method == "DELETE":
                template.pop(name, None)
                self._metadata_changed(dataset)
                return 204, ""
        raise auto_error(404, "not_found", "Not found.")

    def _security(
        self,
        method: str,
        kind: str,
        rest: list[str],
        user: OdsUser,
        dataset: OdsDataset,
        body: Any,
        request: Request,
    ) -> tuple[int, Any]:
        self._require(user, dataset, "manage_dataset")
        rulesets = dataset.user_rulesets if kind == "users" else dataset.group_rulesets
        target_kind = "user" if kind == "users" else "group"
        if not rest:
            if method == "GET":
                results = [copy.deepcopy(r) for r in rulesets.values()]
                return 200, _paged(request, results)
            if method == "POST":
                name, ruleset = self._ruleset_body(target_kind, body, None)
                if name in rulesets:
                    raise auto_error(400, "validation_error", f"A ruleset exists for {name}.")
                rulesets[name] = ruleset
                return 201, copy.deepcopy(ruleset)
        elif len(rest) == 1:
            name = rest[0]
            if name not in rulesets:
                raise auto_error(404, "not_found", "Not found.")
            if method == "GET":
                return 200, copy.deepcopy(rulesets[name])
            if method == "PUT":
                _name, ruleset = self._ruleset_body(target_kind, body, name)
                rulesets[name] = ruleset
                return 200, copy.deepcopy(ruleset)
            if method == "DELETE":
                del rulesets[name]
                return 204, ""
        raise auto_error(404, "not_found", "Not found.")

    def _ruleset_body(self, kind: str, body: Any, name: str | None) -> tuple[str, dict[str, Any]]:
        if not isinstance(body, dict):
            raise auto_error(400, "validation_error", "Invalid payload.")
        permissions = body.get("permissions") or []
        bad = [p for p in permissions if p not in PERMISSIONS]
        target = body.get(kind) or {}
        key = "username" if kind == "user" else "uid"
        target_name = name or target.get(key)
        errors: dict[str, list[str]] = {}
        if bad:
            errors["permissions"] = [f"Unknown permission: {p}" for p in bad]
        if kind == "user" and not any(u.username == target_name for u in self.users.values()):
            errors["user"] = [f"Unknown user: {target_name}"]
        if kind == "group" and target_name not in self.groups:
            errors["group"] = [f"Unknown group: {target_name}"]
        if errors:
            raise auto_error(400, "validation_error", "Invalid payload.", fields=errors)
        ruleset = _ruleset(kind, str(target_name), list(dict.fromkeys(permissions)))
        if isinstance(body.get("security"), dict):
            ruleset["security"] = copy.deepcopy(body["security"])
        return str(target_name), ruleset

    # -- state machine ---------------------------------------------------------------------------

    def _now(self) -> str:
        self._clock = max(datetime.now(UTC), self._clock + timedelta(milliseconds=1))
        return self._clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _new(self, dataset_id: str, restricted: bool, values: dict[str, Any]) -> OdsDataset:
        now = self._now()
        default = {name: {"value": value} for name, value in values.items()}
        default.setdefault("modified", {"value": now})
        default.setdefault("modified_updates_on_metadata_change", {"value": True})
        dataset = OdsDataset(
            uid="da_" + _token(6),
            dataset_id=dataset_id,
            is_restricted=restricted,
            metadata={"default": default, "internal": {}, "visualization": {}},
            created_at=now,
            updated_at=now,
            since=now,
        )
        self.datasets[dataset.uid] = dataset
        return dataset

    def _metadata_changed(self, dataset: OdsDataset, touched: str | None = None) -> None:
        dataset.updated_at = self._now()
        default = dataset.metadata["default"]
        auto = (default.get("modified_updates_on_metadata_change") or {}).get("value")
        if auto and touched != "modified":
            default["modified"] = {"value": dataset.updated_at}

    def _data_changed(self, dataset: OdsDataset) -> None:
        dataset.updated_at = self._now()
        dataset.data_changed = True

    def _set_status(self, dataset: OdsDataset, status: str) -> None:
        dataset.previous, dataset.status, dataset.since = dataset.status, status, self._now()

    def _finish(self, dataset: OdsDataset, action: str) -> None:
        now = self._now()
        if action == "unpublish":
            dataset.is_published = False
            dataset.published_metas = None
        else:
            if action == "publish" and (dataset.data_changed or dataset.data_processed is None):
                dataset.data_processed = now
                dataset.data_changed = False
            dataset.is_published = True
            dataset.published_metas = self._metas(dataset, now)
        dataset.pending = None
        self._set_status(dataset, "idle")

    def _metas(self, dataset: OdsDataset, processed: str) -> dict[str, Any]:
        default = {k: v.get("value") for k, v in dataset.metadata["default"].items()}
        internal = {k: v.get("value") for k, v in dataset.metadata["internal"].items()}
        metas = {
            "domain": "fake-portal",
            "title": default.get("title"),
            "description": default.get("description"),
            "keyword": default.get("keyword"),
            "theme": internal.get("theme") or None,
            "license": internal.get("license"),
            "license_url": internal.get("license_url"),
            "publisher": default.get("publisher"),
            "language": default.get("language"),
            "modified": _plus_offset(default.get("modified")),
            "metadata_processed": _plus_offset(processed),
            "data_processed": _plus_offset(dataset.data_processed),
            "visibility": "restricted" if dataset.is_restricted else "domain",
            "records_count": 0,
        }
        return {k: v for k, v in metas.items() if v is not None}

    def _dataset_json(self, dataset: OdsDataset) -> dict[str, Any]:
        return {
            "uid": dataset.uid,
            "dataset_id": dataset.dataset_id,
            "created_at": dataset.created_at,
            "updated_at": dataset.updated_at,
            "is_published": dataset.is_published,
            "is_restricted": dataset.is_restricted,
            "metadata": copy.deepcopy(dataset.metadata),
            "default_security": {
                "is_data_visible": True,
                "visible_fields": ["*"],
                "filter_query": "",
                "api_calls_quota": None,
            },
        }


def _ruleset(kind: str, name: str, permissions: list[str]) -> dict[str, Any]:
    target = {"username": name} if kind == "user" else {"uid": name}
    return {
        "security": {
            "is_data_visible": True,
            "visible_fields": ["*"],
            "filter_query": "",
            "api_calls_quota": None,
        },
        "permissions": permissions,
        kind: target,
    }


def _plus_offset(value: Any) -> Any:
    """The Search API writes timestamps with an explicit offset ("...+00:00")."""
    if isinstance(value, str) and value.endswith("Z"):
        return value[:-1] + "+00:00"
    return value


def _token(length: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def _paged(request: Request, results: list[Any]) -> dict[str, Any]:
    """A listing paged as seed 004 pages every one: `limit` (0..1000, 20 by default), `offset`."""
    limit, offset = _paging(request)
    page = results[offset : offset + limit] if limit else []
    return _page(request, len(results), limit, offset, page)


def _paging(request: Request) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", 20))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        raise auto_error(400, "validation_error", "limit and offset must be numbers") from None
    if not 0 <= limit <= 1000 or offset < 0:
        raise auto_error(400, "validation_error", "limit must be between 0 and 1000")
    return limit, offset


def _page(
    request: Request, total: int, limit: int, offset: int, results: list[Any]
) -> dict[str, Any]:
    def link(at: int) -> str:
        return str(request.url.include_query_params(limit=limit, offset=at))

    return {
        "total_count": total,
        "next": link(offset + limit) if limit and offset + limit < total else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "results": results,
    }


def _query(metas: dict[str, Any], q: str) -> bool:
    """Seed 003's query language, the part a sync needs: terms joined by AND, each a field query
    (`modified > 2024-05-01T10:00:00`, `datasetid:x`, `title:air`) or full text."""
    q = q.strip()
    if not q:
        return True
    for term in re.split(r"\s+AND\s+", q):
        found = FIELD_QUERY.match(term.strip())
        if found:
            name, op, value = found.groups()
            actual = metas.get(name)
            if name in ("modified", "metadata_processed", "data_processed"):
                if not _compare_time(actual, op, value):
                    return False
                continue
            text = " ".join(actual) if isinstance(actual, list) else str(actual or "")
            if value.lower() not in text.lower():
                return False
            continue
        words = term.strip().strip('"').lower().split()
        haystack = " ".join(
            str(metas.get(k) or "") for k in ("title", "description", "keyword")
        ).lower()
        if not all(w in haystack for w in words):
            return False
    return True


def _compare_time(actual: Any, op: str, value: str) -> bool:
    if not isinstance(actual, str):
        return False
    try:
        left = datetime.fromisoformat(actual.replace("Z", "+00:00"))
        right = datetime.fromisoformat(value.replace("/", "-").replace("Z", "+00:00"))
    except ValueError:
        return False
    if left.tzinfo is None:
        left = left.replace(tzinfo=UTC)
    if right.tzinfo is None:
        right = right.replace(tzinfo=UTC)
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
        ":": left == right,
        "=": left == right,
    }[op]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(status_code=204, headers=headers)
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
