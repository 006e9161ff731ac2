"""Flow runs: extract from the source, apply the tasks, load through the batch ingest service.

Each page the connector yields becomes one ingest batch; the run's counters and the page's
checkpoint commit in that batch's transaction, so a run that stops (crash, cancel) resumes from
the last committed page without losing or duplicating records. Records the tasks drop are kept
as dead letters with their reason, in the same transaction. When an incremental run succeeds the
flow's cursor moves to the highest modification time the run saw.
Runs execute on a small pool of worker threads inside the process that started them.
"""

from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from openprofiles.clock import Clock
from openprofiles.connectors.base import Connection, ConnectorError, ExtractRequest
from openprofiles.flows.tasks import Dropped, Output, Terminated, compile_tasks
from openprofiles.services.appflow.connector_profiles import ConnectorProfileService
from openprofiles.services.appflow.flows import FlowService, next_run_at, trigger_type
from openprofiles.services.appflow.pushed_records import EVENT, EventBatches
from openprofiles.services.context import RequestContext
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.ingest import IngestResult, IngestService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.services.errors import Invalid, NotFound, ServiceError, Unsupported
from openprofiles.storage.executions import ExecutionRecord
from openprofiles.storage.flows import FlowRecord
from openprofiles.storage.store import Store, UnitOfWork

log = logging.getLogger(__name__)

#: The trigger of a run over the time window [dataPullStartTime, dataPullEndTime) of its execution
#: (an integration workflow's backfill step): it reads that window and leaves the flow's cursor alone.
BACKFILL = "Backfill"

ACTIVE = ("InProgress", "CancelStarted")


class RunCancelled(Exception):
    """The run was asked to stop; what it committed stays."""


@dataclass(frozen=True)
class RunOutcome:
    status: str
    message: str | None


