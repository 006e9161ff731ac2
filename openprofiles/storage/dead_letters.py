"""Dead letters: objects that could not be ingested, with the reason, kept durably."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from openprofiles.storage.tables import dead_letters, domains

#: queue_state values: no queue configured, waiting to be sent, sent.
NO_QUEUE, PENDING, SENT = "none", "pending", "sent"


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    domain_id: int
    object_type_name: str
    source: str
    reason: str
    payload: bytes
    created_at: datetime
    queue_state: str
    queue_attempts: int
    queue_error: str | None
    redriven_at: datetime | None


@dataclass(frozen=True)
class NewDeadLetter:
    object_type_name: str
    source: str
    reason: str
    payload: bytes


def _row(row: Any) -> DeadLetterRow:
    values = dict(row._mapping)
    values["payload"] = bytes(values["payload"])
    return DeadLetterRow(**values)


class DeadLetterRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, domain_id: int, letters: Sequence[NewDeadLetter], now: datetime, queued: bool) -> None:
        if letters:
            self.conn.execute(
                insert(dead_letters),
                [
                    {
                        "domain_id": domain_id,
                        "object_type_name": d.object_type_name,
                        "source": d.source,
                        "reason": d.reason,
                        "payload": d.payload,
                        "created_at": now,
                        "queue_state": PENDING if queued else NO_QUEUE,
                        "queue_attempts": 0,
                    }
                    for d in letters
                ],
            )

    def get(self, letter_id: int) -> DeadLetterRow | None:
        row = self.conn.execute(select(dead_letters).where(dead_letters.c.id == letter_id)).first()
        return _row(row) if row else None

    def page(self, domain_id: int | None, after: int | None, limit: int) -> list[DeadLetterRow]:
        query = select(dead_letters)
        if domain_id is not None:
            query = query.where(dead_letters.c.domain_id == domain_id)
        if after is not None:
            query = query.where(dead_letters.c.id > after)
        return [_row(r) for r in self.conn.execute(query.order_by(dead_letters.c.id).limit(limit))]

    def pending(self, limit: int) -> list[tuple[DeadLetterRow, str, str]]:
        """Letters waiting for their domain's queue, with the queue URL and the domain name."""
        rows = self.conn.execute(
            select(dead_letters, domains.c.dead_letter_queue_url, domains.c.name.label("domain_name"))
            .join(domains, domains.c.id == dead_letters.c.domain_id)
            .where(dead_letters.c.queue_state == PENDING)
            .order_by(dead_letters.c.id)
            .limit(limit)
        )
        out = []
        for row in rows:
            values = dict(row._mapping)
            url = values.pop("dead_letter_queue_url")
            name = values.pop("domain_name")
            values["payload"] = bytes(values["payload"])
            out.append((DeadLetterRow(**values), url, name))
        return out

    def mark(self, letter_id: int, state: str, error: str | None = None) -> None:
        self.conn.execute(
            update(dead_letters)
            .where(dead_letters.c.id == letter_id)
            .values(queue_state=state, queue_error=error, queue_attempts=dead_letters.c.queue_attempts + 1)
        )

    def mark_redriven(self, letter_id: int, now: datetime) -> None:
        self.conn.execute(update(dead_letters).where(dead_letters.c.id == letter_id).values(redriven_at=now))
