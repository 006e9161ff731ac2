"""The flow engine without a server: the plan's decisions (object type, window, request) and the
page loop over an in-memory connector (batches, checkpoints, resume, cursor, cancel, errors)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from openprofiles.connectors.base import (
    Connector,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    Page,
    UnreadableRecord,
)
from openprofiles.errors import Conflict, Invalid
from openprofiles.flows.engine import (
    EVENT_TYPE_FIELD,
    Batch,
    NoObjectType,
    Plan,
    RunState,
    plan,
    routing,
    run_pages,
)

OP = {"CustomConnector": "NO_OP"}
MAP_ALL = {"taskType": "Map_all", "sourceFields": [], "connectorOperator": OP}
JAN = datetime(2026, 1, 1, tzinfo=UTC)


def _at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


class MemoryConnector(Connector):
    """connectors/base.py's contract over a list: records in order, `updated` their modification
    time, the checkpoint the index of the next record, pages of `request.page_size`."""

    connector_type = "CustomConnector"
    default_modified_field = "updated"

    def __init__(self, records: list[dict[str, Any]], fail_after: int | None = None,
                 error: ConnectorError | None = None) -> None:
        self.records = records
        self.fail_after = fail_after  # pages yielded before `error` is raised
        self.error = error or ConnectorError("source went away", transient=True)
        self.requests: list[ExtractRequest] = []

    def check(self) -> None:
        pass

    def entities(self, path: str | None = None) -> list[Entity]:
        return [Entity("people", "People")]

    def describe(self, entity: str) -> list[EntityField]:
        return [EntityField("id", "string"), EntityField("updated", "datetime")]

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        self.requests.append(request)
        field = request.modified_field or "updated"
        position = int(request.checkpoint or 0)
        pages = 0
        while position < len(self.records):
            if self.fail_after is not None and pages == self.fail_after:
                raise self.error
            chunk = self.records[position:position + request.page_size]
            position += len(chunk)
            kept = [r for r in chunk if _within(r.get(field), request.since, request.until)]
            times = [r[field] for r in kept if isinstance(r.get(field), datetime)]
            yield Page(kept, position, max(times) if times else None)
            pages += 1


def _within(value: Any, since: datetime | None, until: datetime | None) -> bool:
    if not isinstance(value, datetime):
        return since is None and until is None
    return (since is None or value >= since) and (until is None or value < until)


@dataclass(frozen=True)
class Mapping_:
    """An integration's mapping, as the destination answers it."""

    object_type_name: str | None = None
    object_type_names: Mapping[str, str] | None = None


class Control:
    """Counts progress; `stop_at` raises on the Nth check (a cancel, a lost lease)."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.progress = 0
        self.checks = 0
        self.stop_at = stop_at

    def progressed(self) -> None:
        self.progress += 1

    def check(self) -> None:
        self.checks += 1
        if self.checks == self.stop_at:
            raise Cancelled()


class Cancelled(Exception):
    pass


class Sink:
    """Commits batches in memory; `fail_at` raises on the Nth batch (a crash before its commit)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.batches: list[Batch] = []
        self.fail_at = fail_at

    def __call__(self, batch: Batch) -> None:
        if self.fail_at is not None and len(self.batches) + 1 == self.fail_at:
            raise RuntimeError("crash")
        self.batches.append(batch)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for b in self.batches for r in b.records]

    @property
    def checkpoint(self) -> Any:
        return self.batches[-1].checkpoint if self.batches else None


def definition(tasks: list[dict[str, Any]] | None = None, object_type: str | None = "crm",
               scheduled: dict[str, Any] | None = None, **source: Any) -> dict[str, Any]:
    destination: dict[str, Any] = {"domainName": "d"}
    if object_type is not None:
        destination["objectTypeName"] = object_type
    trigger: dict[str, Any] = {"triggerType": "OnDemand"}
    if scheduled is not None:
        trigger = {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(1hours)", **scheduled}}}
    return {
        "flowName": "f",
        "triggerConfig": trigger,
        "sourceFlowConfig": {"connectorType": "CustomConnector", "connectorProfileName": "p",
                             "sourceConnectorProperties": {"CustomConnector": {"entityName": "people"}}, **source},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles",
                                       "destinationConnectorProperties": {"CustomerProfiles": destination}}],
        "tasks": tasks if tasks is not None else [MAP_ALL],
    }


