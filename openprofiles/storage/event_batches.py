"""Records pushed to an Event-triggered flow: one sealed batch per execution, until its run has read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from openprofiles.storage.tables import flow_event_batches


@dataclass(frozen=True)
class EventBatchRow:
    execution_id: str
    record_count: int
    #: The records as a JSON list, sealed by the caller.
    payload: bytes
    created_at: datetime


class EventBatchRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, execution_id: str, record_count: int, payload: bytes, now: datetime) -> None:
        self.conn.execute(
            insert(flow_event_batches).values(
                execution_id=execution_id, record_count=record_count, payload=payload, created_at=now
            )
        )

    def get(self, execution_id: str) -> EventBatchRow | None:
        row = self.conn.execute(
            select(flow_event_batches).where(flow_event_batches.c.execution_id == execution_id)
        ).first()
        if row is None:
            return None
        return EventBatchRow(row.execution_id, row.record_count, bytes(row.payload), row.created_at)

    def delete(self, execution_id: str) -> None:
        self.conn.execute(delete(flow_event_batches).where(flow_event_batches.c.execution_id == execution_id))
