"""The driver-cursor helpers: rows bound as tuples (timestamps in SQLAlchemy's stored form on
each database, so SQLAlchemy reads them back equal; JSON columns as the JSON type stores them),
duplicates skipped on request, updates and deletes by columns, IN lists sliced, stored
timestamps read back aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from openprofiles.storage.bulk import (
    delete_rows,
    execute,
    insert_rows,
    marker,
    optional_time,
    select_in,
    stored_time,
    update_rows,
)
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import Store
from openprofiles.storage.tables import profile_keys, profiles, tags
from tests.storage.conftest import NOW

COLUMNS = ("profile_id", "document", "created_at", "last_updated_at", "expires_at")
OTHER_ZONE = NOW.astimezone(timezone(timedelta(hours=5)))


def test_inserted_timestamps_read_back_equal_through_sqlalchemy(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        insert_rows(uow.conn, profiles, COLUMNS, [("a" * 32, b"x", NOW, OTHER_ZONE, None),
                                                  ("b" * 32, b"y", NOW, NOW, NOW + timedelta(microseconds=1))],
                    domain_id=domain.id)
    with store.read() as uow:
        rows = uow.conn.execute(select(profiles.c.profile_id, profiles.c.last_updated_at, profiles.c.expires_at)
                                .order_by(profiles.c.profile_id)).all()
    assert [tuple(r) for r in rows] == [("a" * 32, NOW, None), ("b" * 32, NOW, NOW + timedelta(microseconds=1))]


def test_duplicates_are_skipped_only_when_asked(store: Store, domain: DomainRecord) -> None:
    entry = ("k", b"i" * 16, "p" * 32, "s")
    with store.write() as uow:
        insert_rows(uow.conn, profile_keys, ("key_name", "value_index", "profile_id", "source"), [entry, entry],
                    ignore_duplicates=True, domain_id=domain.id)
    with store.read() as uow:
        assert len(uow.conn.execute(select(profile_keys)).all()) == 1


def test_update_delete_and_select_in(store: Store) -> None:
    with store.write() as uow:
        insert_rows(uow.conn, tags, ("resource_arn", "tag_key", "tag_value"),
                    [("arn", f"k{i}", "v") for i in range(1000)])
        update_rows(uow.conn, tags, ("tag_value",), ("resource_arn", "tag_key"), [("new", "arn", "k1")])
        delete_rows(uow.conn, tags, ("resource_arn", "tag_key"), [("arn", "k2"), ("arn", "k3")])
        insert_rows(uow.conn, tags, ("resource_arn", "tag_key", "tag_value"), [])
        execute(uow.conn, f"UPDATE tags SET tag_value = {marker(uow.conn)} WHERE tag_key = 'k4'", ("set",))
    with store.read() as uow:
        found = select_in(uow.conn, "SELECT tag_key, tag_value FROM tags WHERE resource_arn = ? AND tag_key IN ({marks})",
                          ("arn",), [f"k{i}" for i in range(1000)])  # more than one slice
    values = dict(found)
    assert len(values) == 998 and "k2" not in values and "k3" not in values
    assert (values["k1"], values["k4"], values["k5"]) == ("new", "set", "v")


def test_stored_times_are_aware_utc() -> None:
    assert stored_time("2026-03-01 12:00:00.000000") == NOW
    assert stored_time(OTHER_ZONE) == NOW and stored_time(OTHER_ZONE).tzinfo == UTC
    assert stored_time(datetime(2026, 3, 1, 12)) == NOW
    assert optional_time(None) is None