def planned(flow: dict[str, Any] | None = None, integration: Mapping_ | None = None, state: RunState | None = None,
            page_size: int = 2) -> Plan:
    return plan(flow or definition(), integration, state or RunState(), page_size=page_size,
                default_modified_field=MemoryConnector.default_modified_field)


def people(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": str(i), "updated": _at(i), **extra} for i in range(1, count + 1)]


# The object type (issue 28).


def test_the_flows_object_type_wins_over_the_integrations() -> None:
    assert routing(definition(object_type="crm"), Mapping_("other")).names == ("crm",)
    assert routing(definition(object_type="crm"), None).object_type == "crm"


def test_without_one_in_the_flow_the_integration_maps() -> None:
    assert routing(definition(object_type=None), Mapping_("crm")).object_type == "crm"
    by_event = routing(definition(object_type=None), Mapping_(None, {"order": "orders", "person": "people"}))
    assert by_event.names == ("orders", "people") and by_event.default == "orders"
    assert by_event.route({EVENT_TYPE_FIELD: "person"}) == "people"
    assert by_event.route({EVENT_TYPE_FIELD: "refund"}) is None
    assert "refund is not in the integration's ObjectTypeNames (order, person)" in by_event.unrouted(
        {EVENT_TYPE_FIELD: "refund"})
    assert by_event.route({}) is None and "no eventType field" in by_event.unrouted({})


@pytest.mark.parametrize("integration", [None, Mapping_(None, None), Mapping_(None, {})])
def test_neither_is_refused_naming_what_to_add(integration: Mapping_ | None) -> None:
    with pytest.raises(NoObjectType) as refused:
        routing(definition(object_type=None), integration)
    assert isinstance(refused.value, Conflict)  # StartFlow's modeled ConflictException
    assert "Flow f cannot run" in refused.value.message
    assert "PutIntegration" in refused.value.message and "objectTypeName" in refused.value.message
    with pytest.raises(NoObjectType):
        planned(definition(object_type=None), integration)


# The plan.


def test_request_from_the_definition() -> None:
    projection = {"taskType": "Filter", "sourceFields": ["id", "email"], "connectorOperator": {
        "CustomConnector": "PROJECTION"}}
    only_active = {"taskType": "Filter", "sourceFields": ["status"], "connectorOperator": {
        "CustomConnector": "EQUAL_TO"}, "taskProperties": {"DATA_TYPE": "string", "VALUE": "active"}}
    result = planned(definition([projection, only_active, MAP_ALL]), page_size=7)
    request = result.request
    assert (request.entity, request.fields, request.page_size) == ("people", ["id", "email"], 7)
    assert [(f.field, f.operator, f.values) for f in request.filters] == [("status", "EQUAL_TO", ("active",))]
    assert request.source_properties == {"entityName": "people"}
    assert (request.since, request.until, request.checkpoint, result.skip) == (None, None, None, 0)
    assert request.modified_field == "updated" and not result.incremental
    custom = planned(definition(incrementalPullConfig={"datetimeTypeFieldName": "changed"}))
    assert custom.request.modified_field == "changed"


def test_entity_of_each_source_shape() -> None:
    s3 = definition()
    s3["sourceFlowConfig"] = {"connectorType": "S3", "sourceConnectorProperties": {
        "S3": {"bucketName": "bkt", "bucketPrefix": "in"}}}
    s3["tasks"] = [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}]
    assert planned(s3).request.entity == "bkt/in"
    salesforce = definition()
    salesforce["sourceFlowConfig"] = {"connectorType": "Salesforce", "sourceConnectorProperties": {
        "Salesforce": {"object": "Contact"}}}
    salesforce["tasks"] = [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}]
    assert planned(salesforce).request.entity == "Contact"
    nothing = definition()
    nothing["sourceFlowConfig"]["sourceConnectorProperties"] = {"CustomConnector": {"x": 1}}
    with pytest.raises(Invalid, match="names no object or entity"):
        planned(nothing)


