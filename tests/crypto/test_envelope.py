"""Envelope encryption and the local keyring, with data keys in a real database."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.keyring import KeyringError, LocalKeyring, load_master_key
from openprofiles.storage.data_keys import DataKeyRepository
from openprofiles.storage.database import Database


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    first = load_master_key(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "master.key").st_mode)
    assert mode == 0o600
    assert load_master_key(tmp_path).key_id == first.key_id
    assert "material" not in repr(first)


def test_master_key_from_environment(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"k" * 32).decode()
    assert load_master_key(tmp_path, encoded).material == b"k" * 32
    assert not (tmp_path / "master.key").exists()
    with pytest.raises(KeyringError, match="32 bytes"):
        load_master_key(tmp_path, base64.b64encode(b"short").decode())
    with pytest.raises(KeyringError, match="base64"):
        load_master_key(tmp_path, "not base64!!")


def test_seal_open_round_trip_across_instances(db: Database, tmp_path: Path) -> None:
    keyring = LocalKeyring(load_master_key(tmp_path))
    sealed = Envelope(keyring, DataKeyRepository(db)).seal("system", b"secret value", b"context")
    assert b"secret value" not in sealed
    # A new process (new envelope, same database and master key) opens it.
    assert Envelope(keyring, DataKeyRepository(db)).open(sealed, b"context") == b"secret value"
    with pytest.raises(InvalidTag):
        Envelope(keyring, DataKeyRepository(db)).open(sealed, b"other context")


def test_scopes_have_their_own_data_keys(db: Database, tmp_path: Path) -> None:
    envelope = Envelope(LocalKeyring(load_master_key(tmp_path)), DataKeyRepository(db))
    a = envelope.seal("domain:1", b"x")
    b = envelope.seal("domain:2", b"x")
    assert a[1:5] != b[1:5]  # different data key ids in the header
    assert envelope.open(a) == envelope.open(b) == b"x"


def test_wrong_master_key_is_refused_clearly(db: Database, tmp_path: Path) -> None:
    sealed = Envelope(LocalKeyring(load_master_key(tmp_path / "a")), DataKeyRepository(db)).seal("system", b"x")
    other = Envelope(LocalKeyring(load_master_key(tmp_path / "b")), DataKeyRepository(db))
    with pytest.raises(KeyringError, match="master key"):
        other.open(sealed)
