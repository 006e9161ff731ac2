"""Integration workflows and their steps (one per batch), read with the domain's name."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, insert, select, update

from openprofiles.storage.tables import domains, flow_executions, workflow_steps, workflows


@dataclass(frozen=True)
class WorkflowRecord:
    id: int
    workflow_id: str
    domain_id: int
    domain_name: str
    account_id: str
    region: str
    workflow_type: str
    status: str
    error_description: str | None
    flow_name: str
    object_type_name: str
    role_arn: str | None
    tags: dict[str, str]
    source_connector_type: str
    connector_profile_name: str | None
    deleted_at: datetime | None
    created_at: datetime
    last_updated_at: datetime


@dataclass(frozen=True)
class StepRecord:
    id: int
    workflow_id: int
    position: int
    batch_start: datetime | None
    batch_end: datetime | None
    status: str
    execution_id: str | None
    #: The step's own count once it ended; while it runs, its execution's live count.
    records_processed: int
    message: str | None
    created_at: datetime
    last_updated_at: datetime
    #: The status of the step's flow execution (None before it starts, or once the flow is gone).
    execution_status: str | None
    execution_message: str | None


def _workflow(row: Any) -> WorkflowRecord:
    values = dict(row._mapping)
    values["tags"] = values["tags"] or {}
    return WorkflowRecord(**values)


def _select() -> Select[Any]:
    return select(workflows, domains.c.name.label("domain_name"), domains.c.account_id, domains.c.region).join(
        domains, domains.c.id == workflows.c.domain_id
    )


def _steps() -> Select[Any]:
    return select(
        workflow_steps,
        flow_executions.c.status.label("execution_status"),
        flow_executions.c.message.label("execution_message"),
        flow_executions.c.records_processed.label("execution_records"),
    ).outerjoin(flow_executions, flow_executions.c.execution_id == workflow_steps.c.execution_id)


def _step(row: Any) -> StepRecord:
    values = dict(row._mapping)
    live = values.pop("execution_records")
    if values["status"] == "IN_PROGRESS" and live is not None:
        values["records_processed"] = int(live)
    return StepRecord(**values)


class WorkflowRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, workflow_id: str, domain_id: int, *, workflow_type: str, flow_name: str, object_type_name: str,
            role_arn: str | None, tags: dict[str, str], source_connector_type: str,
            connector_profile_name: str | None, batches: list[tuple[datetime | None, datetime | None]],
            now: datetime) -> None:
        """A new workflow (NOT_STARTED) with one NOT_STARTED step per batch."""
        result = self.conn.execute(
            insert(workflows).values(
                workflow_id=workflow_id, domain_id=domain_id, workflow_type=workflow_type, status="NOT_STARTED",
                flow_name=flow_name, object_type_name=object_type_name, role_arn=role_arn,
                tags=tags, source_connector_type=source_connector_type,
                connector_profile_name=connector_profile_name, created_at=now, last_updated_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        key = int(result.inserted_primary_key[0])
        self.conn.execute(insert(workflow_steps), [
            {"workflow_id": key, "position": position, "batch_start": start, "batch_end": end,
             "status": "NOT_STARTED", "records_processed": 0, "created_at": now, "last_updated_at": now}
            for position, (start, end) in enumerate(batches, 1)
        ])

    def get(self, workflow_id: str) -> WorkflowRecord | None:
        row = self.conn.execute(_select().where(workflows.c.workflow_id == workflow_id)).first()
        return _workflow(row) if row else None

    def list(self, domain_id: int, *, status: str | None, workflow_type: str | None, started_from: datetime | None,
             started_to: datetime | None, after: int | None, limit: int) -> builtins.list[WorkflowRecord]:
        """A domain's workflows, newest first (those older than the row `after`), not deleted."""
        query = _select().where(workflows.c.domain_id == domain_id, workflows.c.deleted_at.is_(None))
        if status is not None:
            query = query.where(workflows.c.status == status)
        if workflow_type is not None:
            query = query.where(workflows.c.workflow_type == workflow_type)
        if started_from is not None:
            query = query.where(workflows.c.created_at >= started_from)
        if started_to is not None:
            query = query.where(workflows.c.created_at <= started_to)
        if after is not None:
            query = query.where(workflows.c.id < after)
        return [_workflow(r) for r in self.conn.execute(query.order_by(workflows.c.id.desc()).limit(limit))]

    def unfinished(self) -> builtins.list[WorkflowRecord]:
        """Workflows still to drive: running ones, and deleted ones whose rows are still there."""
        query = _select().where(
            workflows.c.status.in_(["NOT_STARTED", "IN_PROGRESS"]) | workflows.c.deleted_at.is_not(None)
        )
        return [_workflow(r) for r in self.conn.execute(query.order_by(workflows.c.id))]

    def set_status(self, key: int, status: str, now: datetime, *, expected: builtins.list[str],
                   error: str | None = None) -> bool:
        """Move a workflow to `status` only from one of `expected`; whether it moved."""
        result = self.conn.execute(
            update(workflows).where(workflows.c.id == key, workflows.c.status.in_(expected))
            .values(status=status, error_description=error, last_updated_at=now)
        )
        return bool(result.rowcount)

    def mark_deleted(self, key: int, now: datetime) -> None:
        self.conn.execute(update(workflows).where(workflows.c.id == key).values(deleted_at=now, last_updated_at=now))

    def delete(self, key: int) -> None:
        self.conn.execute(delete(workflow_steps).where(workflow_steps.c.workflow_id == key))
        self.conn.execute(delete(workflows).where(workflows.c.id == key))

    # Steps

    def steps(self, key: int, after: int | None = None, limit: int | None = None) -> builtins.list[StepRecord]:
        """A workflow's steps in batch order (those after position `after`)."""
        query = _steps().where(workflow_steps.c.workflow_id == key)
        if after is not None:
            query = query.where(workflow_steps.c.position > after)
        query = query.order_by(workflow_steps.c.position)
        if limit is not None:
            query = query.limit(limit)
        return [_step(r) for r in self.conn.execute(query)]

    def start_step(self, step_id: int, execution_id: str, now: datetime) -> bool:
        """NOT_STARTED → IN_PROGRESS with its execution, only if no one else started it."""
        result = self.conn.execute(
            update(workflow_steps).where(workflow_steps.c.id == step_id, workflow_steps.c.status == "NOT_STARTED")
            .values(status="IN_PROGRESS", execution_id=execution_id, message="Running", last_updated_at=now)
        )
        return bool(result.rowcount)

    def end_step(self, step_id: int, status: str, records: int, message: str, now: datetime) -> bool:
        """IN_PROGRESS → COMPLETE / FAILED / CANCELLED with its final count; whether it moved."""
        result = self.conn.execute(
            update(workflow_steps).where(workflow_steps.c.id == step_id, workflow_steps.c.status == "IN_PROGRESS")
            .values(status=status, records_processed=records, message=message, last_updated_at=now)
        )
        return bool(result.rowcount)

    def cancel_steps(self, key: int, now: datetime) -> None:
        """Steps not yet ended become CANCELLED."""
        self.conn.execute(
            update(workflow_steps)
            .where(workflow_steps.c.workflow_id == key, workflow_steps.c.status.in_(["NOT_STARTED", "IN_PROGRESS"]))
            .values(status="CANCELLED", message="Cancelled", last_updated_at=now)
        )
