"""Flow executions: one row per run, with its counters and the checkpoint a resumed run starts from.

A run is owned by one process at a time through its lease: `worker` names the holder and
`heartbeat_at` is when it last renewed it. Every change of ownership, every batch and the end of a
run are compare-and-set updates on these columns, so two processes never both act on a run: a run
is claimed only when unowned (`worker` null) or when its lease has expired, and a batch or a final
status is written only by the current holder while the run is still active.

The checkpoint may carry source values (the SQL connector's is the last row's key, an e-mail
address perhaps): the runner seals it (`sealed_checkpoint`, opaque here). `checkpoint` is the
plaintext JSON an execution written before migration 0009 may still hold; the next batch clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from openprofiles.storage.tables import flow_executions

#: The statuses of a run that has not ended.
ACTIVE = ("InProgress", "CancelStarted")


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
    #: The plaintext checkpoint of a run from before migration 0009 (parsed JSON), or None.
    checkpoint: Any
    #: The checkpoint as the runner sealed it, or None.
    sealed_checkpoint: bytes | None
    worker: str | None
    heartbeat_at: datetime | None
    data_pull_start: datetime | None
    data_pull_end: datetime | None
    started_at: datetime
    last_updated_at: datetime


def _record(row: Any) -> ExecutionRecord:
    values = dict(row._mapping)
    sealed = values["sealed_checkpoint"]
    values["sealed_checkpoint"] = bytes(sealed) if sealed is not None else None
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

    def progress(self, execution_id: str, worker: str, now: datetime, *, records: int, bytes_in: int,
                 bytes_out: int, failures: int, checkpoint: bytes | None) -> bool:
        """Add a batch's counts, move the checkpoint (sealed by the caller; a plaintext one from
        before 0009 goes) and renew the lease (in the batch's own transaction); only while `worker`
        holds the run and it is InProgress. Whether it did."""
        result = self.conn.execute(
            update(flow_executions)
            .where(flow_executions.c.execution_id == execution_id, flow_executions.c.worker == worker,
                   flow_executions.c.status == "InProgress")
            .values(
                records_processed=flow_executions.c.records_processed + records,
                bytes_processed=flow_executions.c.bytes_processed + bytes_in,
                bytes_written=flow_executions.c.bytes_written + bytes_out,
                put_failures=flow_executions.c.put_failures + failures,
                sealed_checkpoint=checkpoint,
                checkpoint=None,
                heartbeat_at=now,
                last_updated_at=now,
            )
        )
        return bool(result.rowcount)

    def set_status(self, execution_id: str, status: str, now: datetime, message: str | None = None,
                   expected: list[str] | None = None) -> bool:
        """Move to `status` (only from one of `expected`, when given); whether it moved."""
        query = update(flow_executions).where(flow_executions.c.execution_id == execution_id)
        if expected is not None:
            query = query.where(flow_executions.c.status.in_(expected))
        result = self.conn.execute(query.values(status=status, message=message, last_updated_at=now))
        return bool(result.rowcount)

    # The lease.

    def claimable(self, expired_before: datetime, limit: int) -> list[str]:
        """Active runs nobody holds (unowned, or the lease last renewed before `expired_before`), oldest first."""
        rows = self.conn.execute(
            select(flow_executions.c.execution_id)
            .where(flow_executions.c.status.in_(ACTIVE), self._free(expired_before))
            .order_by(flow_executions.c.id)
            .limit(limit)
        )
        return [row.execution_id for row in rows]

    def claim(self, execution_id: str, worker: str, now: datetime, expired_before: datetime) -> bool:
        """Take the lease of an active run nobody holds; whether this call got it (compare-and-set)."""
        result = self.conn.execute(
            update(flow_executions)
            .where(flow_executions.c.execution_id == execution_id, flow_executions.c.status.in_(ACTIVE),
                   self._free(expired_before))
            .values(worker=worker, heartbeat_at=now, last_updated_at=now)
        )
        return bool(result.rowcount)

    def renew(self, execution_id: str, worker: str, now: datetime) -> bool:
        """Extend the lease `worker` holds on an active run; False when it holds it no more."""
        result = self.conn.execute(
            update(flow_executions)
            .where(flow_executions.c.execution_id == execution_id, flow_executions.c.worker == worker,
                   flow_executions.c.status.in_(ACTIVE))
            .values(heartbeat_at=now)
        )
        return bool(result.rowcount)

    def release(self, execution_id: str, worker: str) -> bool:
        """Give up the lease of an active run, so that any process may take it over at once."""
        result = self.conn.execute(
            update(flow_executions)
            .where(flow_executions.c.execution_id == execution_id, flow_executions.c.worker == worker,
                   flow_executions.c.status.in_(ACTIVE))
            .values(worker=None, heartbeat_at=None)
        )
        return bool(result.rowcount)

    def finish(self, execution_id: str, worker: str, status: str, now: datetime, message: str | None) -> bool:
        """End a run `worker` holds with its final status; False when it holds it no more or it has ended."""
        result = self.conn.execute(
            update(flow_executions)
            .where(flow_executions.c.execution_id == execution_id, flow_executions.c.worker == worker,
                   flow_executions.c.status.in_(ACTIVE))
            .values(status=status, message=message, last_updated_at=now)
        )
        return bool(result.rowcount)

    @staticmethod
    def _free(expired_before: datetime) -> Any:
        return or_(flow_executions.c.worker.is_(None), flow_executions.c.heartbeat_at.is_(None),
                   flow_executions.c.heartbeat_at < expired_before)
