"""Access keys: stored with their sealed secret, listed in creation order, revoked once."""

from __future__ import annotations

from datetime import timedelta

from openprofiles.storage.store import Store
from tests.storage.conftest import NOW


def test_keys_are_stored_listed_and_revoked_once(store: Store) -> None:
    with store.write() as uow:
        uow.access_keys.add("AKIDB", "222222222222", b"sealed-b", NOW + timedelta(seconds=1))
        uow.access_keys.add("AKIDA", "111111111111", b"sealed-a", NOW)
    with store.read() as uow:
        assert [k.access_key_id for k in uow.access_keys.list()] == ["AKIDA", "AKIDB"]
        assert uow.access_keys.count() == 2
        key = uow.access_keys.get("AKIDA")
    assert key is not None and (key.account_id, key.secret_ciphertext, key.active) == ("111111111111", b"sealed-a", True)
    assert key.created_at == NOW and key.revoked_at is None
    with store.write() as uow:
        assert uow.access_keys.revoke("AKIDA", NOW + timedelta(hours=1))
        assert not uow.access_keys.revoke("AKIDA", NOW + timedelta(hours=2))  # already revoked
        assert not uow.access_keys.revoke("AKIDX", NOW)
    with store.read() as uow:
        revoked = uow.access_keys.get("AKIDA")
        assert uow.access_keys.get("AKIDX") is None
    assert revoked is not None and not revoked.active and revoked.revoked_at == NOW + timedelta(hours=1)
