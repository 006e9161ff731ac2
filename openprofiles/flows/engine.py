"""The flow engine: what a run does, whatever stores the run.

`plan` is pure: from a flow's definition, the mapping of the domain's integration for the flow
and the run's state it decides which object type each record is ingested with (`routing`, the
rule docs/integrations.md states), the record pipeline (`flows.tasks`), what to ask the source
(`ExtractRequest`) and over which window (incremental pulls, a backfill's window, a resumed run's
checkpoint). `run_pages` is the page loop: the connector's pages, each record through the
pipeline, each batch with its checkpoint handed to a `Sink` that commits them together, and the
cursor (the highest modification time seen) returned for an incremental run.

A page becomes one batch, unless its records go to several object types (ObjectTypeNames by
event type): then each stretch of consecutive records of one type is a batch, and every batch but
the page's last carries a resume point inside the page (the page's start and how many records
to skip), so a run that stops between them resumes without loading a record twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from openprofiles import json_depth
from openprofiles.connectors.base import ExtractRequest, Page, UnreadableRecord
from openprofiles.errors import Conflict, Invalid
from openprofiles.flows.tasks import Dropped, Filtered, Output, TaskPipeline, Terminated, compile_tasks

#: The field of an output record that names its event type, for ObjectTypeNames.
EVENT_TYPE_FIELD = "eventType"
#: The key of a resume point inside a page (a checkpoint of the engine's own, wrapping the connector's).
_INSIDE_PAGE = "openprofiles:inside-page"


class NoObjectType(Conflict):
    """A flow whose records have no object type to be ingested with: refused when it starts."""


class IntegrationMapping(Protocol):
    """The object type(s) the domain's integration for a flow maps its records with."""

    @property
    def object_type_name(self) -> str | None: ...

    @property
    def object_type_names(self) -> Mapping[str, str] | None: ...


class Source(Protocol):
    """What the page loop reads: a connector (connectors/base.py), or a push's records."""

    def extract(self, request: ExtractRequest) -> Iterable[Page]: ...


@dataclass(frozen=True)
class Batch:
    """What a sink commits in one transaction."""

    object_type: str
    #: The pipeline's output records, in source order.
    records: list[dict[str, Any]]
    #: (source text, reason) of the records to keep as dead letters.
    dropped: list[tuple[str, str]]
    #: How many source records, and how many bytes of them, the batch covers.
    read: int
    size: int
    #: Where a resumed run starts after this batch (JSON; None when the source gives none).
    checkpoint: Any


class Sink(Protocol):
    def __call__(self, batch: Batch) -> None:
        """Commit the batch and its checkpoint together (or raise: nothing of it is committed)."""


class RunControl(Protocol):
    def progressed(self) -> None:
        """The run made progress: a page came from the source, or a batch was committed."""

    def check(self) -> None:
        """Raise to stop the run before its next batch (cancelled, no longer this process's, stopping)."""


@dataclass(frozen=True)
class Routing:
    """The object type each output record is ingested with: one for all, or one by event type."""

    object_type: str | None = None
    by_event_type: Mapping[str, str] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every object type the run may ingest with."""
        if self.object_type is not None:
            return (self.object_type,)
        return tuple(sorted(set((self.by_event_type or {}).values())))

    @property
    def default(self) -> str:
        """The object type of a batch that holds only dead letters (the first name by event-type routing)."""
        return self.names[0]

    def route(self, record: Mapping[str, Any]) -> str | None:
        """The record's object type; None when its event type maps to none (see `unrouted`)."""
        if self.object_type is not None:
            return self.object_type
        event_type = record.get(EVENT_TYPE_FIELD)
        return (self.by_event_type or {}).get(event_type) if isinstance(event_type, str) else None

    def unrouted(self, record: Mapping[str, Any]) -> str:
        """Why `route` found no object type for the record (its dead letter's reason)."""
        known = ", ".join(sorted(self.by_event_type or {}))
        event_type = record.get(EVENT_TYPE_FIELD)
        if not isinstance(event_type, str):
            return (f"The record has no {EVENT_TYPE_FIELD} field (a string) to choose its object type by the "
                    f"integration's ObjectTypeNames ({known})")
        return f"The record's {EVENT_TYPE_FIELD} {event_type} is not in the integration's ObjectTypeNames ({known})"


