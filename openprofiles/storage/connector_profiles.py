"""AppFlow connector profiles: one row each per account and region; credentials sealed by the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from openprofiles.storage.tables import connector_profiles, flows


@dataclass(frozen=True)
class ConnectorProfileRecord:
    id: int
    account_id: str
    region: str
    name: str
    connector_type: str
    connector_label: str | None
    connection_mode: str
    properties: dict[str, Any]
    credentials: bytes | None
    kms_arn: str | None
    created_at: datetime
    last_updated_at: datetime


def _record(row: Any) -> ConnectorProfileRecord:
    values = dict(row._mapping)
    if values["credentials"] is not None:
        values["credentials"] = bytes(values["credentials"])
    return ConnectorProfileRecord(**values)


class ConnectorProfileRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, account_id: str, region: str, name: str) -> ConnectorProfileRecord | None:
        row = self.conn.execute(
            select(connector_profiles).where(
                connector_profiles.c.account_id == account_id,
                connector_profiles.c.region == region,
                connector_profiles.c.name == name,
            )
        ).first()
        return _record(row) if row else None

    def page(self, account_id: str, region: str, after: str | None, limit: int,
             names: list[str] | None = None, connector_type: str | None = None,
             label: str | None = None) -> list[ConnectorProfileRecord]:
        query = select(connector_profiles).where(
            connector_profiles.c.account_id == account_id, connector_profiles.c.region == region
        )
        if names:
            query = query.where(connector_profiles.c.name.in_(names))
        if connector_type:
            query = query.where(connector_profiles.c.connector_type == connector_type)
        if label:
            query = query.where(connector_profiles.c.connector_label == label)
        if after is not None:
            query = query.where(connector_profiles.c.name > after)
        rows = self.conn.execute(query.order_by(connector_profiles.c.name).limit(limit))
        return [_record(row) for row in rows]

    def add(self, account_id: str, region: str, name: str, *, connector_type: str, label: str | None,
            connection_mode: str, properties: dict[str, Any], credentials: bytes | None, kms_arn: str | None,
            now: datetime) -> ConnectorProfileRecord:
        self.conn.execute(
            insert(connector_profiles).values(
                account_id=account_id, region=region, name=name, connector_type=connector_type,
                connector_label=label, connection_mode=connection_mode,
                properties=properties, credentials=credentials, kms_arn=kms_arn,
                created_at=now, last_updated_at=now,
            )
        )
        found = self.get(account_id, region, name)
        assert found is not None
        return found

    def update(self, profile_id: int, *, connection_mode: str, properties: dict[str, Any],
               credentials: bytes | None, now: datetime) -> None:
        self.conn.execute(
            update(connector_profiles)
            .where(connector_profiles.c.id == profile_id)
            .values(connection_mode=connection_mode, properties=properties,
                    credentials=credentials, last_updated_at=now)
        )

    def delete(self, profile_id: int) -> None:
        self.conn.execute(delete(connector_profiles).where(connector_profiles.c.id == profile_id))

    def flows_using(self, account_id: str, region: str, name: str) -> list[str]:
        """Names of the caller's flows whose source or destination uses this connector profile."""
        rows = self.conn.execute(
            select(flows.c.name, flows.c.definition).where(flows.c.account_id == account_id, flows.c.region == region)
        )
        out = []
        for row in rows:
            definition = row.definition
            configs = [definition.get("sourceFlowConfig") or {}, *(definition.get("destinationFlowConfigList") or [])]
            if any(c.get("connectorProfileName") == name for c in configs):
                out.append(row.name)
        return out
