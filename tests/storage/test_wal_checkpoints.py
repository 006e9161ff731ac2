"""The WAL checkpointer: a write wakes its thread, which copies the log into the database file
with a PASSIVE checkpoint; closing stops the thread; a failing checkpoint is logged, not raised."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from openprofiles.storage.wal_checkpoints import WalCheckpointer


def _wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _wal_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies the log
    conn.execute("CREATE TABLE t (b BLOB)")
    return conn


def test_a_write_is_checkpointed_into_the_file_soon_after(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = _wal_database(path)
    checkpointer = WalCheckpointer(str(path), interval=0.01)
    try:
        conn.execute("INSERT INTO t VALUES (zeroblob(500000))")
        size = path.stat().st_size
        checkpointer.written()
        assert _wait_for(lambda: path.stat().st_size > size + 400_000), "the log was not copied into the file"
    finally:
        checkpointer.close()
        conn.close()
    assert not checkpointer._thread.is_alive()


def test_a_failing_checkpoint_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "dir.sqlite").mkdir()  # not a database file: connecting or checkpointing fails
    checkpointer = WalCheckpointer(str(tmp_path / "dir.sqlite"), interval=0.01)
    with caplog.at_level(logging.WARNING, logger="openprofiles.storage.wal_checkpoints"):
        checkpointer.written()
        assert _wait_for(lambda: "checkpoint of" in caplog.text)
    checkpointer.close()
    assert not checkpointer._thread.is_alive()
