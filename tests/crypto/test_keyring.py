"""The local keyring: master keys from the environment or master.key, wrapping, unwrapping, reloading, deriving."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from openprofiles.crypto.keyring import (
    KEY_FILE,
    KeyringError,
    LocalKeyring,
    MasterKey,
    load_master_key,
    load_master_keys,
    parse_env_keys,
    read_key_file,
    write_key_file,
)

A, B, C = MasterKey(b"a" * 32), MasterKey(b"b" * 32), MasterKey(b"c" * 32)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_master_key_id_is_a_stable_fingerprint_and_repr_hides_the_material() -> None:
    assert A.key_id == MasterKey(b"a" * 32).key_id
    assert A.key_id != B.key_id
    assert len(A.key_id) == 16 and int(A.key_id, 16) >= 0
    assert A.encoded == base64.b64encode(b"a" * 32).decode()
    assert repr(A) == f"MasterKey(key_id={A.key_id!r})"
    assert A.encoded not in repr(A) and "aaaa" not in repr(A)
    generated = {MasterKey.generate().material for _ in range(3)}
    assert len(generated) == 3 and all(len(material) == 32 for material in generated)


def test_environment_keys_are_comma_separated_current_first_without_duplicates() -> None:
    assert parse_env_keys(A.encoded) == [A]
    assert parse_env_keys(f" {B.encoded} , {A.encoded},,{B.encoded} ,") == [B, A]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (",  ,", "holds no key"),
        (f"{A.encoded},not base64!!", r"key 2\) is not base64"),
        (base64.b64encode(b"short").decode(), r"key 1\) must be 32 bytes"),
    ],
)
def test_environment_keys_refused(value: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        parse_env_keys(value)


def test_key_file_lines_current_first_blank_lines_ignored(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(f"\n{C.encoded}\n  \n{A.encoded}\n{C.encoded}\n")
    assert read_key_file(path) == [C, A]
    path.write_text(f"{A.encoded}\n\nnot base64!\n")
    with pytest.raises(KeyringError, match=r"\(line 3\) is not base64"):
        read_key_file(path)
    path.write_text("\n \n")
    with pytest.raises(KeyringError, match="holds no key"):
        read_key_file(path)


def test_write_key_file_replaces_the_file_privately_and_leaves_no_temporary(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    write_key_file(directory / KEY_FILE, [A])
    write_key_file(directory / KEY_FILE, [B, A])
    assert (directory / KEY_FILE).read_text() == f"{B.encoded}\n{A.encoded}\n"
    assert _mode(directory / KEY_FILE) == 0o600 and _mode(directory) == 0o700
    assert os.listdir(directory) == [KEY_FILE]


def test_write_key_file_failure_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / KEY_FILE
    write_key_file(path, [A])

    def fail(*_: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_key_file(path, [B])
    assert read_key_file(path) == [A]
    assert os.listdir(tmp_path) == [KEY_FILE]


def test_load_creates_one_private_key_file_then_reuses_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = load_master_keys(data_dir)
    assert len(created) == 1
    assert _mode(data_dir) == 0o700 and _mode(data_dir / KEY_FILE) == 0o600
    assert load_master_keys(data_dir) == created
    assert load_master_key(data_dir) == created[0]


def test_load_tightens_an_existing_key_file_and_reads_all_its_keys(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(f"{B.encoded}\n{A.encoded}\n")
    path.chmod(0o644)
    assert load_master_keys(tmp_path) == [B, A]
    assert load_master_key(tmp_path) == B
    assert _mode(path) == 0o600


def test_load_from_environment_wins_and_writes_no_file(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text(A.encoded + "\n")
    assert load_master_keys(tmp_path, f"{B.encoded},{C.encoded}") == [B, C]
    assert load_master_keys(tmp_path / "empty", C.encoded) == [C]
    assert not (tmp_path / "empty" / KEY_FILE).exists()


def test_load_reads_the_file_another_process_created_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def racing_open(path: Any, flags: int, mode: int = 0o777) -> int:
        if Path(path).name == KEY_FILE and flags & os.O_EXCL:
            Path(path).write_text(C.encoded + "\n")  # the other process wins between exists() and open()
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", racing_open)
    assert load_master_keys(tmp_path) == [C]


def test_a_keyring_needs_a_key_and_drops_duplicates() -> None:
    with pytest.raises(KeyringError, match="No master key"):
        LocalKeyring([])
    keyring = LocalKeyring([B, A, B])
    assert keyring.masters == [B, A]
    assert keyring.master == B and keyring.key_id == B.key_id
    assert LocalKeyring(A).masters == [A]
    assert keyring.knows(A.key_id) and not keyring.knows(C.key_id)


def test_wrap_under_the_current_key_unwrap_under_any_configured_key() -> None:
    old = LocalKeyring(A)
    wrapped_by_old, old_id = old.wrap_key(b"k" * 32, b"scope")
    assert old_id == A.key_id
    rotated = LocalKeyring([B, A])
    wrapped, key_id = rotated.wrap_key(b"k" * 32, b"scope")
    assert key_id == B.key_id
    assert b"k" * 32 not in wrapped
    assert rotated.wrap(b"k" * 32, b"scope") != wrapped  # a fresh nonce each time
    assert rotated.unwrap(wrapped, b"scope", B.key_id) == b"k" * 32
    assert rotated.unwrap(wrapped_by_old, b"scope", A.key_id) == b"k" * 32
    with pytest.raises(InvalidTag):
        rotated.unwrap(wrapped, b"other scope", B.key_id)
    with pytest.raises(InvalidTag):
        rotated.unwrap(wrapped, b"scope", A.key_id)  # the wrong master key


def test_unwrap_with_an_unknown_key_names_the_configured_ones() -> None:
    wrapped, _ = LocalKeyring(C).wrap_key(b"k" * 32, b"")
    keyring = LocalKeyring([A, B])
    assert keyring.reload() is False  # built from keys, not from a file
    with pytest.raises(KeyringError) as raised:
        keyring.unwrap(wrapped, b"", C.key_id)
    assert C.key_id in str(raised.value) and f"{A.key_id}, {B.key_id}" in str(raised.value)


def test_a_file_keyring_picks_up_a_rotation_when_it_meets_an_unknown_key(tmp_path: Path) -> None:
    write_key_file(tmp_path / KEY_FILE, [A])
    running = LocalKeyring.open(tmp_path)
    assert running.masters == [A]
    wrapped, key_id = LocalKeyring([C, A]).wrap_key(b"k" * 32, b"scope")
    write_key_file(tmp_path / KEY_FILE, [C])  # rotated elsewhere; A no longer listed
    assert running.unwrap(wrapped, b"scope", key_id) == b"k" * 32
    assert running.masters == [C, A]  # keys the file dropped stay known to this process
    (tmp_path / KEY_FILE).unlink()
    assert running.reload() is False
    assert running.masters == [C, A]


def test_an_environment_keyring_never_reloads(tmp_path: Path) -> None:
    write_key_file(tmp_path / KEY_FILE, [C])
    keyring = LocalKeyring.open(tmp_path, A.encoded)
    assert keyring.masters == [A]
    assert keyring.reload() is False
    wrapped, key_id = LocalKeyring(C).wrap_key(b"k" * 32, b"")
    with pytest.raises(KeyringError, match="configured master keys are"):
        keyring.unwrap(wrapped, b"", key_id)


def test_derive_gives_one_secret_per_purpose_from_the_current_key() -> None:
    first = LocalKeyring([A, B]).derive("page-tokens")
    assert len(first) == 32
    assert LocalKeyring([A, C]).derive("page-tokens") == first  # only the current key counts
    assert LocalKeyring([A]).derive("console-sessions") != first
    assert LocalKeyring([B, A]).derive("page-tokens") != first
    assert first not in (A.material, B.material)
