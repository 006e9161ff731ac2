"""The files the server keeps are its user's alone: the data dir 0700; the SQLite database, its -wal and
-shm files and master.key 0600, under a permissive umask, and an existing looser data dir tightened."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Server, cli


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """0o022 (files 0644, directories 0755 by default), inherited by the commands the tests start."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def assert_private(data_dir: Path) -> None:
    assert mode(data_dir) == 0o700
    files = sorted(p.name for p in data_dir.iterdir() if not p.name.startswith("server-"))  # the tests' logs
    assert "openprofiles.db" in files and "master.key" in files, files
    for name in files:
        assert mode(data_dir / name) == 0o600, (name, oct(mode(data_dir / name)))


def test_keys_create_makes_a_private_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    cli("keys", "create", "--data-dir", str(data_dir))
    assert_private(data_dir)


def test_serve_keeps_its_database_and_its_wal_files_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "served"
    server = Server(data_dir, None)
    creds = server.create_key()
    server.start()
    try:
        server.client("customer-profiles", creds).create_domain(DomainName="modes", DefaultExpirationDays=5)
        assert (data_dir / "openprofiles.db-wal").exists() and (data_dir / "openprofiles.db-shm").exists()
        assert_private(data_dir)
    finally:
        server.stop()


def test_an_existing_looser_data_dir_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "old"
    cli("keys", "create", "--data-dir", str(data_dir))
    os.chmod(data_dir, 0o755)
    for path in data_dir.iterdir():
        os.chmod(path, 0o644)
    cli("keys", "list", "--data-dir", str(data_dir))
    assert_private(data_dir)
