"""FastReader's access-key and domain reads see every commit at once: by this process's writers,
by another process, and (on SQLite, where a read connection remembers rows while the database is
unchanged) without serving a remembered row after a change."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from openprofiles.storage.database import Database
from openprofiles.storage.fast_reads import ROW_MEMO_SIZE, FastReader
from openprofiles.storage.store import Store

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _key(reader: FastReader, key_id: str) -> tuple[str, bool, bytes] | None:
    with reader.session(statements=1) as session:
        return session.access_key(key_id)


def _domain_days(reader: FastReader, name: str) -> int | None:
    with reader.session(statements=1) as session:
        found = session.domain("000000000000", "us-east-1", name)
    return None if found is None else found[0].default_expiration_days


def test_a_revocation_or_a_new_key_is_seen_by_the_next_read(db: Database) -> None:
    store, reader = Store(db), FastReader(db)
    with store.write() as uow:
        uow.access_keys.add("AKIAFASTREAD0000001", "000000000000", b"sealed-1", NOW)
    assert _key(reader, "AKIAFASTREAD0000001") == ("000000000000", True, b"sealed-1")
    assert _key(reader, "AKIAFASTREAD0000001") == ("000000000000", True, b"sealed-1")  # remembered
    assert _key(reader, "AKIAFASTREAD0000002") is None
    with store.write() as uow:
        assert uow.access_keys.revoke("AKIAFASTREAD0000001", NOW)
        uow.access_keys.add("AKIAFASTREAD0000002", "000000000000", b"sealed-2", NOW)
    assert _key(reader, "AKIAFASTREAD0000001") == ("000000000000", False, b"sealed-1")
    assert _key(reader, "AKIAFASTREAD0000002") == ("000000000000", True, b"sealed-2")
    reader.close()


def test_a_commit_by_another_process_is_seen_by_the_next_read(db: Database) -> None:
    store, reader = Store(db), FastReader(db)
    with store.write() as uow:
        uow.access_keys.add("AKIAFASTREAD0000003", "000000000000", b"sealed", NOW)
        uow.domains.add("000000000000", "us-east-1", "fast", default_expiration_days=10,
                        default_encryption_key=None, dead_letter_queue_url=None, settings={}, now=NOW)
    assert _key(reader, "AKIAFASTREAD0000003") == ("000000000000", True, b"sealed")
    assert _domain_days(reader, "fast") == 10
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from openprofiles.storage.database import Database\n"
        "from openprofiles.storage.store import Store\n"
        "db = Database(sys.argv[1])\n"
        "with Store(db).write() as uow:\n"
        "    uow.access_keys.revoke('AKIAFASTREAD0000003', datetime.now(UTC))\n"
        "    found = uow.domains.get('000000000000', 'us-east-1', 'fast')\n"
        "    uow.domains.update(found.id, datetime.now(UTC), default_expiration_days=20)\n"
        "db.dispose()\n"
    )
    subprocess.run([sys.executable, "-c", script, db.url], check=True, timeout=60)
    assert _key(reader, "AKIAFASTREAD0000003") == ("000000000000", False, b"sealed")
    assert _domain_days(reader, "fast") == 20
    reader.close()


def test_domain_changes_and_deletion_are_seen_at_once(db: Database) -> None:
    store, reader = Store(db), FastReader(db)
    with store.write() as uow:
        record = uow.domains.add("000000000000", "us-east-1", "gone", default_expiration_days=5,
                                 default_encryption_key=None, dead_letter_queue_url=None, settings={}, now=NOW)
    assert _domain_days(reader, "gone") == 5
    with store.write() as uow:
        uow.domains.update(record.id, NOW + timedelta(seconds=1), default_expiration_days=6)
    assert _domain_days(reader, "gone") == 6
    with store.write() as uow:
        uow.domains.delete(record.id)
    assert _domain_days(reader, "gone") is None
    reader.close()


def test_many_distinct_keys_stay_correct_past_the_memo_size(db: Database) -> None:
    store, reader = Store(db), FastReader(db)
    ids = [f"AKIAFASTMANY{i:07d}" for i in range(ROW_MEMO_SIZE + 10)]
    with store.write() as uow:
        for key_id in ids:
            uow.access_keys.add(key_id, "000000000000", key_id.encode(), NOW)
    for _ in range(2):
        for key_id in ids[:: 97] + ids[-3:]:
            assert _key(reader, key_id) == ("000000000000", True, key_id.encode())
    reader.close()
