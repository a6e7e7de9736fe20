"""A fake CKAN portal (action API v3) as a real HTTP server on loopback.

How to use it::

    portal = CkanPortal()
    portal.add_user("editor", token="tok-editor", orgs={"council": "editor"})
    portal.add_package({"name": "bins", "title": "Bins", "owner_org": "council"})
    with portal.serve() as server:            # tests.fakes.server.FakeServer
        server.url; server.faults.add(Fault("429", times=3))
        ...
        portal.edit("bins", title="New")      # a change made on the portal (bumps
        portal.delete("bins")                 #   metadata_modified), a soft delete

It answers as CKAN 2.10/2.11 does (each behaviour below is CKAN's, from `ckan/logic/action/`,
`ckan/logic/schema.py` and `ckan/logic/validators.py`; tests/fakes/test_ckan_fake.py checks
each over HTTP): `/api/3/action/<action>` (and `/api/action/<action>`) by GET with
query parameters or POST with a JSON body; `{"help", "success": true, "result"}`, or
`{"help", "success": false, "error": {"__type", "message" | field errors}}` with 400 (bad
request), 403 (Authorization Error), 404 (Not Found Error) or 409 (Validation Error). The API
token goes in the `Authorization` header; a token CKAN does not know makes the caller anonymous
(CKAN does not reject it: the action then says what the anonymous user may not do).

Actions: package_search (q, fq, rows, start, sort, fl, include_private, include_drafts),
package_show, package_create, package_update, package_patch, package_delete, license_list,
group_list, organization_list_for_user, status_show.

Where CKAN surprises a client:

- `package_delete` is a soft delete: the package keeps its row with `state: deleted`;
  `package_show` still answers it (200) to sysadmins and members of its organization, 403 to
  anybody else; it leaves `package_search`; its groups are dropped; `metadata_modified` is not
  bumped; its name may be taken by a new package (the deleted one is renamed to its id).
- `package_create` by a non-sysadmin ignores `state` (`ignore_not_package_admin`): the
  package is `active`. Only `private: true` hides it from anonymous callers.
- `package_update` replaces the package: scalar fields not sent are cleared, extras replaced;
  tags, groups and resources are kept only when not sent. `package_update` and a
  `package_patch` that sends `resources` replace the whole resource list: a resource is what
  was sent for it (a key not sent, `mimetype`, `resource_type` or an extra key, is gone), and
  a resource not sent is deleted.
- names: 2-100 characters of `[a-z0-9_-]`, unique among packages not deleted; a taken one is
  a 409 `{"__type": "Validation Error", "name": ["That URL is already in use."]}`.
- formats are normalised (`clean_format`: "csv" -> "CSV", "geojson" -> "GeoJSON"); tags come
  back sorted by name; `package_search` gives `metadata_modified` as Solr holds it (to the
  millisecond, with a Z) while `package_show` gives CKAN's microseconds, and ranges and sorts
  on it work at the millisecond.
- resources may have no name, any `hash` (`sha256:...`), any URL scheme (`ftp://`), any id a
  client gives (kept as sent); titles have no length limit.
"""

from __future__ import annotations

import copy
import functools
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer

