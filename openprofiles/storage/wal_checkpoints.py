"""WAL checkpoints of an SQLite database on a thread of their own.

By default SQLite checkpoints inside the commit that takes the write-ahead log past 1,000 pages:
that writer waits while the log's pages are copied into the database file and the file is
synced. A batch ingest at a million profiles dirties tens of thousands of index pages per
commit, and its commits spent more time checkpointing than inserting. Here writers only append
to the log; after a write, this thread runs a PASSIVE checkpoint (it never blocks readers or
writers), at most once per `interval`. Writers still checkpoint themselves past
`SAFETY_NET_PAGES`, should this thread fall far behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

#: Log pages past which a committing writer checkpoints by itself (SQLite's wal_autocheckpoint).
SAFETY_NET_PAGES = 100_000
#: Bytes the log file is cut back to once a checkpoint lets SQLite start it over.
LOG_SIZE_LIMIT = 64 << 20


class WalCheckpointer:
    """Checkpoints one SQLite file after writes, on a daemon thread with its own connection."""

    def __init__(self, path: str, interval: float = 0.25) -> None:
        self.path = path
        self.interval = interval
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def written(self) -> None:
        """A write transaction committed: checkpoint soon."""
        self._wake.set()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._wake.wait()
                if self._closing.is_set():
                    return
                self._wake.clear()
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                        conn.execute("PRAGMA busy_timeout=10000")
                        conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:
                    log.warning("checkpoint of %s failed (writers will checkpoint themselves): %s", self.path, error)
                if self._closing.wait(self.interval):
                    return
        finally:
            if conn is not None:
                conn.close()
