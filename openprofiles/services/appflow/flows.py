"""AppFlow flows: their definitions, checked in full when created or updated, stored per account
and region, with tags at the flow's ARN.

A flow's definition is the CreateFlow/UpdateFlow request as sent, tags and clientToken aside (the
AppFlow members, camelCase), stored as JSON: the engine, the scheduler and DescribeFlow read the
same document. docs/flows.md ("Flows API") states the rules below in prose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import botocore.session
import orjson

from openprofiles.aws_access import AwsAccess, AwsAccessRefused, bucket_arn
from openprofiles.context import RequestContext
from openprofiles.errors import AlreadyExists, Conflict, Invalid, NotFound
from openprofiles.flows.tasks import compile_tasks
from openprofiles.scheduler.grammar import parse_schedule, resolve_timezone
from openprofiles.services.appflow.destinations import ProfilesDestination
from openprofiles.services.arns import PARTITION, Arn
from openprofiles.storage.flows import ConnectorProfileRef, ExecutionSummary, FlowRecord
from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.store import Store, UnitOfWork

#: How long a clientToken is honoured after the write that carried it (AWS: 8 hours).
IDEMPOTENCY_WINDOW = timedelta(hours=8)
#: Execution statuses that keep a flow from being deleted without forceDelete.
RUNNING = ("InProgress",)
#: The only destination OpenProfiles delivers to.
DESTINATION = "CustomerProfiles"
#: Sources read without a connector profile (S3: as aws_access allows for the flow's account).
NO_PROFILE_SOURCES = frozenset({"S3"})
#: Members of a request that are not part of the stored definition.
NOT_DEFINITION = ("tags", "clientToken")
#: Timestamp members of the definition (stored as ISO 8601 text, handed out as datetimes).
_SCHEDULE_TIMES = ("scheduleStartTime", "scheduleEndTime", "firstExecutionFrom")


def flow_arn(region: str, account_id: str, name: str) -> str:
    return str(Arn(PARTITION, "appflow", region, account_id, f"flow/{name}"))


def flow_exists(uow: UnitOfWork, arn: Arn) -> bool:
    """Tag resolver for `arn:…:appflow:…:flow/NAME`."""
    kind, _, name = arn.resource.partition("/")
    return kind == "flow" and bool(name) and uow.flows.get(arn.account_id, arn.region, name) is not None


@cache
def _members(shape: str) -> tuple[str, ...]:
    model = botocore.session.get_session().get_service_model("appflow")
    return tuple(model.shape_for(shape).members)  # type: ignore[attr-defined]


def _member_for(shape: str, connector_type: str) -> str | None:
    """The member of a properties structure that belongs to a connector type (`Servicenow` → `ServiceNow`)."""
    for name in _members(shape):
        if name.lower() == connector_type.lower():
            return name
    return None


@cache
def _connector_types() -> tuple[str, ...]:
    model = botocore.session.get_session().get_service_model("appflow")
    return tuple(model.shape_for("ConnectorType").enum)


def source_types() -> list[str]:
    """The connector types that can be a flow's source: those with a SourceConnectorProperties member."""
    return [t for t in _connector_types() if _member_for("SourceConnectorProperties", t) is not None]


def _canonical(value: Any) -> Any:
    """A JSON document of a request's members: absent (None) members dropped, timestamps as ISO text."""
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, datetime):
        return orjson.loads(orjson.dumps(value))
    return value


def definition_of(params: Mapping[str, Any]) -> dict[str, Any]:
    """The stored definition of a CreateFlow/UpdateFlow request."""
    document = _canonical({k: v for k, v in params.items() if k not in NOT_DEFINITION})
    assert isinstance(document, dict)
    return document


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _scheduled(definition: Mapping[str, Any]) -> dict[str, Any] | None:
    trigger = definition.get("triggerConfig") or {}
    properties = trigger.get("triggerProperties") or {}
    scheduled = properties.get("Scheduled")
    return dict(scheduled) if scheduled is not None else None