LICENSES = [
    {"id": "cc-by", "title": "Creative Commons Attribution", "url": "http://www.opendefinition.org/licenses/cc-by"},
    {"id": "odc-by", "title": "Open Data Commons Attribution License", "url": "http://www.opendefinition.org/licenses/odc-by"},
    {"id": "OGL-UK-3.0", "title": "Open Government Licence v3.0", "url": "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"},
    {"id": "notspecified", "title": "License not specified", "url": ""},
]  # fmt: skip
CORE_FIELDS = {
    "id", "name", "title", "author", "author_email", "maintainer", "maintainer_email",
    "license_id", "notes", "url", "version", "state", "type", "private", "owner_org",
    "extras", "tags", "groups", "resources", "metadata_created", "metadata_modified",
    "creator_user_id",
}  # fmt: skip
NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
# CKAN's resource_formats.json, the few a test meets: clean_format gives the canonical spelling
# of a format it knows (by any case), and leaves others as they were sent.
FORMATS = {
    f.lower(): f
    for f in ("CSV", "JSON", "XLS", "XLSX", "PDF", "ZIP", "XML", "HTML", "TXT", "GeoJSON", "KML")
}
# The resource fields package_show always lists (None when not set).
RESOURCE_FIELDS = (
    "name", "description", "format", "url", "hash", "mimetype", "mimetype_inner", "size",
    "created", "last_modified", "metadata_modified", "cache_url", "cache_last_updated",
    "resource_type", "url_type",
)  # fmt: skip
# Package fields package_update clears when they are not sent.
UPDATE_CLEARS = (
    "title", "notes", "author", "author_email", "maintainer", "maintainer_email", "license_id",
    "url", "version",
)  # fmt: skip
TAG = re.compile(r"^[\w \-.]{2,100}$")
RANGE = re.compile(r"^(\w+):([\[{])(\S+) TO (\S+)([\]}])$")


class ActionError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error


def not_found(message: str = "Not found") -> ActionError:
    return ActionError(404, {"__type": "Not Found Error", "message": message})


def denied(message: str) -> ActionError:
    return ActionError(
        403, {"__type": "Authorization Error", "message": f"Access denied: {message}"}
    )


def invalid(errors: dict[str, list[str]]) -> ActionError:
    return ActionError(409, {"__type": "Validation Error", **errors})


@dataclass
class CkanUser:
    name: str
    token: str
    sysadmin: bool = False
    orgs: dict[str, str] = field(default_factory=dict)  # org name -> member/editor/admin


