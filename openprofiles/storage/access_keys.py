"""Access key pairs (their secrets sealed by the caller) and their state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from openprofiles.storage.tables import access_keys


@dataclass(frozen=True)
class AccessKeyRecord:
    access_key_id: str
    account_id: str
    secret_ciphertext: bytes
    active: bool
    created_at: datetime
    revoked_at: datetime | None


class AccessKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, access_key_id: str, account_id: str, secret_ciphertext: bytes, now: datetime) -> None:
        self.conn.execute(
            insert(access_keys).values(
                access_key_id=access_key_id,
                account_id=account_id,
                secret_ciphertext=secret_ciphertext,
                active=True,
                created_at=now,
            )
        )

    def get(self, access_key_id: str) -> AccessKeyRecord | None:
        row = self.conn.execute(select(access_keys).where(access_keys.c.access_key_id == access_key_id)).first()
        return AccessKeyRecord(**row._mapping) if row else None

    def list(self) -> list[AccessKeyRecord]:
        rows = self.conn.execute(select(access_keys).order_by(access_keys.c.created_at, access_keys.c.access_key_id))
        return [AccessKeyRecord(**row._mapping) for row in rows]

    def revoke(self, access_key_id: str, now: datetime) -> bool:
        result = self.conn.execute(
            update(access_keys)
            .where(access_keys.c.access_key_id == access_key_id, access_keys.c.active.is_(True))
            .values(active=False, revoked_at=now)
        )
        return result.rowcount == 1

    def count(self) -> int:
        return len(self.conn.execute(select(access_keys.c.access_key_id)).all())