def wire_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A stored definition with its schedule times as datetimes again, for responses and the scheduler."""
    out = orjson.loads(orjson.dumps(definition))
    scheduled = _scheduled(out)
    if scheduled is not None:
        for name in _SCHEDULE_TIMES:
            if name in scheduled:
                scheduled[name] = _time(scheduled[name])
        out["triggerConfig"]["triggerProperties"]["Scheduled"] = scheduled
    assert isinstance(out, dict)
    return out


def trigger_type(definition: Mapping[str, Any]) -> str:
    return str((definition.get("triggerConfig") or {}).get("triggerType", "OnDemand"))


def initial_status(trigger: str) -> str:
    """OnDemand flows are Active at once; Scheduled and Event flows stay Draft until StartFlow."""
    return "Active" if trigger == "OnDemand" else "Draft"


def next_run_at(definition: Mapping[str, Any], after: datetime) -> datetime | None:
    """The first fire time of a Scheduled flow strictly after `after` (None for other triggers, or
    when the schedule has ended)."""
    scheduled = _scheduled(definition)
    if trigger_type(definition) != "Scheduled" or scheduled is None:
        return None
    schedule = parse_schedule(str(scheduled["scheduleExpression"]))
    return schedule.next_after(
        after,
        tz=resolve_timezone(scheduled.get("timezone")),
        start=_time(scheduled.get("scheduleStartTime")),
        end=_time(scheduled.get("scheduleEndTime")),
        offset_seconds=int(scheduled.get("scheduleOffset") or 0),
    )


@dataclass(frozen=True)
class Flow:
    record: FlowRecord
    tags: dict[str, str]
    last_run: ExecutionSummary | None = None
    #: The connector profiles the flow names that exist, by name (for connector labels).
    profiles: Mapping[str, ConnectorProfileRef] | None = None

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def arn(self) -> str:
        return flow_arn(self.record.region, self.record.account_id, self.record.name)

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def definition(self) -> dict[str, Any]:
        """The definition in wire form (schedule times as datetimes)."""
        return wire_definition(self.record.definition)

    def label_of(self, config: Mapping[str, Any]) -> str | None:
        """The connector label of a source or destination config (custom connectors' profiles have one)."""
        profile = (self.profiles or {}).get(config.get("connectorProfileName") or "")
        return profile.connector_label if profile is not None else None


class FlowService:
    def __init__(self, store: Store, destination: ProfilesDestination, aws: AwsAccess | None = None) -> None:
        self.store = store
        self.destination = destination
        self.aws = aws or AwsAccess()

    # Validation

    def check(self, ctx: RequestContext, definition: Mapping[str, Any]) -> None:
        """Everything a flow definition must satisfy beyond the model's constraints; raises Invalid
        (ValidationException) or NotFound for a connector profile that does not exist."""
        source = definition["sourceFlowConfig"]
        connector_type = str(source["connectorType"])
        key = _member_for("SourceConnectorProperties", connector_type)
        if key is None:
            raise Invalid(
                f"sourceFlowConfig.connectorType {connector_type} cannot be a flow source; "
                f"sources are {', '.join(source_types())}"
            )
        self._check_properties("sourceFlowConfig.sourceConnectorProperties", source["sourceConnectorProperties"],
                               key, f"the source connectorType {connector_type}")
        destinations = definition["destinationFlowConfigList"]
        if len(destinations) != 1:
            raise Invalid(f"destinationFlowConfigList must hold exactly one destination, not {len(destinations)}")
        destination = destinations[0]
        if destination["connectorType"] != DESTINATION:
            raise Invalid(
                f"destinationFlowConfigList.1.connectorType {destination['connectorType']} is not supported: "
                f"OpenProfiles delivers flows to {DESTINATION} only"
            )
        where = "destinationFlowConfigList.1.destinationConnectorProperties"
        properties = destination["destinationConnectorProperties"]
        self._check_properties(where, properties, DESTINATION, f"the destination connectorType {DESTINATION}")
        self.destination.check(ctx, f"{where}.{DESTINATION}", properties[DESTINATION])
        compile_tasks(definition["tasks"], connector_type)
        self._check_trigger(definition["triggerConfig"])
        self._check_profiles(ctx, source, destination)
        self.check_source(ctx, definition)

    def check_source(self, ctx: RequestContext, definition: Mapping[str, Any]) -> None:
        """The account may read the flow's S3 source bucket (CreateFlow, UpdateFlow, StartFlow); Invalid
        naming the operator setting otherwise (the run checks again: grants change)."""
        source = definition["sourceFlowConfig"]
        if source["connectorType"] != "S3":
            return
        bucket = (source["sourceConnectorProperties"].get("S3") or {}).get("bucketName")
        if bucket:
            try:
                self.aws.principal(ctx.account_id, bucket_arn(str(bucket)))
            except AwsAccessRefused as refused:
                raise Invalid(f"sourceFlowConfig.sourceConnectorProperties.S3.bucketName {bucket}: "
                              f"{refused.message}") from None

    @staticmethod
    def _check_properties(where: str, properties: Mapping[str, Any], key: str, what: str) -> None:
        given = [name for name, value in properties.items() if value is not None]
        if key not in given:
            raise Invalid(f"{where}.{key} is required for {what}")
        others = [name for name in given if name != key]
        if others:
            raise Invalid(f"{where} must hold only {key} for {what}, not {', '.join(others)}")

    @staticmethod
    def _check_trigger(trigger: Mapping[str, Any]) -> None:
        kind = trigger["triggerType"]
        scheduled = (trigger.get("triggerProperties") or {}).get("Scheduled")
        where = "triggerConfig.triggerProperties.Scheduled"
        if kind != "Scheduled":
            if scheduled is not None:
                raise Invalid(f"{where} is only for Scheduled flows, not triggerType {kind}")
            return
        if scheduled is None:
            raise Invalid(f"{where} is required for triggerType Scheduled")
        try:
            parse_schedule(str(scheduled["scheduleExpression"]))
        except Invalid as error:
            raise Invalid(f"{where}.scheduleExpression: {error.message}") from None
        start, end = _time(scheduled.get("scheduleStartTime")), _time(scheduled.get("scheduleEndTime"))
        if start is not None and end is not None and start >= end:
            raise Invalid(
                f"{where}.scheduleStartTime ({start.isoformat()}) must be before "
                f"scheduleEndTime ({end.isoformat()})"
            )
        try:
            resolve_timezone(scheduled.get("timezone"))
        except Invalid as error:
            raise Invalid(f"{where}.timezone: {error.message}") from None

    def _check_profiles(self, ctx: RequestContext, source: Mapping[str, Any], destination: Mapping[str, Any]) -> None:
        named = [
            ("sourceFlowConfig", source),
            ("destinationFlowConfigList.1", destination),
        ]
        source_type = str(source["connectorType"])
        if not source.get("connectorProfileName") and source_type not in NO_PROFILE_SOURCES:
            raise Invalid(
                f"sourceFlowConfig.connectorProfileName is required for the source connectorType {source_type}"
            )
        wanted = [str(config["connectorProfileName"]) for _, config in named if config.get("connectorProfileName")]
        if not wanted:
            return
        with self.store.read() as uow:
            profiles = uow.flows.connector_profiles(ctx.account_id, ctx.region, wanted)
        for where, config in named:
            name = config.get("connectorProfileName")
            if not name:
                continue
            profile = profiles.get(str(name))
            if profile is None:
                raise NotFound(f"Connector profile {name} ({where}.connectorProfileName) does not exist")
            if profile.connector_type.lower() != str(config["connectorType"]).lower():
                raise Invalid(
                    f"{where}.connectorProfileName: connector profile {name} is for {profile.connector_type}, "
                    f"not {config['connectorType']}"
                )

    # Idempotency

    @staticmethod
    def _replayed(ctx: RequestContext, record: FlowRecord | None, token: str | None,
                  name: str, definition: Mapping[str, Any]) -> FlowRecord | None:
        """The flow an earlier request with this clientToken wrote, if this request repeats it;
        ConflictException if the token came with different parameters."""
        if record is None or token is None or record.client_token != token:
            return None
        if ctx.now - record.last_updated_at > IDEMPOTENCY_WINDOW:
            return None
        if record.name != name or record.definition != definition:
            raise Conflict(
                f"clientToken {token} was used for a different request (flow {record.name}); "
                "use a new clientToken for a new request"
            )
        return record

    # Operations

    def create(self, ctx: RequestContext, params: Mapping[str, Any]) -> Flow:
        name = str(params["flowName"])
        token = params.get("clientToken")
        definition = definition_of(params)
        if token is not None:
            with self.store.read() as uow:
                found = uow.flows.by_client_token(ctx.account_id, ctx.region, token)
                replay = self._replayed(ctx, found, token, name, definition)
                if replay is not None:
                    return Flow(replay, uow.tags.get(flow_arn(ctx.region, ctx.account_id, replay.name)))
        self.check(ctx, definition)
        tags = dict(params.get("tags") or {})
        try:
            with self.store.write() as uow:
                if token is not None:
                    found = uow.flows.by_client_token(ctx.account_id, ctx.region, token)
                    replay = self._replayed(ctx, found, token, name, definition)
                    if replay is not None:
                        return Flow(replay, uow.tags.get(flow_arn(ctx.region, ctx.account_id, replay.name)))
                if uow.flows.get(ctx.account_id, ctx.region, name) is not None:
                    raise AlreadyExists(f"Flow {name} already exists")
                record = uow.flows.add(
                    ctx.account_id,
                    ctx.region,
                    name,
                    definition=definition,
                    status=initial_status(trigger_type(definition)),
                    client_token=token,
                    created_by=ctx.account_id,
                    now=ctx.now,
                )
                uow.tags.put(flow_arn(ctx.region, ctx.account_id, name), tags)
        except DuplicateKey:
            raise AlreadyExists(f"Flow {name} already exists") from None
        return Flow(record, tags)

    def update(self, ctx: RequestContext, params: Mapping[str, Any]) -> Flow:
        name = str(params["flowName"])
        token = params.get("clientToken")
        current = self._record(ctx, name)
        definition = definition_of(params)
        if "kmsArn" in current.definition:  # UpdateFlow cannot change the key; keep it
            definition["kmsArn"] = current.definition["kmsArn"]
        if self._replayed(ctx, current, token, name, definition) is not None:
            return Flow(current, {})
        self.check(ctx, definition)
        with self.store.write() as uow:
            record = self._get(uow, ctx, name)
            if self._replayed(ctx, record, token, name, definition) is not None:
                return Flow(record, {})
            new_trigger = trigger_type(definition)
            status, message = record.status, record.status_message
            if new_trigger != trigger_type(record.definition):
                status, message = initial_status(new_trigger), None
            values: dict[str, Any] = {
                "definition": definition,
                "status": status,
                "status_message": message,
                "client_token": token,
                "next_run_at": next_run_at(definition, ctx.now) if status == "Active" else None,
            }
            if definition.get("sourceFlowConfig") != record.definition.get("sourceFlowConfig"):
                values["cursor"] = None  # a new source starts its incremental pulls afresh
            uow.flows.update(record.id, ctx.now, **values)
            updated = uow.flows.get_by_id(record.id)
            assert updated is not None
            return Flow(updated, uow.tags.get(flow_arn(ctx.region, ctx.account_id, name)))

    def delete(self, ctx: RequestContext, name: str, force: bool) -> None:
        with self.store.write() as uow:
            record = self._get(uow, ctx, name)
            if not force and uow.flows.has_execution_in(record.id, RUNNING):
                raise Conflict(f"Flow {name} has an execution in progress; set forceDelete to delete it anyway")
            uow.flows.delete(record.id)
            uow.tags.delete_resource(flow_arn(ctx.region, ctx.account_id, name))

    def get(self, ctx: RequestContext, name: str) -> Flow:
        with self.store.read() as uow:
            record = self._get(uow, ctx, name)
            tags = uow.tags.get(flow_arn(ctx.region, ctx.account_id, name))
            last_run = uow.flows.last_executions([record.id]).get(record.id)
        return Flow(record, tags, last_run)

    def list(self, ctx: RequestContext, after: str | None, limit: int) -> list[Flow]:
        with self.store.read() as uow:
            records = uow.flows.list(ctx.account_id, ctx.region, after, limit)
            arns = {r.id: flow_arn(ctx.region, ctx.account_id, r.name) for r in records}
            tags = uow.tags.get_many(arns.values())
            runs = uow.flows.last_executions(arns)
            names = [
                str(config["connectorProfileName"])
                for r in records
                for config in [r.definition.get("sourceFlowConfig") or {}, *r.definition.get("destinationFlowConfigList", [])]
                if config.get("connectorProfileName")
            ]
            profiles = uow.flows.connector_profiles(ctx.account_id, ctx.region, names)
        return [Flow(r, tags[arns[r.id]], runs.get(r.id), profiles) for r in records]

    # Lookups

    def _get(self, uow: UnitOfWork, ctx: RequestContext, name: str) -> FlowRecord:
        record = uow.flows.get(ctx.account_id, ctx.region, name)
        if record is None:
            raise NotFound(f"Flow {name} does not exist")
        return record

    def _record(self, ctx: RequestContext, name: str) -> FlowRecord:
        with self.store.read() as uow:
            return self._get(uow, ctx, name)
