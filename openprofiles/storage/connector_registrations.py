"""AppFlow custom connector registrations: one row per account, region and connector label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from openprofiles.storage.tables import connector_profiles, connector_registrations


@dataclass(frozen=True)
class ConnectorRegistrationRecord:
    id: int
    account_id: str
    region: str
    label: str
    entry_point: str
    lambda_arn: str
    description: str | None
    client_token: str | None
    registered_by: str
    registered_at: datetime
    last_updated_at: datetime


def _record(row: Any) -> ConnectorRegistrationRecord:
    return ConnectorRegistrationRecord(**dict(row._mapping))


class ConnectorRegistrationRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, account_id: str, region: str, label: str) -> ConnectorRegistrationRecord | None:
        row = self.conn.execute(
            select(connector_registrations).where(
                connector_registrations.c.account_id == account_id,
                connector_registrations.c.region == region,
                connector_registrations.c.label == label,
            )
        ).first()
        return _record(row) if row else None

    def by_client_token(self, account_id: str, region: str, token: str) -> ConnectorRegistrationRecord | None:
        row = self.conn.execute(
            select(connector_registrations).where(
                connector_registrations.c.account_id == account_id,
                connector_registrations.c.region == region,
                connector_registrations.c.client_token == token,
            )
        ).first()
        return _record(row) if row else None

    def all(self, account_id: str, region: str) -> list[ConnectorRegistrationRecord]:
        rows = self.conn.execute(
            select(connector_registrations)
            .where(connector_registrations.c.account_id == account_id, connector_registrations.c.region == region)
            .order_by(connector_registrations.c.label)
        )
        return [_record(row) for row in rows]

    def add(self, account_id: str, region: str, label: str, *, entry_point: str, lambda_arn: str,
            description: str | None, client_token: str | None, registered_by: str,
            now: datetime) -> ConnectorRegistrationRecord:
        self.conn.execute(
            insert(connector_registrations).values(
                account_id=account_id, region=region, label=label, entry_point=entry_point, lambda_arn=lambda_arn,
                description=description, client_token=client_token, registered_by=registered_by,
                registered_at=now, last_updated_at=now,
            )
        )
        found = self.get(account_id, region, label)
        assert found is not None
        return found

    def update(self, registration_id: int, now: datetime, **values: Any) -> None:
        """Set entry_point, lambda_arn, description and/or client_token."""
        self.conn.execute(
            update(connector_registrations)
            .where(connector_registrations.c.id == registration_id)
            .values(last_updated_at=now, **values)
        )

    def delete(self, registration_id: int) -> None:
        self.conn.execute(delete(connector_registrations).where(connector_registrations.c.id == registration_id))

    def profiles_using(self, account_id: str, region: str, label: str) -> list[str]:
        """Names of the connector profiles of the CustomConnector with this label."""
        rows = self.conn.execute(
            select(connector_profiles.c.name)
            .where(
                connector_profiles.c.account_id == account_id,
                connector_profiles.c.region == region,
                connector_profiles.c.connector_type == "CustomConnector",
                connector_profiles.c.connector_label == label,
            )
            .order_by(connector_profiles.c.name)
        )
        return [row.name for row in rows]