def test_incremental_window() -> None:
    incremental = definition(scheduled={"dataPullMode": "Incremental"})
    first = planned(incremental)
    assert first.incremental and first.request.since is None
    later = planned(incremental, state=RunState(cursor={"high_water": "2026-01-03T00:00:00+00:00"}))
    assert later.request.since == _at(3) and later.request.until is None
    naive = planned(incremental, state=RunState(cursor={"high_water": "2026-01-03T00:00:00"}))
    assert naive.request.since == _at(3)
    complete = planned(definition(scheduled={"dataPullMode": "Complete"}),
                       state=RunState(cursor={"high_water": "2026-01-03T00:00:00+00:00"}))
    assert not complete.incremental and complete.request.since is None


def test_a_backfill_window_reads_it_and_leaves_the_cursor() -> None:
    incremental = definition(scheduled={"dataPullMode": "Incremental"})
    window = planned(incremental, state=RunState(cursor={"high_water": "2026-01-09T00:00:00+00:00"},
                                                  window=(_at(2), _at(4))))
    assert (window.request.since, window.request.until, window.incremental) == (_at(2), _at(4), False)
    open_start = planned(incremental, state=RunState(window=(None, _at(4))))
    assert (open_start.request.since, open_start.request.until) == (None, _at(4))


def test_a_resumed_run_starts_at_its_checkpoint() -> None:
    assert planned(state=RunState(checkpoint=4)).request.checkpoint == 4
    inside = planned(state=RunState(checkpoint={"openprofiles:inside-page": {"after": 4, "skip": 1}}))
    assert (inside.request.checkpoint, inside.skip) == (4, 1)


# The page loop.


def test_each_page_is_a_batch_with_its_checkpoint() -> None:
    sink, control = Sink(), Control()
    cursor = run_pages(planned(), MemoryConnector(people(5)), sink, control)
    assert cursor is None  # not incremental
    assert [([r["id"] for r in b.records], b.read, b.checkpoint, b.object_type) for b in sink.batches] == [
        (["1", "2"], 2, 2, "crm"), (["3", "4"], 2, 4, "crm"), (["5"], 1, 5, "crm")]
    assert all(b.size > 0 and b.dropped == [] for b in sink.batches)
    assert control.progress == 6  # each page read and each batch committed


def test_an_incremental_run_returns_the_highest_time_seen() -> None:
    incremental = definition(scheduled={"dataPullMode": "Incremental"})
    connector = MemoryConnector(people(5))
    sink = Sink()
    cursor = run_pages(planned(incremental, state=RunState(cursor={"high_water": _at(3).isoformat()})),
                       connector, sink, Control())
    assert cursor == {"high_water": _at(5).isoformat()}
    assert [r["id"] for r in sink.records] == ["3", "4", "5"]  # at or after the mark
    nothing_new = run_pages(planned(incremental, state=RunState(cursor={"high_water": _at(9).isoformat()})),
                            MemoryConnector(people(5)), Sink(), Control())
    assert nothing_new == {"high_water": _at(9).isoformat()}  # the cursor stays where it was


