"""The errors services raise. Each carries a stable code and a message a person can act on."""

from __future__ import annotations


class CatalogueError(Exception):
    """Base of every expected failure; anything else is a bug."""

    code = "catalogue_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(CatalogueError):
    """Bad input. `errors` maps a field path (e.g. ``contact.email``) to what is wrong with it."""

    code = "validation_failed"

    def __init__(self, errors: dict[str, str], subject: str = "dataset") -> None:
        details = "; ".join(f"{path}: {message}" for path, message in errors.items())
        super().__init__(f"Invalid {subject}: {details}")
        self.errors = errors


class NotFound(CatalogueError):
    code = "not_found"


class PermissionDenied(CatalogueError):
    code = "forbidden"


class Unauthorized(CatalogueError):
    code = "unauthorized"


class InvalidTransition(CatalogueError):
    code = "invalid_transition"


class StaleEdit(CatalogueError):
    """The dataset changed since the caller read it; their edit would overwrite that change."""

    code = "stale_edit"


class NotACatalogue(CatalogueError):
    """The file named is something else: a text file, a folder, another program's database."""

    code = "not_a_catalogue"


class CatalogueUnreachable(CatalogueError):
    """The catalogue cannot be opened where it is: no such folder, no permission, no server."""

    code = "catalogue_unreachable"