@dataclass(frozen=True)
class RunState:
    """What the engine needs of the stored run."""

    #: The flow's incremental cursor (`{"high_water": ISO time}`), or None.
    cursor: Mapping[str, Any] | None = None
    #: A windowed run's [start, end) (an integration workflow's backfill step), else None.
    window: tuple[datetime | None, datetime | None] | None = None
    #: The opened checkpoint of the run's last committed batch, when it resumes.
    checkpoint: Any = None


@dataclass(frozen=True)
class Plan:
    routing: Routing
    pipeline: TaskPipeline
    request: ExtractRequest
    #: Whether the run moves the flow's cursor when it succeeds.
    incremental: bool
    #: Records to skip after `request.checkpoint` (a run resumed inside a page).
    skip: int = 0


def destination_properties(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    """The flow's `destinationConnectorProperties.CustomerProfiles` (domainName, objectTypeName)."""
    properties: Mapping[str, Any] = (
        definition["destinationFlowConfigList"][0]["destinationConnectorProperties"]["CustomerProfiles"])
    return properties


def routing(definition: Mapping[str, Any], integration: IntegrationMapping | None) -> Routing:
    """The object type rule: the flow destination's objectTypeName when it names one, else the
    integration's ObjectTypeName, else its ObjectTypeNames by each record's event type; NoObjectType
    naming what to add when there is none."""
    properties = destination_properties(definition)
    named = properties.get("objectTypeName")
    if named:
        return Routing(object_type=str(named))
    if integration is not None and integration.object_type_name:
        return Routing(object_type=integration.object_type_name)
    if integration is not None and integration.object_type_names:
        return Routing(by_event_type=dict(integration.object_type_names))
    flow, domain = definition.get("flowName", ""), properties.get("domainName", "")
    raise NoObjectType(
        f"Flow {flow} cannot run: its CustomerProfiles destination names no objectTypeName and domain {domain} "
        f"has no integration for it; put an integration (Customer Profiles PutIntegration with the flow's ARN as "
        f"Uri and ObjectTypeName or ObjectTypeNames), or name objectTypeName in the destination (UpdateFlow)"
    )


def plan(definition: Mapping[str, Any], integration: IntegrationMapping | None, state: RunState, *,
         page_size: int, default_modified_field: str | None = None) -> Plan:
    """Everything a run decides before it reads a record (see the module docstring)."""
    chosen = routing(definition, integration)
    source = definition["sourceFlowConfig"]
    pipeline = compile_tasks(definition.get("tasks") or [], source["connectorType"])
    windowed = state.window is not None
    scheduled = ((definition.get("triggerConfig") or {}).get("triggerProperties") or {}).get("Scheduled") or {}
    incremental = not windowed and scheduled.get("dataPullMode") == "Incremental"
    since = _parse_time(state.cursor.get("high_water")) if incremental and state.cursor else None
    until = None
    if state.window is not None:
        since, until = state.window
    checkpoint, skip = state.checkpoint, 0
    if isinstance(checkpoint, dict) and _INSIDE_PAGE in checkpoint:
        checkpoint, skip = checkpoint[_INSIDE_PAGE]["after"], int(checkpoint[_INSIDE_PAGE]["skip"])
    request = ExtractRequest(
        entity=_entity(source),
        source_properties=dict(next(iter(source["sourceConnectorProperties"].values()))),
        fields=list(pipeline.projected_fields) if pipeline.projected_fields else None,
        filters=pipeline.record_filters,
        since=since,
        until=until,
        modified_field=(source.get("incrementalPullConfig") or {}).get("datetimeTypeFieldName")
        or default_modified_field,
        checkpoint=checkpoint,
        page_size=page_size,
    )
    return Plan(chosen, pipeline, request, incremental, skip)


def run_pages(planned: Plan, source: Source, sink: Sink, control: RunControl) -> dict[str, Any] | None:
    """Read every page, hand its batches to the sink; the flow's new cursor for an incremental run
    (None otherwise, or when no record time was seen). Raises Invalid when a validation stops the
    run; connector errors, and whatever `control` or `sink` raise, end the loop as they are."""
    high_water = planned.request.since
    after, skip = planned.request.checkpoint, planned.skip  # the page's starting point, records to pass over
    for page in source.extract(planned.request):
        control.progressed()
        control.check()
        passed = min(skip, len(page.records))
        skip -= passed
        batches = _batches(planned, page, after, passed)
        if page.high_water and (high_water is None or page.high_water > high_water):
            high_water = page.high_water
        control.check()
        for batch in batches:
            sink(batch)
            control.progressed()
        after = page.checkpoint
    control.check()
    return {"high_water": high_water.isoformat()} if planned.incremental and high_water is not None else None


class _Stretch:
    """Consecutive records of a page going to one object type."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.object_type: str | None = None
        self.records: list[dict[str, Any]] = []
        self.dropped: list[tuple[str, str]] = []
        self.read = 0
        self.size = 0


def _batches(planned: Plan, page: Page, after: Any, passed: int) -> list[Batch]:
    """The page's records from `passed` on, through the pipeline and routed, as batches (one
    unless several object types follow each other); Invalid when a validation stops the run."""
    apply, route = planned.pipeline.apply, planned.routing.route
    stretches = [_Stretch(passed)]
    for position in range(passed, len(page.records)):
        record = page.records[position]
        current = stretches[-1]
        data, unreadable = encoded(record)
        size = len(data)
        if unreadable is not None:
            current.dropped.append((data.decode(), unreadable))
        else:
            outcome = apply(record)
            if isinstance(outcome, Output):
                object_type = route(outcome.record)
                if object_type is None:
                    current.dropped.append((data.decode(), planned.routing.unrouted(outcome.record)))
                else:
                    if current.object_type not in (None, object_type):
                        current = _Stretch(position)
                        stretches.append(current)
                    current.object_type = object_type
                    current.records.append(outcome.record)
            elif isinstance(outcome, Terminated):
                raise Invalid(f"Validation stopped the run: {outcome.reason}")
            elif not isinstance(outcome, Filtered):
                assert isinstance(outcome, Dropped)
                current.dropped.append((data.decode(), outcome.reason))
        current.read += 1
        current.size += size
    batches = []
    for index, stretch in enumerate(stretches):
        last = index == len(stretches) - 1
        checkpoint = page.checkpoint if last else {_INSIDE_PAGE: {"after": after, "skip": stretches[index + 1].start}}
        batches.append(Batch(stretch.object_type or planned.routing.default, stretch.records, stretch.dropped,
                             stretch.read, stretch.size, checkpoint))
    return batches


def encoded(record: dict[str, Any]) -> tuple[bytes, str | None]:
    """A source record as JSON, and why it cannot go through the tasks (its dead letter's reason):
    its connector could not read it, or it nests deeper than `json_depth.MAX_DEPTH`; else None."""
    if isinstance(record, UnreadableRecord):
        return record.text.encode(), record.reason
    try:
        data: bytes | None = orjson.dumps(record, default=str)
    except orjson.JSONEncodeError:  # too deep for orjson, or a value it cannot write
        data = None
    if data is not None and not json_depth.may_exceed(data, json_depth.MAX_DEPTH):
        return data, None
    path = json_depth.depth_beyond(record)
    if path is None:
        return data if data is not None else orjson.dumps(record, default=str), None
    reason = (f"The source record is {json_depth.TooDeep(json_depth.MAX_DEPTH, path)}; records may nest "
              f"objects and arrays at most {json_depth.MAX_DEPTH} levels deep")
    return data if data is not None else json_depth.dumps(record).encode(), reason


def _entity(source: Mapping[str, Any]) -> str:
    properties = next(iter(source["sourceConnectorProperties"].values()))
    if "object" in properties:
        return str(properties["object"])
    if "entityName" in properties:
        return str(properties["entityName"])
    if "bucketName" in properties:
        return "/".join(p for p in (properties["bucketName"], properties.get("bucketPrefix")) if p)
    raise Invalid("sourceConnectorProperties names no object or entity")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
