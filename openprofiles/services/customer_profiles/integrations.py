"""Integrations: a domain's link to an AppFlow flow, named by the flow's ARN (the Uri), and the
object type(s) the flow's records are mapped with.

Rules (docs/integrations.md states them in prose):

- the Uri is the ARN of an AppFlow flow of the caller's account and region; the flow must exist
  and deliver to this domain (its CustomerProfiles destination);
- a flow created more than 14 days before the integration is created has expired (the console's
  rule): create a new flow;
- the mapping (ObjectTypeName, or ObjectTypeNames for event-typed sources) must resolve in the
  domain (object types or templates) and never changes once the integration exists; putting the
  same mapping again updates tags, RoleArn, EventTriggerNames and LastUpdatedAt;
- a flow whose destination names no objectTypeName runs with the mapping (ObjectTypeNames by each
  record's eventType); one that names one runs with its own (flows/engine.py `routing`);
- with FlowDefinition (instead of Uri) Customer Profiles creates the AppFlow flow itself, checked by
  the same rules as CreateFlow, and starts it as StartFlow would; the flow's ARN is the Uri, and
  deleting the integration deletes that flow;
- an integration is PENDING until its flow's first successful run and ACTIVE after (`status`):
  the API has no member for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from openprofiles.context import RequestContext
from openprofiles.errors import AlreadyExists, Conflict, Invalid, NotFound
from openprofiles.services.appflow.executions import FlowRunner
from openprofiles.services.appflow.flows import DESTINATION, Flow, FlowService, flow_arn
from openprofiles.services.arns import PARTITION, Arn, parse_arn
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.flow_definitions import checked, create_flow_request
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.integrations import IntegrationRecord
from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.store import Store, UnitOfWork

#: A flow older than this when an integration is created has expired (console rule).
FLOW_EXPIRY = timedelta(days=14)
#: Integration states, as the console shows them.
PENDING, ACTIVE = "PENDING", "ACTIVE"


def integration_arn(region: str, account_id: str, domain: str, flow_name: str) -> str:
    return str(Arn(PARTITION, "profile", region, account_id, f"domains/{domain}/integrations/{flow_name}"))


@dataclass(frozen=True)
class Integration:
    record: IntegrationRecord
    tags: dict[str, str]


@dataclass(frozen=True)
class IntegrationState:
    """An integration as the command line shows it."""

    integration: Integration
    #: PENDING until its flow's first successful run, ACTIVE after.
    status: str
    #: The flow's AppFlow status, or None when the flow no longer exists.
    flow_status: str | None


@dataclass(frozen=True)
class IntegrationRequest:
    """What PutIntegration asks for."""

    uri: str | None
    object_type_name: str | None = None
    object_type_names: Mapping[str, str] | None = None
    tags: Mapping[str, str] | None = None
    role_arn: str | None = None
    event_trigger_names: list[str] | None = None
    flow_definition: Mapping[str, Any] | None = None


def integration_exists(uow: UnitOfWork, arn: Arn) -> bool:
    """Tag resolver for `arn:…:profile:…:domains/D/integrations/FLOW`."""
    parts = arn.resource.split("/")
    if len(parts) != 4 or parts[2] != "integrations":
        return False
    domain = uow.domains.get(arn.account_id, arn.region, parts[1])
    uri = f"arn:{arn.partition}:appflow:{arn.region}:{arn.account_id}:flow/{parts[3]}"
    return domain is not None and uow.integrations.get(domain.id, uri) is not None


def _flow_name(ctx: RequestContext, uri: str) -> str:
    """The name of the caller's flow a Uri names; Invalid for any other Uri."""
    arn = parse_arn(uri)
    kind, _, name = arn.resource.partition("/") if arn is not None else ("", "", "")
    if arn is None or arn.service != "appflow" or kind != "flow" or not name:
        raise Invalid(
            f"Uri {uri} is not an AppFlow flow ARN (arn:aws:appflow:{ctx.region}:{ctx.account_id}:flow/NAME)"
        )
    if arn.account_id != ctx.account_id or arn.region != ctx.region:
        raise Invalid(f"Uri {uri} names a flow of another account or region than the caller's")
    return name


