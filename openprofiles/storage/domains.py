"""Domains: one row each, scoped by account and region."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from openprofiles.storage.bulk import execute
from openprofiles.storage.tables import domains


@dataclass(frozen=True)
class DomainRecord:
    id: int
    account_id: str
    region: str
    name: str
    default_expiration_days: int | None
    default_encryption_key: str | None
    dead_letter_queue_url: str | None
    settings: dict[str, Any]
    created_at: datetime
    last_updated_at: datetime


@dataclass(frozen=True)
class DomainCounts:
    profiles: int
    objects: int
    total_size: int


def _record(row: Any) -> DomainRecord:
    values = dict(row._mapping)
    for counter in ("profile_count", "object_count", "total_size"):
        values.pop(counter)
    return DomainRecord(**values)


class DomainRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        account_id: str,
        region: str,
        name: str,
        *,
        default_expiration_days: int | None,
        default_encryption_key: str | None,
        dead_letter_queue_url: str | None,
        settings: dict[str, Any],
        now: datetime,
    ) -> DomainRecord:
        result = self.conn.execute(
            insert(domains).values(
                account_id=account_id,
                region=region,
                name=name,
                default_expiration_days=default_expiration_days,
                default_encryption_key=default_encryption_key,
                dead_letter_queue_url=dead_letter_queue_url,
                settings=settings,
                profile_count=0,
                object_count=0,
                total_size=0,
                created_at=now,
                last_updated_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        found = self.get_by_id(int(result.inserted_primary_key[0]))
        assert found is not None
        return found

    def get_by_id(self, domain_id: int) -> DomainRecord | None:
        row = self.conn.execute(select(domains).where(domains.c.id == domain_id)).first()
        return _record(row) if row else None

    def get(self, account_id: str, region: str, name: str) -> DomainRecord | None:
        row = self.conn.execute(
            select(domains).where(domains.c.account_id == account_id, domains.c.region == region, domains.c.name == name)
        ).first()
        return _record(row) if row else None

    def list(self, account_id: str, region: str, after: str | None, limit: int) -> list[DomainRecord]:
        """Domains ordered by name, those after `after` only."""
        query = select(domains).where(domains.c.account_id == account_id, domains.c.region == region)
        if after is not None:
            query = query.where(domains.c.name > after)
        rows = self.conn.execute(query.order_by(domains.c.name).limit(limit))
        return [_record(row) for row in rows]

    def update(self, domain_id: int, now: datetime, **values: Any) -> None:
        self.conn.execute(update(domains).where(domains.c.id == domain_id).values(last_updated_at=now, **values))

    def delete(self, domain_id: int) -> None:
        """Delete the domain and, by the foreign keys' cascade, everything stored in it."""
        self.conn.execute(delete(domains).where(domains.c.id == domain_id))

    def counts(self, domain_id: int) -> DomainCounts:
        row = self.conn.execute(
            select(domains.c.profile_count, domains.c.object_count, domains.c.total_size).where(
                domains.c.id == domain_id
            )
        ).one()
        return DomainCounts(profiles=int(row[0]), objects=int(row[1]), total_size=int(row[2]))


def count_change(conn: Connection, domain_id: int, *, profiles: int = 0, objects: int = 0, size: int = 0) -> None:
    """Move a domain's counters by these amounts (in the caller's transaction; fixed SQL, as the
    ingest path calls it for every batch)."""
    if profiles or objects or size:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        execute(
            conn,
            f"UPDATE domains SET profile_count = profile_count + {mark}, object_count = object_count + {mark}, "
            f"total_size = total_size + {mark} WHERE id = {mark}",
            (profiles, objects, size, domain_id),
        )