class CkanPortal:
    """The portal's state and its Starlette app; thread-safe (the server runs in a thread)."""

    def __init__(self) -> None:
        self.packages: dict[str, dict[str, Any]] = {}  # id -> package
        self.users: dict[str, CkanUser] = {}  # token -> user
        self.organizations: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.licenses = copy.deepcopy(LICENSES)
        self._lock = threading.RLock()
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)
        self.app = Starlette(
            routes=[
                Route("/api/3/action/{action}", self._endpoint, methods=["GET", "POST"]),
                Route("/api/action/{action}", self._endpoint, methods=["GET", "POST"]),
            ]
        )

    def serve(self) -> FakeServer:
        return FakeServer(self.app)

    # -- state helpers for tests ---------------------------------------------------------------

    def add_organization(self, name: str, title: str = "") -> None:
        with self._lock:
            self.organizations[name] = {
                "id": str(uuid.uuid4()),
                "name": name,
                "title": title or name,
                "type": "organization",
                "is_organization": True,
                "state": "active",
            }

    def add_group(self, name: str, title: str = "") -> None:
        with self._lock:
            self.groups[name] = {
                "id": str(uuid.uuid4()),
                "name": name,
                "title": title or name,
                "display_name": title or name,
            }

    def add_user(
        self, name: str, *, token: str, sysadmin: bool = False, orgs: dict[str, str] | None = None
    ) -> CkanUser:
        with self._lock:
            for org in orgs or {}:
                if org not in self.organizations:
                    self.add_organization(org)
            user = CkanUser(name, token, sysadmin, dict(orgs or {}))
            self.users[token] = user
            return user

    def add_package(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a package as the portal's own web form would (no permission checks)."""
        with self._lock:
            return copy.deepcopy(self._create(dict(data), creator="site"))

    def edit(self, name_or_id: str, **changes: Any) -> dict[str, Any]:
        """A change made on the portal by someone else."""
        with self._lock:
            package = self._get(name_or_id)
            package.update(self._clean(changes, partial=True))
            self._touch(package)
            return copy.deepcopy(self._show(package))

    def delete(self, name_or_id: str) -> None:
        """A deletion made on the portal by someone else (CKAN's soft delete)."""
        with self._lock:
            self._soft_delete(self._get(name_or_id))

    def _soft_delete(self, package: dict[str, Any]) -> None:
        # package_delete: state deleted, its group memberships deleted; the revision that
        # says so does not bump metadata_modified.
        package["state"] = "deleted"
        package["groups"] = []

    def get(self, name_or_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._show(self._get(name_or_id)))

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(self._show(p))
                for p in self.packages.values()
                if p["state"] != "deleted"
            ]

    # -- HTTP ------------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        action = request.path_params["action"]
        help_url = f"{request.base_url}api/3/action/help_show?name={action}"
        try:
            params = await self._params(request)
            user = self.users.get(request.headers.get("authorization", "").strip())
            handler = getattr(self, f"_a_{action}", None)
            if handler is None:
                raise ActionError(
                    400, {"__type": "Bad request", "message": f"Action name not known: {action}"}
                )
            with self._lock:
                result = handler(params, user)
        except ActionError as error:
            return _json(error.status, {"help": help_url, "success": False, "error": error.error})
        return _json(200, {"help": help_url, "success": True, "result": result})

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = await request.body()
            if not body.strip():
                return {}
            try:
                decoded = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                raise ActionError(
                    400, {"__type": "Bad request", "message": f"JSON Error: {error}"}
                ) from None
            if not isinstance(decoded, dict):
                raise ActionError(
                    400, {"__type": "Bad request", "message": "JSON Error: not a JSON object"}
                )
            return decoded
        return dict(request.query_params)

    # -- permissions -----------------------------------------------------------------------------

    def _can_read(self, package: dict[str, Any], user: CkanUser | None) -> bool:
        if not package.get("private") and package["state"] == "active":
            return True
        return self._member(package, user) or (
            package["state"] == "draft"
            and user is not None
            and package.get("creator_user_id") == user.name
        )

    def _member(self, package: dict[str, Any], user: CkanUser | None) -> bool:
        if user is None:
            return False
        return user.sysadmin or package.get("owner_org") in user.orgs

    def _can_edit(self, org: str | None, user: CkanUser | None) -> bool:
        if user is None:
            return False
        return user.sysadmin or user.orgs.get(org or "") in ("editor", "admin")

    # -- actions ---------------------------------------------------------------------------------

    def _a_status_show(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        return {"ckan_version": "2.10.4", "site_title": "Fake CKAN", "extensions": []}

    def _a_license_list(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        return copy.deepcopy(self.licenses)

    def _a_group_list(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        return sorted(self.groups)

    def _a_organization_list_for_user(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        if user is None:
            return []
        permission = params.get("permission", "manage_group")
        wanted = {"read": ("member", "editor", "admin"), "create_dataset": ("editor", "admin")}
        roles = wanted.get(permission, ("admin",))
        names = (
            self.organizations
            if user.sysadmin
            else [org for org, role in user.orgs.items() if role in roles]
        )
        return [copy.deepcopy(self.organizations[n]) for n in sorted(names)]

    def _a_package_show(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        ident = params.get("id") or params.get("name_or_id")
        if not ident:
            raise invalid({"id": ["Missing value"]})
        package = self._find(str(ident))
        if package is None:
            raise not_found()
        if not self._can_read(package, user):
            name = user.name if user else ""
            raise denied(f"User {name} not authorized to read package {package['id']}")
        return self._show(package)

    def _a_package_search(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        try:
            rows = int(params.get("rows", 10))
            start = int(params.get("start", 0))
        except (TypeError, ValueError):
            raise ActionError(
                409, {"__type": "Validation Error", "rows": ["Invalid integer"]}
            ) from None
        if rows > 1000:
            raise ActionError(
                409, {"__type": "Validation Error", "rows": ["Must be less than or equal to 1000"]}
            )
        include_private = _truthy(params.get("include_private"))
        include_drafts = _truthy(params.get("include_drafts"))
        matches = []
        fq = str(params.get("fq") or "")
        packages: Any = self.packages.values()
        if fq.startswith("id:(") and fq.endswith(")"):  # by id, as Solr's index finds them
            packages = [self.packages[i] for i in sorted(_one_of(fq[3:])) if i in self.packages]
            fq = ""
        for package in packages:
            state = package["state"]
            if state == "deleted" or (state == "draft" and not include_drafts):
                continue
            if package.get("private") and not include_private:
                continue
            if not self._can_read(package, user):
                continue
            if not _matches(package, params.get("q", ""), fq):
                continue
            matches.append(package)
        sort = params.get("sort") or "score desc, metadata_modified desc"
        for clause in reversed([c.strip() for c in sort.split(",")]):
            key, _, direction = clause.partition(" ")
            if key == "score":
                continue
            matches.sort(key=_sort_key(key), reverse=direction == "desc")
        page = matches[start : start + rows]
        fl = params.get("fl")
        if fl:
            fields = [f for f in re.split(r"[,\s]+", str(fl)) if f]
            results: list[Any] = [{f: _indexed(p, f) for f in fields} for p in page]
        else:
            results = [self._show(p) for p in page]
        return {
            "count": len(matches),
            "sort": sort,
            "facets": {},
            "search_facets": {},
            "results": results,
        }

    def _a_package_create(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        owner = params.get("owner_org")
        if not self._can_edit(owner, user):
            name = user.name if user else ""
            raise denied(f"User {name} not authorized to create packages")
        assert user is not None
        if not user.sysadmin:
            params = {k: v for k, v in params.items() if k != "state"}  # ignore_not_package_admin
        return self._show(self._create(params, creator=user.name))

    def _a_package_update(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        package = self._editable(params, user)
        changes = {k: v for k, v in params.items() if k != "id"}
        for key in UPDATE_CLEARS:
            changes.setdefault(key, "")
        changes.setdefault("extras", [])
        changes.setdefault("name", package["name"])
        return self._write(package, changes)

    def _editable(self, params: dict[str, Any], user: CkanUser | None) -> dict[str, Any]:
        ident = params.get("id")
        if not ident:
            raise invalid({"id": ["Missing value"]})
        package = self._find(str(ident))
        if package is None:
            raise not_found()
        if not self._can_edit(package.get("owner_org"), user):
            name = user.name if user else ""
            raise denied(f"User {name} not authorized to edit package {package['id']}")
        return package

    def _write(self, package: dict[str, Any], changes: dict[str, Any]) -> Any:
        cleaned = self._clean(changes, partial=True, current=package)
        if "resources" in cleaned:
            cleaned["resources"] = self._resources(
                cleaned["resources"], package["id"], package.get("resources") or []
            )
        if "name" in cleaned:
            self._free_name(cleaned["name"], package["id"])
        package.update(cleaned)
        self._touch(package)
        return self._show(package)

    def _a_package_patch(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        # package_patch is package_update over the package as shown, updated by what was
        # sent: the lists it sends (resources, extras, tags) replace the package's.
        package = self._editable(params, user)
        return self._write(package, {k: v for k, v in params.items() if k != "id"})

    def _a_package_delete(self, params: dict[str, Any], user: CkanUser | None) -> Any:
        package = self._find(str(params.get("id") or ""))
        if package is None:
            raise not_found()
        if not self._can_edit(package.get("owner_org"), user):
            raise denied("User not authorized to delete package")
        self._soft_delete(package)
        return None

    # -- storage ---------------------------------------------------------------------------------

    def _now(self) -> str:
        # Strictly increasing, so metadata_modified orders every change.
        self._clock = max(datetime.now(UTC), self._clock + timedelta(microseconds=1))
        return self._clock.replace(tzinfo=None).isoformat(timespec="microseconds")

    def _touch(self, package: dict[str, Any]) -> None:
        package["metadata_modified"] = self._now()

    def _find(self, ident: str) -> dict[str, Any] | None:
        if ident in self.packages:
            return self.packages[ident]
        for package in self.packages.values():
            if package["name"] == ident:
                return package
        return None

    def _free_name(self, name: str, owner: str) -> None:
        """A deleted package holding `name` gives it up (renamed to its id), as CKAN lets a
        new package take the name of a deleted one."""
        for package in self.packages.values():
            if package["name"] == name and package["id"] != owner:
                package["name"] = package["id"]

    def _get(self, ident: str) -> dict[str, Any]:
        package = self._find(ident)
        if package is None:
            raise KeyError(ident)
        return package

    def _create(self, params: dict[str, Any], *, creator: str) -> dict[str, Any]:
        cleaned = self._clean(params, partial=False)
        package_id = str(uuid.uuid4())
        self._free_name(cleaned["name"], package_id)
        now = self._now()
        package = {
            "id": package_id,
            "type": "dataset",
            "state": "active",
            "private": False,
            "notes": "",
            "title": "",
            "license_id": "",
            "maintainer": "",
            "maintainer_email": "",
            "tags": [],
            "groups": [],
            "extras": [],
            "metadata_created": now,
            "metadata_modified": now,
            "creator_user_id": creator,
            **cleaned,
        }
        package["resources"] = self._resources(cleaned.get("resources") or [], package_id, [])
        self.packages[package_id] = package
        return package

    def _clean(
        self, params: dict[str, Any], *, partial: bool, current: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Validate as CKAN's package schema does; a 409 listing every field at fault."""
        errors: dict[str, list[str]] = {}
        out: dict[str, Any] = {}
        if "name" in params or not partial:
            name = params.get("name")
            if not isinstance(name, str) or not name:
                errors["name"] = ["Missing value"]
            elif not NAME.match(name):
                errors["name"] = [
                    "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"
                ]
            elif any(
                p["name"] == name
                and p["state"] != "deleted"
                and (current is None or p["id"] != current["id"])
                for p in self.packages.values()
            ):
                errors["name"] = ["That URL is already in use."]
            else:
                out["name"] = name
        for key in (
            "title", "notes", "author", "author_email", "maintainer", "maintainer_email",
            "license_id", "url", "version",
        ):  # fmt: skip
            if key in params:
                value = params[key]
                out[key] = "" if value is None else str(value)
        if "private" in params:
            out["private"] = params["private"] in (True, "true", "True")
        if "state" in params:
            if params["state"] not in ("active", "draft"):
                errors["state"] = ["Invalid state"]
            else:
                out["state"] = params["state"]
        if "owner_org" in params:
            org = params["owner_org"]
            if org and org not in self.organizations:
                errors["owner_org"] = ["Organization does not exist"]
            out["owner_org"] = org or None
        private = out.get("private", current.get("private") if current else False)
        owner = out.get("owner_org", current.get("owner_org") if current else None)
        if private and not owner:
            errors["private"] = ["Datasets with no organization can't be private."]
        if "tags" in params:
            tags = params["tags"] or []
            bad = [t.get("name") for t in tags if not TAG.match(str(t.get("name") or ""))]
            if bad:
                errors["tags"] = [
                    f'Tag "{b}" must be alphanumeric characters or symbols: -_.' for b in bad
                ]
            out["tags"] = [
                {"name": t["name"], "display_name": t["name"], "state": "active"} for t in tags
            ]
        if "groups" in params:
            groups = []
            for g in params["groups"] or []:
                group = self.groups.get(str(g.get("name") or g.get("id") or ""))
                if group is None:
                    errors.setdefault("groups", []).append("Group not found")
                else:
                    groups.append(copy.deepcopy(group))
            out["groups"] = groups
        if "extras" in params:
            extras = []
            for extra in params["extras"] or []:
                key = extra.get("key")
                if key in CORE_FIELDS:
                    errors.setdefault("extras", []).append(
                        f"There is a schema field with the same name: {key}"
                    )
                    continue
                extras.append({"key": key, "value": extra.get("value")})
            out["extras"] = extras
        if "resources" in params:
            if not isinstance(params["resources"], list):
                errors["resources"] = ["Not a list"]
            else:
                out["resources"] = params["resources"]
        if errors:
            raise invalid(errors)
        return out

    def _resources(
        self, resources: list[dict[str, Any]], package_id: str, old: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        known = {r["id"]: r for r in old}
        result = []
        for position, data in enumerate(resources):
            # Only what was sent: a key not sent (mimetype, resource_type, an extra) is gone.
            resource = {k: v for k, v in data.items() if k not in ("package_id", "position")}
            given = str(resource.get("id") or "")
            previous = known.get(given)
            resource["id"] = given or str(uuid.uuid4())  # a client's id is kept, UUID or not
            resource["package_id"] = package_id
            resource["position"] = position
            resource["state"] = "active"
            resource["created"] = previous["created"] if previous else self._now()
            if resource.get("last_modified"):
                resource["last_modified"] = _naive(str(resource["last_modified"]))
            if resource.get("size") in ("", None):
                resource["size"] = None
            if resource.get("format"):
                resource["format"] = FORMATS.get(
                    str(resource["format"]).lower(), resource["format"]
                )
            for key in RESOURCE_FIELDS:
                resource.setdefault(key, None)
            result.append(resource)
        return result

    def _show(self, package: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(package)
        license_id = shown.get("license_id") or ""
        entry = next((lic for lic in self.licenses if lic["id"] == license_id), None)
        if entry is not None:
            shown["license_title"] = entry["title"]
            if entry["url"]:
                shown["license_url"] = entry["url"]
        elif license_id:
            shown["license_title"] = license_id
        org = shown.get("owner_org")
        shown["organization"] = copy.deepcopy(self.organizations.get(org)) if org else None
        # package_dictize sorts the tags by name, whatever order they were sent in.
        shown["tags"] = sorted(shown.get("tags") or [], key=lambda tag: tag["name"])
        shown["num_tags"] = len(shown["tags"])
        shown["num_resources"] = len(shown.get("resources") or [])
        return shown


def _naive(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def _solr_time(value: str) -> str:
    """A CKAN timestamp (naive UTC, microseconds) as Solr holds it: to the millisecond, Z."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def _indexed(package: dict[str, Any], key: str) -> Any:
    """A field as the search index answers it (`fl`): dates to the millisecond."""
    value = package.get(key)
    if key in ("metadata_modified", "metadata_created") and isinstance(value, str):
        return _solr_time(value)
    return value


def _sort_key(key: str) -> Callable[[dict[str, Any]], str]:
    def value(package: dict[str, Any]) -> str:
        return str(_indexed(package, key) or "")

    return value


def _truthy(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _matches(package: dict[str, Any], q: str, fq: str) -> bool:
    """A small part of Solr's syntax: `field:value`, `field:[a TO b]` (`*` open), free text
    on title and notes; terms joined by AND (or spaces)."""
    for query in (q, fq):
        query = (query or "").strip()
        if not query or query == "*:*":
            continue
        for term in re.split(r"\s+AND\s+", query):
            term = term.strip()
            if not _term(package, term):
                return False
    return True


def _term(package: dict[str, Any], term: str) -> bool:
    found = RANGE.match(term)
    if found:
        key, opening, low, high, closing = found.groups()
        value = str(_indexed(package, key) or "")
        low_value = _solr_time(low.replace("\\", ""))
        high_value = _solr_time(high.replace("\\", ""))
        # Solr: [ ] include the bound, { } exclude it; * is open.
        low_ok = low == "*" or (value >= low_value if opening == "[" else value > low_value)
        high_ok = high == "*" or (value <= high_value if closing == "]" else value < high_value)
        return low_ok and high_ok
    if ":" in term and not term.startswith('"'):
        key, _, value = term.partition(":")
        if value.startswith("(") and value.endswith(")"):  # field:("a" OR "b" ...)
            return str(package.get(key) or "") in _one_of(value)
        if key.startswith("extras_"):  # CKAN indexes each extra as extras_<key>
            extras = {e["key"]: e["value"] for e in package.get("extras") or []}
            return str(extras.get(key.removeprefix("extras_")) or "") == value.strip('"')
        return str(package.get(key) or "") == value.strip('"')
    words = term.strip('"').lower().split()
    text = f"{package.get('title', '')} {package.get('notes', '')}".lower()
    return all(word in text for word in words)


@functools.lru_cache(maxsize=64)
def _one_of(group: str) -> frozenset[str]:
    """The values of a Solr group `("a" OR "b" ...)`, parsed once per query, not per package."""
    return frozenset(v.strip().strip('"') for v in re.split(r"\s+OR\s+", group[1:-1]))


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
