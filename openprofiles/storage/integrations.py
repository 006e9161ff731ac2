"""Customer Profiles integrations: one row per domain and URI, read with the domain's name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, insert, select, update

from openprofiles.storage.tables import domains, integrations


@dataclass(frozen=True)
class IntegrationRecord:
    id: int
    domain_id: int
    domain_name: str
    uri: str
    object_type_name: str | None
    #: ObjectTypeNames (event type → object type), or None.
    object_type_names: dict[str, str] | None
    workflow_id: str | None
    is_unstructured: bool
    role_arn: str | None
    event_trigger_names: list[str] | None
    created_at: datetime
    last_updated_at: datetime
    #: Whether Customer Profiles created the flow (FlowDefinition, workflows).
    flow_created: bool = False


def _record(row: Any) -> IntegrationRecord:
    values = dict(row._mapping)
    values["is_unstructured"] = bool(values["is_unstructured"])
    values["flow_created"] = bool(values["flow_created"])
    return IntegrationRecord(**values)


def _select() -> Select[Any]:
    return select(integrations, domains.c.name.label("domain_name")).join(
        domains, domains.c.id == integrations.c.domain_id
    )


class IntegrationRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        domain_id: int,
        uri: str,
        *,
        object_type_name: str | None,
        object_type_names: dict[str, str] | None,
        role_arn: str | None,
        event_trigger_names: list[str] | None,
        now: datetime,
        workflow_id: str | None = None,
        is_unstructured: bool = False,
        flow_created: bool = False,
    ) -> IntegrationRecord:
        self.conn.execute(
            insert(integrations).values(
                domain_id=domain_id,
                uri=uri,
                object_type_name=object_type_name,
                object_type_names=object_type_names,
                workflow_id=workflow_id,
                is_unstructured=is_unstructured,
                role_arn=role_arn,
                event_trigger_names=event_trigger_names,
                flow_created=flow_created,
                created_at=now,
                last_updated_at=now,
            )
        )
        found = self.get(domain_id, uri)
        assert found is not None
        return found

    def get(self, domain_id: int, uri: str) -> IntegrationRecord | None:
        row = self.conn.execute(
            _select().where(integrations.c.domain_id == domain_id, integrations.c.uri == uri)
        ).first()
        return _record(row) if row else None

    def by_uri(self, account_id: str, region: str, uri: str, after: str | None, limit: int) -> list[IntegrationRecord]:
        """The integrations of this URI in every domain of an account and region, in domain name order."""
        query = _select().where(
            domains.c.account_id == account_id, domains.c.region == region, integrations.c.uri == uri
        )
        if after is not None:
            query = query.where(domains.c.name > after)
        return [_record(r) for r in self.conn.execute(query.order_by(domains.c.name).limit(limit))]

    def update(self, integration_id: int, now: datetime, **values: Any) -> None:
        self.conn.execute(
            update(integrations).where(integrations.c.id == integration_id).values(last_updated_at=now, **values)
        )

    def delete(self, integration_id: int) -> None:
        self.conn.execute(delete(integrations).where(integrations.c.id == integration_id))

    def list(self, domain_id: int, after: str | None, limit: int) -> list[IntegrationRecord]:
        """A domain's integrations in URI order, after `after`."""
        query = _select().where(integrations.c.domain_id == domain_id)
        if after is not None:
            query = query.where(integrations.c.uri > after)
        return [_record(r) for r in self.conn.execute(query.order_by(integrations.c.uri).limit(limit))]
