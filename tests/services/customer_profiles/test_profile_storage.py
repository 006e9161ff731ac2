"""What the profile store keeps: no plaintext at rest, and one profile per new key under
concurrent writers. Through boto3 against the live server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from openprofiles.storage.database import Database
from tests.conftest import LiveServer

PROFILE_TABLES = ("profiles", "profile_keys", "profile_objects", "profile_history", "dead_letters")


def _domain(cp: Any, name: str) -> str:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    return name


def _database_url(live: LiveServer) -> str:
    return live.server.database_url or f"sqlite:///{live.server.data_dir / 'openprofiles.db'}"


def _column_values(live: LiveServer, tables: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """("table.column", value as bytes) for every text or binary value of these tables."""
    db = Database(_database_url(live))
    out: list[tuple[str, bytes]] = []
    try:
        with db.read() as conn:
            for table in tables:
                if db.dialect == "postgresql":
                    columns = [r[0] for r in conn.execute(text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = :t AND data_type IN "
                        "('bytea', 'text', 'character varying', 'character', 'json', 'jsonb')"), {"t": table})]
                else:
                    columns = [r[1] for r in conn.execute(text(f"PRAGMA table_info({table})"))]
                assert columns, table
                for column in columns:
                    for (value,) in conn.execute(text(f'SELECT "{column}" FROM {table}')):
                        if value is None:
                            continue
                        raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                        out.append((f"{table}.{column}", raw))
    finally:
        db.dispose()
    return out


def test_no_plaintext_at_rest(live: LiveServer, cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="Secrets", Description="d", AllowProfileCreation=True,
        EncryptionKey="secrets-type-key",  # the type's objects are sealed under a data key of their own
        Fields={
            "id": {"Source": "_source.id"},
            "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
            "phone": {"Source": "_source.phone", "Target": "_profile.PhoneNumber", "ContentType": "PHONE_NUMBER"},
            "first": {"Source": "_source.first", "Target": "_profile.FirstName", "ContentType": "NAME"},
        },
        Keys={"secretId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
              "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
              "_phone": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["phone"]}]},
    )
    email, phone, first = "Quillon.Zephyrine@example.org", "(206) 555-0187", "Quillonetta"
    cp.put_profile_object(DomainName=domain, ObjectTypeName="Secrets",
                          Object=json.dumps({"id": "s-1", "email": email, "phone": phone, "first": first}))
    # A profile made by hand, a key added by hand, a rejected object: no plaintext either.
    pid = cp.create_profile(DomainName=domain, FirstName="Handmadeira", EmailAddress="hand.zq@example.org")["ProfileId"]
    cp.add_profile_key(DomainName=domain, ProfileId=pid, KeyName="loyalty", Values=["LoyaltyXyzzy"])
    with pytest.raises(cp.exceptions.BadRequestException):  # no value for the UNIQUE key
        cp.put_profile_object(DomainName=domain, ObjectTypeName="Secrets",
                              Object=json.dumps({"email": "rejected.zq@example.org", "first": "Deadlettera"}))
    (profile,) = cp.search_profiles(DomainName=domain, KeyName="_email", Values=[email])["Items"]
    assert (profile["FirstName"], profile["PhoneNumber"]) == (first, "+12065550187")
    (stored,) = cp.list_profile_objects(DomainName=domain, ProfileId=profile["ProfileId"],
                                        ObjectTypeName="Secrets")["Items"]
    assert json.loads(stored["Object"])["email"] == email

    secrets = [email, email.lower(), phone, "+12065550187", "2065550187", first, "Handmadeira",
               "hand.zq@example.org", "LoyaltyXyzzy", "rejected.zq@example.org", "Deadlettera"]
    values = _column_values(live, PROFILE_TABLES)
    assert any(column == "profiles.document" for column, _ in values)
    for column, raw in values:
        for secret in secrets:
            assert secret.encode() not in raw, (column, secret)
            assert secret.encode("utf-16-le") not in raw, (column, secret)

    if live.backend == "sqlite":
        db_file = Path(live.server.data_dir / "openprofiles.db")
        files = [p for p in (db_file, Path(f"{db_file}-wal")) if p.exists()]
        data = b"".join(p.read_bytes() for p in files)
        assert len(data) > 0
        assert b"secretId" in data  # the file is readable as is: the object type definition is there
        for secret in secrets:
            assert secret.encode() not in data, secret


def test_concurrent_writers_create_one_profile_per_new_key(live: LiveServer, cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="Events", Description="d", AllowProfileCreation=True,
        Fields={"id": {"Source": "_source.id"},
                "email": {"Source": "_source.email", "Target": "_profile.EmailAddress",
                          "ContentType": "EMAIL_ADDRESS"}},
        Keys={"eventId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
              "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]},
    )
    writers = 4
    rounds = 5
    clients = [live.client() for _ in range(writers)]
    for round_no in range(rounds):
        email = f"race{round_no}@example.com"
        barrier = threading.Barrier(writers)
        errors: list[BaseException] = []

        def write(client: Any, n: int, email: str = email, barrier: threading.Barrier = barrier,
                  errors: list[BaseException] = errors, round_no: int = round_no) -> None:
            try:
                barrier.wait(timeout=10)
                client.put_profile_object(DomainName=domain, ObjectTypeName="Events",
                                          Object=json.dumps({"id": f"{round_no}-{n}", "email": email}))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(clients[n], n)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        found = cp.search_profiles(DomainName=domain, KeyName="_email", Values=[email])["Items"]
        assert len(found) == 1, (round_no, [p["ProfileId"] for p in found])
        objects = cp.list_profile_objects(DomainName=domain, ProfileId=found[0]["ProfileId"],
                                          ObjectTypeName="Events")["Items"]
        assert len(objects) == writers
    stats = cp.get_domain(DomainName=domain)["Stats"]
    assert (stats["ProfileCount"], stats["ObjectCount"]) == (rounds, rounds * writers)
