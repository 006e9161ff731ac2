"""Master-key rotation without downtime, on both backends: several master keys in the keyring,
`rotate_master` re-wrapping local data keys (KMS-wrapped ones untouched), a running process
picking up the new key file, and OPENPROFILES_MASTER_KEY rotation returning the new value."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from openprofiles.aws_access import AwsAccess
from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.keyring import KeyringError, LocalKeyring, MasterKey, load_master_key, load_master_keys
from openprofiles.crypto.kms import KmsKeyProvider
from openprofiles.crypto.rotation import rotate_master
from openprofiles.storage.data_keys import DataKeyRepository
from openprofiles.storage.database import Database
from tests.harness import MotoServer

SCOPES = ("system", "domain:1", "domain:2")


#: KMS for the scopes' account, which the operator let use every key.
KMS = KmsKeyProvider(AwsAccess([("000000000000", "arn:aws:kms:*")]), lambda scope: "000000000000")


def _process(db: Database, data_dir: Path, env_value: str | None = None) -> Envelope:
    """What a process builds at start-up: the keyring from the data dir (or env) and an envelope."""
    return Envelope(LocalKeyring.open(data_dir, env_value), DataKeyRepository(db), KMS)


def _seal_all(envelope: Envelope) -> dict[str, bytes]:
    return {scope: envelope.seal(scope, f"value of {scope}".encode(), scope.encode()) for scope in SCOPES}


def _opens(envelope: Envelope, sealed: dict[str, bytes]) -> bool:
    return all(envelope.open(value, scope.encode()) == f"value of {scope}".encode() for scope, value in sealed.items())


def _wrappers(db: Database) -> dict[str, str]:
    repository = DataKeyRepository(db)
    return {scope: found[2] for scope in SCOPES if (found := repository.find(scope)) is not None}


def test_the_keyring_holds_several_master_keys(db: Database, tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    sealed = _seal_all(Envelope(LocalKeyring(old), DataKeyRepository(db)))
    (tmp_path / "master.key").write_text(f"{new.encoded}\n\n{old.encoded}\n")
    keyring = LocalKeyring.open(tmp_path)
    assert [k.key_id for k in keyring.masters] == [new.key_id, old.key_id]
    assert keyring.key_id == new.key_id  # the first line is current
    assert _opens(Envelope(keyring, DataKeyRepository(db)), sealed)  # the previous key still opens
    from_env = LocalKeyring.open(tmp_path / "unused", f"{new.encoded}, {old.encoded}")
    assert from_env.key_id == new.key_id and _opens(Envelope(from_env, DataKeyRepository(db)), sealed)
    with pytest.raises(KeyringError, match="line 2"):
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "master.key").write_text(f"{new.encoded}\nnot base64!!\n")
        load_master_keys(tmp_path / "bad")


def test_an_unknown_master_key_still_fails_after_rereading_the_file(db: Database, tmp_path: Path) -> None:
    sealed = Envelope(LocalKeyring(MasterKey.generate()), DataKeyRepository(db)).seal("system", b"x")
    with pytest.raises(KeyringError, match="master key"):
        _process(db, tmp_path).open(sealed)


def test_rotation_rewraps_local_data_keys_and_leaves_kms_ones(
    db: Database, tmp_path: Path, aws_env: MotoServer
) -> None:
    data_dir = tmp_path / "data"
    envelope = _process(db, data_dir)
    sealed = _seal_all(envelope)
    key_arn = str(aws_env.client("kms").create_key()["KeyMetadata"]["Arn"])
    kms_sealed = envelope.seal("domain:9", b"kms value", key_ref=key_arn)
    kms_row = DataKeyRepository(db).find("domain:9")
    old_id = envelope.keyring.key_id
    assert set(_wrappers(db).values()) == {old_id}

    result = rotate_master(db, data_dir, None)

    assert result.previous_key_ids == (old_id,) and result.new_key_id != old_id
    assert (result.rewrapped, result.kms_wrapped, result.still_on_previous) == (3, 1, 0)
    assert result.key_file == data_dir / "master.key" and result.env_value is None
    assert _wrappers(db) == dict.fromkeys(SCOPES, result.new_key_id)  # every local row changed
    assert DataKeyRepository(db).find("domain:9") == kms_row  # the KMS-wrapped row is untouched
    # The file: the new key first, then the old one; private.
    assert [k.key_id for k in load_master_keys(data_dir)] == [result.new_key_id, old_id]
    assert stat.S_IMODE(os.stat(data_dir / "master.key").st_mode) == 0o600
    assert not [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")]
    # A new process opens everything; so does one holding only the new key.
    assert _opens(_process(db, data_dir), sealed)
    only_new = Envelope(LocalKeyring(load_master_key(data_dir)), DataKeyRepository(db), KMS)
    assert _opens(only_new, sealed) and only_new.open(kms_sealed) == b"kms value"


def test_a_running_process_picks_up_the_rotation(db: Database, tmp_path: Path) -> None:
    writer = _process(db, tmp_path)
    sealed = _seal_all(writer)
    running = _process(db, tmp_path)  # started before the rotation; has loaded no data key yet
    old_id = running.keyring.key_id
    assert running.open(sealed["system"], b"system") == b"value of system"  # loaded before

    result = rotate_master(db, tmp_path, None)

    # Data keys it had not loaded are now wrapped by a key it did not know: it re-reads master.key.
    assert _opens(running, sealed)
    assert running.keyring.key_id == result.new_key_id
    running.seal("domain:5", b"new scope")
    assert DataKeyRepository(db).find("domain:5")[2] == result.new_key_id  # type: ignore[index]
    # The writer never met the new key: the data keys it creates are wrapped by the old one,
    # which stays in master.key, so every process still opens them.
    writer.seal("domain:6", b"late", b"aad")
    assert DataKeyRepository(db).find("domain:6")[2] == old_id  # type: ignore[index]
    assert _process(db, tmp_path).open(writer.seal("domain:6", b"late", b"aad"), b"aad") == b"late"
    # A second rotation re-wraps those too and keeps every previous key.
    second = rotate_master(db, tmp_path, None)
    assert second.previous_key_ids == (result.new_key_id, old_id)
    assert second.rewrapped == 5 and second.still_on_previous == 0
    assert _opens(_process(db, tmp_path), sealed)


def test_rotation_with_the_environment_variable(db: Database, tmp_path: Path) -> None:
    old = base64.b64encode(b"o" * 32).decode()
    envelope = _process(db, tmp_path, old)
    sealed = _seal_all(envelope)

    result = rotate_master(db, tmp_path, old)

    assert not (tmp_path / "master.key").exists() and result.key_file is None
    assert not [p for p in tmp_path.iterdir() if "master" in p.name]  # no key file, temporary or lock
    assert result.env_value is not None and result.env_value.endswith("," + old)
    assert result.env_value not in repr(result)
    assert result.rewrapped == 3 and _wrappers(db) == dict.fromkeys(SCOPES, result.new_key_id)
    assert envelope.open(sealed["domain:1"], b"domain:1") == b"value of domain:1"  # loaded before: cached
    assert _opens(_process(db, tmp_path, result.env_value), sealed)
    # A process still given the old value cannot open a data key it has not loaded: it must be
    # restarted with the new value.
    with pytest.raises(KeyringError, match=result.new_key_id):
        _process(db, tmp_path, old).open(sealed["domain:2"], b"domain:2")


def test_rotation_refuses_data_keys_of_an_unknown_master_key(db: Database, tmp_path: Path) -> None:
    Envelope(LocalKeyring(MasterKey.generate()), DataKeyRepository(db)).seal("system", b"x")
    _process(db, tmp_path)  # creates master.key with another key
    before = (tmp_path / "master.key").read_text()
    with pytest.raises(KeyringError, match="not configured"):
        rotate_master(db, tmp_path, None)
    assert (tmp_path / "master.key").read_text() == before  # nothing was changed


def test_rotation_of_an_empty_database(db: Database, tmp_path: Path) -> None:
    result: Any = rotate_master(db, tmp_path, None)
    assert (result.rewrapped, result.kms_wrapped, result.still_on_previous) == (0, 0, 0)
    assert len(load_master_keys(tmp_path)) == 2  # the key created for the rotation, and the new one
