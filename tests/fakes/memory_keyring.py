"""An in-memory keyring backend for tests: a real `keyring.backend.KeyringBackend`.

How to use it (tests/services/sync/conftest.py has a fixture)::

    backend = MemoryKeyring()
    keyring.set_keyring(backend)      # every keyring call now lands here
    ...
    keyring.set_keyring(previous)     # put the machine's backend back
"""

from __future__ import annotations

import keyring.errors
from keyring.backend import KeyringBackend


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("no such password")