def _tag_arn(ctx: RequestContext, record: IntegrationRecord) -> str:
    name = record.uri.rsplit("/", 1)[-1]
    return integration_arn(ctx.region, ctx.account_id, record.domain_name, name)


def _describe_mapping(name: str | None, names: Mapping[str, str] | None) -> str:
    if names is not None:
        return "ObjectTypeNames " + ", ".join(f"{k}={v}" for k, v in sorted(names.items()))
    return f"ObjectTypeName {name}"


class IntegrationService:
    def __init__(self, store: Store, domains: DomainService, object_types: ObjectTypeService,
                 flows: FlowService, runner: FlowRunner) -> None:
        self.store = store
        self.domains = domains
        self.object_types = object_types
        self.flows = flows
        self.runner = runner

    # Checks

    def _flow(self, ctx: RequestContext, domain: DomainRecord, uri: str) -> Flow:
        name = _flow_name(ctx, uri)
        try:
            flow = self.flows.get(ctx, name)
        except NotFound:
            raise Invalid(f"Flow {name} (Uri {uri}) does not exist") from None
        destinations = flow.record.definition.get("destinationFlowConfigList") or []
        target = None
        if destinations and destinations[0].get("connectorType") == DESTINATION:
            properties = destinations[0].get("destinationConnectorProperties") or {}
            target = (properties.get(DESTINATION) or {}).get("domainName")
        if target != domain.name:
            where = f"domain {target}" if target else "no Customer Profiles domain"
            raise Invalid(
                f"Flow {name} delivers to {where}, not to domain {domain.name}: an integration needs a flow "
                f"whose destination is {DESTINATION} with domainName {domain.name}"
            )
        return flow

    @staticmethod
    def _check_fresh(ctx: RequestContext, flow: Flow) -> None:
        created = flow.record.created_at
        if ctx.now - created > FLOW_EXPIRY:
            raise Invalid(
                f"Flow {flow.name} was created at {created.isoformat()}, more than 14 days ago: it has expired "
                "for new integrations; create a new flow and pass its ARN as Uri"
            )

    def _check_mapping(self, domain: DomainRecord, request: IntegrationRequest) -> None:
        if request.object_type_name is None and not request.object_type_names:
            raise Invalid("PutIntegration needs ObjectTypeName, or ObjectTypeNames for event-typed sources")
        if request.object_type_name is not None and request.object_type_names:
            raise Invalid("PutIntegration takes ObjectTypeName or ObjectTypeNames, not both")
        wanted = ([request.object_type_name] if request.object_type_name is not None
                  else sorted(set((request.object_type_names or {}).values())))
        for name in wanted:
            try:
                self.object_types.resolve(domain, name)
            except NotFound:
                raise Invalid(f"Object type {name} does not exist in domain {domain.name}") from None

    # Operations

    def put(self, ctx: RequestContext, domain_name: str, request: IntegrationRequest) -> Integration:
        domain = self.domains.record(ctx, domain_name)
        if request.flow_definition is not None:
            return self._put_with_flow(ctx, domain, request, request.flow_definition)
        if not request.uri:
            raise Invalid("PutIntegration needs Uri: the ARN of an AppFlow flow that delivers to this domain")
        uri = request.uri
        flow = self._flow(ctx, domain, uri)
        self._check_mapping(domain, request)
        names = dict(request.object_type_names) if request.object_type_names else None
        name = request.object_type_name if names is None else None
        with self.store.read() as uow:
            existing = uow.integrations.get(domain.id, uri)
        if existing is None:
            self._check_fresh(ctx, flow)
        try:
            return self._write(ctx, domain, uri, name, names, request)
        except DuplicateKey:  # created concurrently: put again over it
            return self._write(ctx, domain, uri, name, names, request)

    def _put_with_flow(self, ctx: RequestContext, domain: DomainRecord, request: IntegrationRequest,
                       flow_definition: Mapping[str, Any]) -> Integration:
        """PutIntegration with FlowDefinition: create (or update) the flow, start it, link it."""
        if request.object_type_names:
            raise Invalid("PutIntegration with FlowDefinition takes ObjectTypeName (the flow's destination), "
                          "not ObjectTypeNames")
        self._check_mapping(domain, request)
        assert request.object_type_name is not None
        flow_name = str(flow_definition["FlowName"])
        uri = flow_arn(ctx.region, ctx.account_id, flow_name)
        if request.uri is not None and request.uri != uri:
            raise Invalid(f"Uri {request.uri} is not the ARN of the flow FlowDefinition.FlowName {flow_name} ({uri}); "
                          "leave Uri out when giving FlowDefinition")
        flow_request = create_flow_request(flow_definition, domain.name, request.object_type_name)
        definition = checked(self.flows, ctx, flow_request)
        with self.store.read() as uow:
            existing = uow.integrations.get(domain.id, uri)
        if existing is not None:
            if not existing.flow_created:
                raise Invalid(f"Integration {uri} in domain {domain.name} links a flow created in AppFlow; put it "
                              "with Uri, or delete it first to let Customer Profiles create the flow")
            self._check_unchanged(domain, existing, request.object_type_name, None)
            if self.flows.get(ctx, flow_name).record.definition != definition:
                self.flows.update(ctx, flow_request)
                self.runner.start(ctx, flow_name)
            return self._write(ctx, domain, uri, request.object_type_name, None, request, flow_created=True)
        try:
            self.flows.create(ctx, flow_request)
        except AlreadyExists:
            raise Invalid(f"FlowDefinition.FlowName: flow {flow_name} already exists; choose another FlowName, "
                          f"or put the integration with Uri {uri}") from None
        try:
            self.runner.start(ctx, flow_name)
            return self._write(ctx, domain, uri, request.object_type_name, None, request, flow_created=True)
        except Exception:
            self.flows.delete(ctx, flow_name, force=True)
            raise

    @staticmethod
    def _check_unchanged(domain: DomainRecord, record: IntegrationRecord, name: str | None,
                         names: dict[str, str] | None) -> None:
        if record.object_type_name != name or record.object_type_names != names:
            raise Invalid(
                f"The mapping of integration {record.uri} in domain {domain.name} cannot be changed: it maps "
                f"with {_describe_mapping(record.object_type_name, record.object_type_names)}, not "
                f"{_describe_mapping(name, names)}; delete the integration and put it again to change it"
            )

    def _write(self, ctx: RequestContext, domain: DomainRecord, uri: str, name: str | None,
               names: dict[str, str] | None, request: IntegrationRequest, flow_created: bool = False) -> Integration:
        with self.store.write() as uow:
            record = uow.integrations.get(domain.id, uri)
            if record is None:
                record = uow.integrations.add(
                    domain.id, uri, object_type_name=name, object_type_names=names, role_arn=request.role_arn,
                    event_trigger_names=request.event_trigger_names, now=ctx.now, flow_created=flow_created,
                )
            else:
                self._check_unchanged(domain, record, name, names)
                changes: dict[str, Any] = {}
                if request.role_arn is not None:
                    changes["role_arn"] = request.role_arn
                if request.event_trigger_names is not None:
                    changes["event_trigger_names"] = request.event_trigger_names
                uow.integrations.update(record.id, ctx.now, **changes)
                updated = uow.integrations.get(domain.id, uri)
                assert updated is not None
                record = updated
            arn = _tag_arn(ctx, record)
            if request.tags:
                uow.tags.put(arn, request.tags)
            return Integration(record, uow.tags.get(arn))

    def _get(self, uow: UnitOfWork, domain: DomainRecord, uri: str) -> IntegrationRecord:
        record = uow.integrations.get(domain.id, uri)
        if record is None:
            raise NotFound(f"Integration {uri} does not exist in domain {domain.name}")
        return record

    def get(self, ctx: RequestContext, domain_name: str, uri: str) -> Integration:
        domain = self.domains.record(ctx, domain_name)
        with self.store.read() as uow:
            record = self._get(uow, domain, uri)
            return Integration(record, uow.tags.get(_tag_arn(ctx, record)))

    def list_for_uri(self, ctx: RequestContext, uri: str, after: str | None, limit: int) -> list[Integration]:
        """The integrations of this Uri in every domain of the caller (ListAccountIntegrations)."""
        with self.store.read() as uow:
            return self._with_tags(ctx, uow, uow.integrations.by_uri(ctx.account_id, ctx.region, uri, after, limit))

    @staticmethod
    def _with_tags(ctx: RequestContext, uow: UnitOfWork, records: list[IntegrationRecord]) -> list[Integration]:
        arns = {r.id: _tag_arn(ctx, r) for r in records}
        tags = uow.tags.get_many(arns.values())
        return [Integration(r, tags[arns[r.id]]) for r in records]

    def delete(self, ctx: RequestContext, domain_name: str, uri: str) -> None:
        """Remove the integration, and the flow Customer Profiles created for it (refused while that
        flow has a run in progress)."""
        domain = self.domains.record(ctx, domain_name)
        with self.store.read() as uow:
            record = self._get(uow, domain, uri)
        if record.flow_created:
            name = uri.rsplit("/", 1)[-1]
            try:
                self.flows.delete(ctx, name, force=False)
            except NotFound:
                pass  # deleted through AppFlow already
            except Conflict:
                raise Invalid(f"The flow {name} Customer Profiles created for integration {uri} has a run in "
                              "progress; wait for it to end (or cancel it) and delete the integration again") from None
        with self.store.write() as uow:
            record = self._get(uow, domain, uri)
            uow.integrations.delete(record.id)
            uow.tags.delete_resource(_tag_arn(ctx, record))

    def status(self, ctx: RequestContext, domain_name: str, uri: str) -> str:
        """PENDING until the integration's flow has run successfully once, ACTIVE after (the console's
        states; no API member carries them)."""
        domain = self.domains.record(ctx, domain_name)
        with self.store.read() as uow:
            self._get(uow, domain, uri)
            return self._state(uow, ctx, uri)[0]

    @staticmethod
    def _state(uow: UnitOfWork, ctx: RequestContext, uri: str) -> tuple[str, str | None]:
        """PENDING or ACTIVE, and the flow's status (None when the flow is gone)."""
        flow = uow.flows.get(ctx.account_id, ctx.region, uri.rsplit("/", 1)[-1])
        if flow is None:
            return PENDING, None
        return (ACTIVE if uow.executions.in_status(["Successful"], flow.id) else PENDING), flow.status

    def states(self, ctx: RequestContext, domain_name: str) -> list[IntegrationState]:
        """Every integration of a domain with its state, in Uri order."""
        domain = self.domains.record(ctx, domain_name)
        found: list[IntegrationState] = []
        with self.store.read() as uow:
            after = None
            while True:
                page = self._with_tags(ctx, uow, uow.integrations.list(domain.id, after, 500))
                found += [IntegrationState(i, *self._state(uow, ctx, i.record.uri)) for i in page]
                if len(page) < 500:
                    return found
                after = page[-1].record.uri

    def list(self, ctx: RequestContext, domain_name: str, after: str | None, limit: int) -> list[Integration]:
        domain = self.domains.record(ctx, domain_name)
        with self.store.read() as uow:
            return self._with_tags(ctx, uow, uow.integrations.list(domain.id, after, limit))
