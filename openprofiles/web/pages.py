"""What each console page shows, read through the services (the same calls as the command line)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from openprofiles.context import RequestContext
from openprofiles.services.appflow.flows import Flow, FlowService, trigger_type
from openprofiles.services.customer_profiles.domains import Domain, DomainService
from openprofiles.services.customer_profiles.integrations import IntegrationService

_PAGE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class LastRun:
    """A flow's newest execution, as the pages show it."""

    status: str
    message: str | None
    started_at: datetime


@dataclass(frozen=True)
class FlowRow:
    name: str
    trigger_type: str
    status: str
    status_message: str | None
    source: str | None
    #: The Customer Profiles domain the flow delivers to, if any.
    domain: str | None
    last_run: LastRun | None


@dataclass(frozen=True)
class IntegrationRow:
    uri: str
    flow_name: str
    #: ObjectTypeName, or `event=type` pairs of ObjectTypeNames.
    object_types: list[str]
    #: PENDING until the flow's first successful run, ACTIVE after.
    status: str
    #: None when the flow no longer exists.
    flow: FlowRow | None
    created_at: datetime


def _all(page: Callable[[str | None], list[T]], key: Callable[[T], str]) -> list[T]:
    """Every item of a name-ordered listing, page by page."""
    items: list[T] = []
    while True:
        batch = page(key(items[-1]) if items else None)
        items += batch
        if len(batch) < _PAGE:
            return items


def _flow_row(flow: Flow) -> FlowRow:
    definition = flow.record.definition
    source = definition.get("sourceFlowConfig") or {}
    destination = (definition.get("destinationFlowConfigList") or [{}])[0]
    profiles = (destination.get("destinationConnectorProperties") or {}).get("CustomerProfiles") or {}
    return FlowRow(
        name=flow.name,
        trigger_type=trigger_type(definition),
        status=flow.status,
        status_message=flow.record.status_message,
        source=flow.label_of(source) or source.get("connectorType"),
        domain=profiles.get("domainName"),
        last_run=LastRun(run.status, run.message, run.started_at) if (run := flow.last_run) else None,
    )


class Pages:
    def __init__(self, domains: DomainService, integrations: IntegrationService, flows: FlowService) -> None:
        self.domains = domains
        self.integrations = integrations
        self.flows = flows

    def domain_list(self, ctx: RequestContext) -> list[Domain]:
        return _all(lambda after: self.domains.list(ctx, after, _PAGE), lambda d: d.name)

    def flow_list(self, ctx: RequestContext) -> list[FlowRow]:
        return [_flow_row(f) for f in _all(lambda after: self.flows.list(ctx, after, _PAGE), lambda f: f.name)]

    def integration_list(self, ctx: RequestContext, domain_name: str) -> list[IntegrationRow]:
        """A domain's integrations with their state and their flow's; NotFound for an unknown domain."""
        states = self.integrations.states(ctx, domain_name)
        flows = {row.name: row for row in self.flow_list(ctx)} if states else {}
        rows = []
        for state in states:
            record = state.integration.record
            flow_name = record.uri.rsplit("/", 1)[-1]
            names = record.object_type_names
            rows.append(IntegrationRow(
                uri=record.uri,
                flow_name=flow_name,
                object_types=[f"{k}={v}" for k, v in sorted(names.items())] if names else [str(record.object_type_name)],
                status=state.status,
                flow=flows.get(flow_name) if state.flow_status is not None else None,
                created_at=record.created_at,
            ))
        return rows
