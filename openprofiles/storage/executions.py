"""Flow executions: one row per run, with its counters and the checkpoint a resumed run starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from openprofiles.storage.tables import flow_executions


@dataclass(frozen=True)
class ExecutionRecord:
    id: int
    flow_id: int
    execution_id: str
    trigger: str
    status: str
    message: str | None
    records_processed: int
    bytes_processed: int
    bytes_written: int
    put_failures: int
    checkpoint: Any
    worker: str | None
    heartbeat_at: datetime | None
    data_pull_start: datetime | None
    data_pull_end: datetime | None
    started_at: datetime
    last_updated_at: datetime


def _record(row: Any) -> ExecutionRecord:
    values = dict(row._mapping)
    values["checkpoint"] = orjson.loads(values["checkpoint"]) if values["checkpoint"] else None
    return ExecutionRecord(**values)


class ExecutionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, flow_id: int, execution_id: str, trigger: str, now: datetime,
            data_pull_start: datetime | None, data_pull_end: datetime | None) -> None:
        self.conn.execute(
            insert(flow_executions).values(
                flow_id=flow_id, execution_id=execution_id, trigger=trigger, status="InProgress",
                records_processed=0, bytes_processed=0, bytes_written=0, put_failures=0,
                data_pull_start=data_pull_start, data_pull_end=data_pull_end, started_at=now, last_updated_at=now,
            )
        )

    def get(self, execution_id: str) -> ExecutionRecord | None:
        row = self.conn.execute(select(flow_executions).where(flow_executions.c.execution_id == execution_id)).first()
        return _record(row) if row else None

    def page(self, flow_id: int, after: int | None, limit: int) -> list[ExecutionRecord]:
        """Newest first."""
        query = select(flow_executions).where(flow_executions.c.flow_id == flow_id)
        if after is not None:
            query = query.where(flow_executions.c.id < after)
        return [_record(r) for r in self.conn.execute(query.order_by(flow_executions.c.id.desc()).limit(limit))]

    def in_status(self, statuses: list[str], flow_id: int | None = None) -> list[ExecutionRecord]:
        query = select(flow_executions).where(flow_executions.c.status.in_(statuses))
        if flow_id is not None:
            query = query.where(flow_executions.c.flow_id == flow_id)
        return [_record(r) for r in self.conn.execute(query.order_by(flow_executions.c.id))]

    def progress(self, execution_id: str, now: datetime, *, records: int, bytes_in: int, bytes_out: int,
                 failures: int, checkpoint: Any) -> None:
        """Add a batch's counts and move the checkpoint (in the batch's own transaction)."""
        self.conn.execute(
            update(flow_executions)
            .where(flow_executions.c.execution_id == execution_id)
            .values(
                records_processed=flow_executions.c.records_processed + records,
                bytes_processed=flow_executions.c.bytes_processed + bytes_in,
                bytes_written=flow_executions.c.bytes_written + bytes_out,
                put_failures=flow_executions.c.put_failures + failures,
                checkpoint=orjson.dumps(checkpoint).decode() if checkpoint is not None else None,
                heartbeat_at=now,
                last_updated_at=now,
            )
        )

    def set_status(self, execution_id: str, status: str, now: datetime, message: str | None = None,
                   expected: list[str] | None = None) -> bool:
        """Move to `status` (only from one of `expected`, when given); whether it moved."""
        query = update(flow_executions).where(flow_executions.c.execution_id == execution_id)
        if expected is not None:
            query = query.where(flow_executions.c.status.in_(expected))
        result = self.conn.execute(query.values(status=status, message=message, last_updated_at=now))
        return bool(result.rowcount)

    def claim(self, execution_id: str, worker: str, now: datetime) -> None:
        self.conn.execute(
            update(flow_executions)
            .where(flow_executions.c.execution_id == execution_id)
            .values(worker=worker, heartbeat_at=now, last_updated_at=now)
        )