def test_dropped_filtered_and_unreadable_records() -> None:
    tasks = [
        {"taskType": "Filter", "sourceFields": ["status"], "connectorOperator": {"CustomConnector": "EQUAL_TO"},
         "taskProperties": {"DATA_TYPE": "string", "VALUE": "active"}},
        {"taskType": "Validate", "sourceFields": ["score"], "connectorOperator": {
            "CustomConnector": "VALIDATE_NON_NEGATIVE"}, "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
        MAP_ALL,
    ]
    records = [
        {"id": "1", "status": "active", "score": "1"},
        {"id": "2", "status": "gone", "score": "1"},
        {"id": "3", "status": "active", "score": "-1"},
        UnreadableRecord('{"id": [[[', "too deep to read"),
    ]
    sink = Sink()
    run_pages(planned(definition(tasks), page_size=10), MemoryConnector(records), sink, Control())
    (batch,) = sink.batches
    assert [r["id"] for r in batch.records] == ["1"] and batch.read == 4
    assert [reason for _, reason in batch.dropped] == [
        "tasks.2 (Validate): score failed VALIDATE_NON_NEGATIVE", "too deep to read"]
    assert batch.dropped[1][0] == '{"id": [[['


def test_a_run_resumes_from_its_last_committed_batch() -> None:
    records = people(5)
    crashed = Sink(fail_at=3)
    with pytest.raises(RuntimeError):
        run_pages(planned(), MemoryConnector(records), crashed, Control())
    resumed = Sink()
    connector = MemoryConnector(records)
    run_pages(planned(state=RunState(checkpoint=crashed.checkpoint)), connector, resumed, Control())
    assert connector.requests[0].checkpoint == 4
    assert [r["id"] for r in crashed.records + resumed.records] == ["1", "2", "3", "4", "5"]


def test_event_types_split_a_page_and_resume_inside_it() -> None:
    mapping = Mapping_(None, {"order": "orders", "person": "people"})
    kinds = ["person", "person", "order", "refund", "person", "order"]
    records = [{"id": str(i), EVENT_TYPE_FIELD: kind} for i, kind in enumerate(kinds, 1)]
    flow = definition(object_type=None)
    sink = Sink()
    run_pages(planned(flow, mapping, page_size=4), MemoryConnector(records), sink, Control())
    assert [(b.object_type, [r["id"] for r in b.records], [d[1][:20] for d in b.dropped], b.read)
            for b in sink.batches] == [
        ("people", ["1", "2"], [], 2),
        ("orders", ["3"], ["The record's eventTy"], 2),  # the refund goes along as a dead letter
        ("people", ["5"], [], 1),
        ("orders", ["6"], [], 1),
    ]
    inside = {"openprofiles:inside-page": {"after": None, "skip": 2}}
    assert [b.checkpoint for b in sink.batches] == [inside, 4, {"openprofiles:inside-page": {"after": 4, "skip": 1}}, 6]

    for crash_at in (2, 3, 4):  # stop before any batch after the first: the rest comes once on resume
        crashed = Sink(fail_at=crash_at)
        with pytest.raises(RuntimeError):
            run_pages(planned(flow, mapping, page_size=4), MemoryConnector(records), crashed, Control())
        resumed = Sink()
        again = planned(flow, mapping, RunState(checkpoint=crashed.checkpoint), page_size=3)  # smaller pages now
        run_pages(again, MemoryConnector(records), resumed, Control())
        ids = [r["id"] for r in crashed.records + resumed.records]
        assert ids == ["1", "2", "3", "5", "6"], crash_at
        assert sum(b.read for b in crashed.batches + resumed.batches) == 6


def test_a_page_of_dead_letters_only_goes_under_the_first_object_type() -> None:
    mapping = Mapping_(None, {"person": "people", "order": "orders"})
    sink = Sink()
    run_pages(planned(definition(object_type=None), mapping), MemoryConnector([{"id": "1"}]), sink, Control())
    (batch,) = sink.batches
    assert (batch.object_type, batch.records, len(batch.dropped), batch.read) == ("orders", [], 1, 1)


def test_cancel_stops_before_the_next_batch() -> None:
    sink = Sink()
    control = Control(stop_at=3)  # checks: page 1 read, page 1 before its batch, page 2 read
    with pytest.raises(Cancelled):
        run_pages(planned(), MemoryConnector(people(5)), sink, control)
    assert [b.checkpoint for b in sink.batches] == [2]


def test_source_errors_end_the_loop_after_what_was_committed() -> None:
    for error in (ConnectorError("rate limited", transient=True), ConnectorError("no such object")):
        sink = Sink()
        with pytest.raises(ConnectorError) as raised:
            run_pages(planned(), MemoryConnector(people(5), fail_after=1, error=error), sink, Control())
        assert raised.value is error and raised.value.transient == error.transient
        assert [b.checkpoint for b in sink.batches] == [2]  # the run resumes from here


def test_a_terminating_validation_stops_the_run_without_its_page() -> None:
    tasks = [{"taskType": "Validate", "sourceFields": ["score"], "connectorOperator": {
        "CustomConnector": "VALIDATE_NON_NEGATIVE"}, "taskProperties": {"VALIDATION_ACTION": "TerminateFlow"}},
        MAP_ALL]
    records = [{"id": "1", "score": "1"}, {"id": "2", "score": "1"}, {"id": "3", "score": "1"},
               {"id": "4", "score": "-1"}]
    sink = Sink()
    with pytest.raises(Invalid, match=re.escape("Validation stopped the run: tasks.1 (Validate): score failed")):
        run_pages(planned(definition(tasks)), MemoryConnector(records), sink, Control())
    assert [r["id"] for r in sink.records] == ["1", "2"]  # not record 3, on the stopping page
