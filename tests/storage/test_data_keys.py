"""Wrapped data keys: one per scope (a second add for a scope keeps the first), re-wrapped only
from the expected wrapper, all re-wrapped in one transaction, counted by wrapper."""

from __future__ import annotations

from openprofiles.storage.data_keys import DataKeyRepository
from openprofiles.storage.database import Database


def test_one_key_per_scope_and_its_wrappings(db: Database) -> None:
    keys = DataKeyRepository(db)
    assert keys.find("system") is None
    keys.add("system", b"wrapped-1", "aaaa")
    keys.add("system", b"wrapped-2", "bbbb")  # another process got there first: the first stays
    found = keys.find("system")
    assert found is not None
    key_id, wrapped, wrapper = found
    assert (bytes(wrapped), wrapper) == (b"wrapped-1", "aaaa")
    assert keys.get(key_id)[0] == "system"
    assert not keys.replace_wrapping(key_id, "zzzz", b"new", "arn:aws:kms:k")  # the row changed since
    assert keys.replace_wrapping(key_id, "aaaa", b"new", "arn:aws:kms:k")
    assert keys.find("system") == (key_id, b"new", "arn:aws:kms:k")


def test_rewrap_all_and_count_by_wrapper(db: Database) -> None:
    keys = DataKeyRepository(db)
    for scope in ("system", "domain:1", "domain:2"):
        keys.add(scope, f"w-{scope}".encode(), "old")
    seen: list[str] = []

    def rewrap(scope: str, wrapped: bytes, master_key_id: str) -> tuple[bytes, str] | None:
        seen.append(scope)
        return None if scope == "system" else (wrapped + b"+", "new")

    assert keys.rewrap_all(rewrap) == 2
    assert seen == ["system", "domain:1", "domain:2"]  # in id order
    assert keys.count_by_wrapper() == {"old": 1, "new": 2}
    found = keys.find("domain:1")
    assert found is not None and bytes(found[1]) == b"w-domain:1+"