class FlowRunner:
    def __init__(
        self,
        store: Store,
        flows: FlowService,
        connector_profiles: ConnectorProfileService,
        domains: DomainService,
        object_types: ObjectTypeService,
        ingest: IngestService,
        clock: Clock,
        workers: int = 2,
    ) -> None:
        self.store = store
        self.flows = flows
        self.connector_profiles = connector_profiles
        self.domains = domains
        self.object_types = object_types
        self.ingest = ingest
        self.clock = clock
        self.worker_id = f"{threading.get_native_id()}-{secrets.token_hex(4)}"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow-run")
        self._running: dict[str, Future[RunOutcome]] = {}

    # Starting and stopping.

    def start(self, ctx: RequestContext, name: str) -> tuple[FlowRecord, str | None]:
        """StartFlow: an OnDemand flow runs now (its execution id is returned); a Scheduled or
        Event flow becomes Active."""
        flow = self.flows.get(ctx, name).record
        trigger = trigger_type(flow.definition)
        if trigger != "OnDemand":
            with self.store.write() as uow:
                uow.flows.update(flow.id, ctx.now, status="Active", status_message=None, consecutive_failures=0,
                                 next_run_at=next_run_at(flow.definition, ctx.now))
            return self.flows.get(ctx, name).record, None
        execution_id = secrets.token_hex(16)
        with self.store.write() as uow:
            if uow.executions.in_status(list(ACTIVE), flow.id):
                raise Invalid(f"Flow {name} already has a run in progress")
            uow.executions.add(flow.id, execution_id, "OnDemand", ctx.now, None, None)
        self.submit(execution_id)
        return flow, execution_id

    def stop(self, ctx: RequestContext, name: str) -> FlowRecord:
        """StopFlow: deactivates a Scheduled or Event flow (OnDemand flows cannot be stopped)."""
        flow = self.flows.get(ctx, name).record
        if trigger_type(flow.definition) == "OnDemand":
            raise Unsupported(f"Flow {name} runs on demand; there is nothing to stop")
        with self.store.write() as uow:
            uow.flows.update(flow.id, ctx.now, status="Suspended", status_message="Stopped by StopFlow")
        return self.flows.get(ctx, name).record

    def cancel(self, ctx: RequestContext, name: str, execution_ids: list[str] | None) -> list[str]:
        """CancelFlowExecutions; returns the ids that could not be cancelled."""
        flow = self.flows.get(ctx, name).record
        invalid = []
        with self.store.write() as uow:
            active = {e.execution_id for e in uow.executions.in_status(["InProgress"], flow.id)}
            wanted = execution_ids if execution_ids is not None else sorted(active)
            for execution_id in wanted:
                if execution_id in active:
                    uow.executions.set_status(execution_id, "CancelStarted", ctx.now, "Cancel requested",
                                              expected=["InProgress"])
                else:
                    invalid.append(execution_id)
        return invalid

    def records(self, ctx: RequestContext, name: str, after: int | None, limit: int) -> list[ExecutionRecord]:
        flow = self.flows.get(ctx, name).record
        with self.store.read() as uow:
            return uow.executions.page(flow.id, after, limit)

    def submit(self, execution_id: str) -> Future[RunOutcome]:
        future = self._pool.submit(self.run, execution_id)
        self._running[execution_id] = future
        future.add_done_callback(lambda _: self._running.pop(execution_id, None))
        return future

    def resume_interrupted(self) -> int:
        """Resume runs left InProgress by a process that stopped (from their last checkpoint)."""
        with self.store.read() as uow:
            stale = [e.execution_id for e in uow.executions.in_status(["InProgress", "CancelStarted"])
                     if e.execution_id not in self._running]
        for execution_id in stale:
            self.submit(execution_id)
        return len(stale)

    def wait(self, execution_id: str, timeout: float | None = None) -> RunOutcome | None:
        future = self._running.get(execution_id)
        return future.result(timeout) if future is not None else None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # The run.

    def run(self, execution_id: str) -> RunOutcome:
        """Execute (or resume) one run to its end; never raises."""
        try:
            outcome = self._run(execution_id)
        except RunCancelled:
            outcome = RunOutcome("Canceled", "Canceled; records written before the cancel stay")
        except (ServiceError, ConnectorError) as error:
            outcome = RunOutcome("Error", error.message)
        except Exception as error:
            log.exception("flow run %s failed", execution_id)
            outcome = RunOutcome("Error", f"Internal error: {type(error).__name__}")
        self._finish(execution_id, outcome)
        return outcome

    def _run(self, execution_id: str) -> RunOutcome:
        with self.store.write() as uow:
            execution = uow.executions.get(execution_id)
            if execution is None:
                raise NotFound(f"Execution {execution_id} does not exist")
            if execution.status == "CancelStarted":
                raise RunCancelled()
            uow.executions.claim(execution_id, self.worker_id, self.clock.now())
            flow = uow.flows.get_by_id(execution.flow_id)
        assert flow is not None
        definition = flow.definition
        source = definition["sourceFlowConfig"]
        ctx = RequestContext(flow.account_id, flow.region, "FlowRun", execution_id, self.clock.now())
        destination = definition["destinationFlowConfigList"][0]["destinationConnectorProperties"]["CustomerProfiles"]
        domain = self.domains.record(ctx, destination["domainName"])
        type_name = destination.get("objectTypeName")
        if not type_name:
            raise Invalid("The flow's CustomerProfiles destination names no objectTypeName")
        otype = self.object_types.resolve(domain, type_name)
        pipeline = compile_tasks(definition.get("tasks") or [], source["connectorType"])
        connector = (EventBatches(self.store, self.connector_profiles.envelope).source(execution_id)
                     if execution.trigger == EVENT else self._connector(ctx, source))
        windowed = execution.trigger == BACKFILL
        incremental = not windowed and (definition.get("triggerConfig", {}).get("triggerProperties", {})
                                        .get("Scheduled", {}).get("dataPullMode") == "Incremental")
        since = _parse_time(flow.cursor.get("high_water")) if incremental and flow.cursor else None
        if windowed:
            since = execution.data_pull_start
        request = ExtractRequest(
            entity=_entity(source),
            source_properties=_source_properties(source),
            fields=list(pipeline.projected_fields) if pipeline.projected_fields else None,
            filters=pipeline.record_filters,
            since=since,
            until=execution.data_pull_end if windowed else None,
            modified_field=(source.get("incrementalPullConfig") or {}).get("datetimeTypeFieldName")
            or type(connector).default_modified_field,
            checkpoint=execution.checkpoint,
        )
        high_water = since
        for page in connector.extract(request):
            outputs, dropped = [], []
            for record in page.records:
                outcome = pipeline.apply(record)
                if isinstance(outcome, Output):
                    outputs.append(outcome.record)
                elif isinstance(outcome, Dropped):
                    dropped.append((orjson.dumps(record, default=str).decode(), outcome.reason))
                elif isinstance(outcome, Terminated):
                    raise Invalid(f"Validation stopped the run: {outcome.reason}")
            if page.high_water and (high_water is None or page.high_water > high_water):
                high_water = page.high_water
            size = sum(len(orjson.dumps(r, default=str)) for r in page.records)
            self._load(execution_id, domain, otype, outputs, dropped, page.checkpoint, len(page.records), size)
        if incremental and high_water is not None:
            with self.store.write() as uow:
                uow.flows.update(flow.id, self.clock.now(), cursor={"high_water": high_water.isoformat()})
        return RunOutcome("Successful", None)

    def _connector(self, ctx: RequestContext, source: dict[str, Any]) -> Any:
        name = source.get("connectorProfileName")
        if name:
            return self.connector_profiles.connector(self.connector_profiles.get(ctx, name))
        cls = self.connector_profiles.connector_class(source["connectorType"], None)
        return cls(Connection("", source["connectorType"], {}, {}))

    def _load(self, execution_id: str, domain: Any, otype: Any, outputs: list[dict[str, Any]],
              dropped: list[tuple[str, str]], checkpoint: Any, count: int, size: int) -> None:
        now = self.clock.now()

        def commit(uow: UnitOfWork, results: list[IngestResult]) -> None:
            current = uow.executions.get(execution_id)
            if current is not None and current.status == "CancelStarted":
                raise RunCancelled()
            failures = sum(1 for r in results if r.rejected) + len(dropped)
            written = sum(len(orjson.dumps(o, default=str)) for o, r in zip(outputs, results, strict=True)
                          if not r.rejected)
            uow.executions.progress(execution_id, now, records=count, bytes_in=size, bytes_out=written,
                                    failures=failures, checkpoint=checkpoint)

        self.ingest.ingest(domain, otype, [orjson.dumps(o, default=str).decode() for o in outputs],
                           source=f"flow-execution:{execution_id}", performed_by="AppFlow", now=now,
                           dropped=dropped, within=commit)

    def _finish(self, execution_id: str, outcome: RunOutcome) -> None:
        now = self.clock.now()
        with self.store.write() as uow:
            execution = uow.executions.get(execution_id)
            if execution is None:
                return
            status = outcome.status
            if execution.status == "CancelStarted" and status != "Error":
                status = "Canceled"
            uow.executions.set_status(execution_id, status, now, outcome.message)
            flow = uow.flows.get_by_id(execution.flow_id)
            if flow is None:
                return
            failures = 0 if status == "Successful" else flow.consecutive_failures + (status == "Error")
            values: dict[str, Any] = {"consecutive_failures": failures}
            threshold = ((flow.definition.get("triggerConfig") or {}).get("triggerProperties") or {}).get(
                "Scheduled", {}).get("flowErrorDeactivationThreshold")
            if threshold and failures >= threshold and flow.status == "Active":
                values.update(status="Suspended", next_run_at=None, status_message=(
                    f"Suspended after {failures} consecutive failed runs; last error: {outcome.message}"))
            uow.flows.update(flow.id, now, **values)


def _entity(source: dict[str, Any]) -> str:
    properties = next(iter(source["sourceConnectorProperties"].values()))
    if "object" in properties:
        return str(properties["object"])
    if "entityName" in properties:
        return str(properties["entityName"])
    if "bucketName" in properties:
        return "/".join(p for p in (properties["bucketName"], properties.get("bucketPrefix")) if p)
    raise Invalid("sourceConnectorProperties names no object or entity")


def _source_properties(source: dict[str, Any]) -> dict[str, Any]:
    return dict(next(iter(source["sourceConnectorProperties"].values())))


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
