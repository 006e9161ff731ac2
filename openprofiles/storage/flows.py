"""AppFlow flows: one row each, scoped by account and region; their newest executions; and the
little a flow needs to know of connector profiles (their type and label)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from openprofiles.storage.tables import connector_profiles, flow_executions, flows


@dataclass(frozen=True)
class FlowRecord:
    id: int
    account_id: str
    region: str
    name: str
    #: The CreateFlow/UpdateFlow members as sent, tags and clientToken aside (JSON: timestamps
    #: are ISO 8601 strings).
    definition: dict[str, Any]
    status: str
    status_message: str | None
    client_token: str | None
    created_by: str | None
    consecutive_failures: int
    next_run_at: datetime | None
    cursor: Any
    created_at: datetime
    last_updated_at: datetime


@dataclass(frozen=True)
class ExecutionSummary:
    """The newest execution of a flow, as DescribeFlow's lastRunExecutionDetails shows it."""

    execution_id: str
    status: str
    message: str | None
    started_at: datetime
    last_updated_at: datetime


@dataclass(frozen=True)
class ConnectorProfileRef:
    name: str
    connector_type: str
    connector_label: str | None


def _record(row: Any) -> FlowRecord:
    values = dict(row._mapping)
    values["consecutive_failures"] = int(values["consecutive_failures"] or 0)
    return FlowRecord(**values)


class FlowRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        account_id: str,
        region: str,
        name: str,
        *,
        definition: dict[str, Any],
        status: str,
        client_token: str | None,
        created_by: str | None,
        now: datetime,
        next_run_at: datetime | None = None,
    ) -> FlowRecord:
        result = self.conn.execute(
            insert(flows).values(
                account_id=account_id,
                region=region,
                name=name,
                definition=definition,
                status=status,
                status_message=None,
                client_token=client_token,
                created_by=created_by,
                consecutive_failures=0,
                next_run_at=next_run_at,
                cursor=None,
                created_at=now,
                last_updated_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        found = self.get_by_id(int(result.inserted_primary_key[0]))
        assert found is not None
        return found

    def get_by_id(self, flow_id: int) -> FlowRecord | None:
        row = self.conn.execute(select(flows).where(flows.c.id == flow_id)).first()
        return _record(row) if row else None

    def get(self, account_id: str, region: str, name: str) -> FlowRecord | None:
        row = self.conn.execute(
            select(flows).where(flows.c.account_id == account_id, flows.c.region == region, flows.c.name == name)
        ).first()
        return _record(row) if row else None

    def by_client_token(self, account_id: str, region: str, token: str) -> FlowRecord | None:
        """The caller's flow whose last create or update carried this clientToken."""
        row = self.conn.execute(
            select(flows)
            .where(flows.c.account_id == account_id, flows.c.region == region, flows.c.client_token == token)
            .order_by(flows.c.id.desc())
        ).first()
        return _record(row) if row else None

    def list(self, account_id: str, region: str, after: str | None, limit: int) -> list[FlowRecord]:
        """Flows ordered by name, those after `after` only."""
        query = select(flows).where(flows.c.account_id == account_id, flows.c.region == region)
        if after is not None:
            query = query.where(flows.c.name > after)
        rows = self.conn.execute(query.order_by(flows.c.name).limit(limit))
        return [_record(row) for row in rows]

    def update(self, flow_id: int, now: datetime, **values: Any) -> None:
        """Change these columns (`definition` and `cursor` as Python values) and last_updated_at."""
        self.conn.execute(update(flows).where(flows.c.id == flow_id).values(last_updated_at=now, **values))

    def due(self, now: datetime, limit: int = 100) -> builtins.list[FlowRecord]:
        """Active flows whose next scheduled run time has come."""
        rows = self.conn.execute(
            select(flows)
            .where(flows.c.status == "Active", flows.c.next_run_at.is_not(None), flows.c.next_run_at <= now)
            .order_by(flows.c.next_run_at)
            .limit(limit)
        )
        return [_record(row) for row in rows]

    def claim_run(self, flow_id: int, expected: datetime, following: datetime | None, now: datetime) -> bool:
        """Move a flow's next run time from `expected` to `following`, only if no one else did:
        the one process whose update succeeds fires the run."""
        result = self.conn.execute(
            update(flows)
            .where(flows.c.id == flow_id, flows.c.next_run_at == expected)
            .values(next_run_at=following, last_updated_at=now)
        )
        return bool(result.rowcount)

    def delete(self, flow_id: int) -> None:
        """Delete the flow and its executions."""
        self.conn.execute(delete(flow_executions).where(flow_executions.c.flow_id == flow_id))
        self.conn.execute(delete(flows).where(flows.c.id == flow_id))

    # Executions (read side)

    def has_execution_in(self, flow_id: int, statuses: Iterable[str]) -> bool:
        row = self.conn.execute(
            select(flow_executions.c.id)
            .where(flow_executions.c.flow_id == flow_id, flow_executions.c.status.in_(list(statuses)))
            .limit(1)
        ).first()
        return row is not None

    def last_executions(self, flow_ids: Iterable[int]) -> dict[int, ExecutionSummary]:
        """The newest execution of each of these flows that has one."""
        wanted = list(flow_ids)
        if not wanted:
            return {}
        newest = (
            select(func.max(flow_executions.c.id))
            .where(flow_executions.c.flow_id.in_(wanted))
            .group_by(flow_executions.c.flow_id)
        )
        rows = self.conn.execute(select(flow_executions).where(flow_executions.c.id.in_(newest)))
        return {
            int(row.flow_id): ExecutionSummary(
                execution_id=row.execution_id,
                status=row.status,
                message=row.message,
                started_at=row.started_at,
                last_updated_at=row.last_updated_at,
            )
            for row in rows
        }

    # Connector profiles (read side)

    def connector_profiles(self, account_id: str, region: str, names: Iterable[str]) -> dict[str, ConnectorProfileRef]:
        """The caller's connector profiles of these names that exist, by name."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        rows = self.conn.execute(
            select(connector_profiles.c.name, connector_profiles.c.connector_type, connector_profiles.c.connector_label)
            .where(
                connector_profiles.c.account_id == account_id,
                connector_profiles.c.region == region,
                connector_profiles.c.name.in_(wanted),
            )
        )
        return {row.name: ConnectorProfileRef(row.name, row.connector_type, row.connector_label) for row in rows}
