"""Flow runs: extract from the source, apply the tasks, load through the batch ingest service.

Each page the connector yields becomes one ingest batch; the run's counters and the page's
checkpoint (sealed with the destination domain's data key, like the records: it may hold source
values) commit in that batch's transaction, so a run that stops (crash, cancel) resumes from the
last committed page without losing or duplicating records. Records the tasks drop are kept
as dead letters with their reason, in the same transaction. When an incremental run succeeds the
flow's cursor moves to the highest modification time the run saw, with the final status.

Several processes may share a database. A run is executed by the process holding its lease
(storage/executions.py); `RunSlots` (run_slots.py) keeps this process's runs: at most `concurrency`
at once, their leases renewed on a timer, runs without progress for `stuck_timeout` seconds ended
in Error, and, in `serve` and `worker`, runs whose holder died taken over from their checkpoint.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

import orjson

from openprofiles import json_depth
from openprofiles.clock import Clock
from openprofiles.connectors.base import Connection, ConnectorError, ExtractRequest, UnreadableRecord
from openprofiles.context import RequestContext
from openprofiles.crypto.kms import kms_key_ref
from openprofiles.errors import Invalid, ServiceError, Unsupported
from openprofiles.flows.tasks import Dropped, Filtered, Output, Terminated, compile_tasks
from openprofiles.services.appflow.connector_profiles import ConnectorProfileService
from openprofiles.services.appflow.flows import FlowService, next_run_at, trigger_type
from openprofiles.services.appflow.pushed_records import EVENT, EventBatches
from openprofiles.services.appflow.run_slots import ActiveRun, RunOutcome, RunSettings, RunSlots
from openprofiles.services.customer_profiles.crypto_scope import domain_scope
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.ingest import IngestResult, IngestService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.storage.executions import ACTIVE, ExecutionRecord
from openprofiles.storage.flows import FlowRecord
from openprofiles.storage.store import Store, UnitOfWork

log = logging.getLogger(__name__)

#: The trigger of a run over the time window [dataPullStartTime, dataPullEndTime) of its execution
#: (an integration workflow's backfill step): it reads that window and leaves the flow's cursor alone.
BACKFILL = "Backfill"


class RunCancelled(Exception):
    """The run was asked to stop; what it committed stays."""


class LeaseLost(Exception):
    """This process no longer holds the run (taken over, ended here for no progress, or deleted):
    it stops without writing anything more."""


class Stopping(Exception):
    """The process is stopping: the run hands its lease back, to be taken over at once."""


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
        settings: RunSettings | None = None,
    ) -> None:
        self.store = store
        self.flows = flows
        self.connector_profiles = connector_profiles
        self.domains = domains
        self.object_types = object_types
        self.ingest = ingest
        self.clock = clock
        self.settings = settings or RunSettings()
        self.slots = RunSlots(store, clock, self.settings, execute=self._execute, end_stuck=self._end_stuck)

    @property
    def worker_id(self) -> str:
        return self.slots.worker_id

    # Starting and stopping.

    def start(self, ctx: RequestContext, name: str) -> tuple[FlowRecord, str | None]:
        """StartFlow: an OnDemand flow runs now (its execution id is returned); a Scheduled or
        Event flow becomes Active."""
        flow = self.flows.get(ctx, name).record
        self.flows.check_source(ctx, flow.definition)
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

    def submit(self, execution_id: str) -> bool:
        """Execute a run in this process when a slot is free and nobody holds it (see RunSlots.submit)."""
        return self.slots.submit(execution_id)

    def resume_interrupted(self) -> int:
        """Take over, from their last checkpoint, the runs nobody holds (their process died and
        the lease expired, or they wait for a slot) as slots allow, now and every lease tick
        until `close`; how many were taken now. `serve` and `worker` call it once at start."""
        return self.slots.take_over_in_background()

    def wait(self, execution_id: str, timeout: float | None = None) -> RunOutcome | None:
        return self.slots.wait(execution_id, timeout)

    def close(self) -> None:
        """Stop: running runs stop at their next page and hand their leases back."""
        self.slots.close()

    # The run.

    def _execute(self, run: ActiveRun) -> None:
        """Execute (or resume) one run this process has claimed to its end (on its own thread)."""
        run.outcome = self._outcome(run)
        if run.outcome is not None and not run.dropped:
            self._finish(run.execution_id, run.outcome)

    def _outcome(self, run: ActiveRun) -> RunOutcome | None:
        """How the run ended, or None when it stopped without an end of its own to record."""
        try:
            return self._run(run)
        except RunCancelled:
            return RunOutcome("Canceled", "Canceled; records written before the cancel stay")
        except LeaseLost:
            return None
        except Stopping:
            with self.store.write() as uow:
                uow.executions.release(run.execution_id, self.worker_id)
            log.info("flow execution %s: handed back at its last checkpoint", run.execution_id)
            return None
        except (ServiceError, ConnectorError) as error:
            return RunOutcome("Error", error.message)
        except Exception as error:
            log.exception("flow run %s failed", run.execution_id)
            return RunOutcome("Error", f"Internal error: {type(error).__name__}")

    def _end_stuck(self, run: ActiveRun) -> None:
        seconds = f"{self.settings.stuck_timeout:g}"
        message = (f"Stopped: no progress for {seconds} s (no page from the source connector and no batch "
                   "written); records written before stay")
        if self._finish(run.execution_id, RunOutcome("Error", message)):
            log.warning("flow execution %s: no progress for %s s; ended in Error", run.execution_id, seconds)

    def _checked(self, run: ActiveRun) -> None:
        """Stop before the next batch when the run is no longer ours or the process is stopping."""
        if run.dropped:
            raise LeaseLost()
        if self.slots.closing.is_set():
            raise Stopping()

    def _run(self, run: ActiveRun) -> RunOutcome:
        execution_id = run.execution_id
        with self.store.read() as uow:
            execution = uow.executions.get(execution_id)
            if execution is None or execution.worker != self.worker_id:
                raise LeaseLost()
            if execution.status == "CancelStarted":
                raise RunCancelled()
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
            checkpoint=self._resume_point(execution),
            page_size=self.settings.batch_size,
        )
        high_water = since
        apply = pipeline.apply
        for page in connector.extract(request):
            run.progressed()
            self._checked(run)
            outputs, dropped, size = [], [], 0
            for record in page.records:
                data, unreadable = _encoded(record)
                size += len(data)
                if unreadable is not None:
                    dropped.append((data.decode(), unreadable))
                    continue
                outcome = apply(record)
                if isinstance(outcome, Output):
                    outputs.append(outcome.record)
                elif isinstance(outcome, Filtered):
                    continue
                elif isinstance(outcome, Dropped):
                    dropped.append((data.decode(), outcome.reason))
                elif isinstance(outcome, Terminated):
                    raise Invalid(f"Validation stopped the run: {outcome.reason}")
            if page.high_water and (high_water is None or page.high_water > high_water):
                high_water = page.high_water
            self._checked(run)
            checkpoint = self._sealed_checkpoint(execution_id, domain, page.checkpoint)
            self._load(execution_id, domain, otype, outputs, dropped, checkpoint, len(page.records), size)
            run.progressed()
        self._checked(run)
        cursor = {"high_water": high_water.isoformat()} if incremental and high_water is not None else None
        return RunOutcome("Successful", None, cursor)

    def _connector(self, ctx: RequestContext, source: dict[str, Any]) -> Any:
        name = source.get("connectorProfileName")
        if name:
            return self.connector_profiles.connector(self.connector_profiles.get(ctx, name))
        cls = self.connector_profiles.connector_class(source["connectorType"], None)
        return cls(Connection("", source["connectorType"], {}, {}, None, ctx.account_id,
                              self.connector_profiles.grants))

    def _load(self, execution_id: str, domain: Any, otype: Any, outputs: list[dict[str, Any]],
              dropped: list[tuple[str, str]], checkpoint: bytes | None, count: int, size: int) -> None:
        now = self.clock.now()
        blobs = [orjson.dumps(o, default=str) for o in outputs]

        def commit(uow: UnitOfWork, results: list[IngestResult]) -> None:
            failures = sum(1 for r in results if r.rejected) + len(dropped)
            written = sum(len(b) for b, r in zip(blobs, results, strict=True) if not r.rejected)
            if not uow.executions.progress(execution_id, self.worker_id, now, records=count, bytes_in=size,
                                           bytes_out=written, failures=failures, checkpoint=checkpoint):
                current = uow.executions.get(execution_id)
                if current is not None and current.worker == self.worker_id and current.status == "CancelStarted":
                    raise RunCancelled()
                raise LeaseLost()  # the batch is rolled back

        self.ingest.ingest(domain, otype, [b.decode() for b in blobs], source=f"flow-execution:{execution_id}",
                           performed_by="AppFlow", now=now, dropped=dropped, within=commit)

    def _sealed_checkpoint(self, execution_id: str, domain: Any, checkpoint: Any) -> bytes | None:
        """A page's checkpoint sealed like the records it covers (the destination domain's data key),
        bound to its execution; it may hold source values (the SQL connector's last key)."""
        if checkpoint is None:
            return None
        return self.connector_profiles.envelope.seal(domain_scope(domain.id), orjson.dumps(checkpoint),
                                                     _checkpoint_aad(execution_id),
                                                     kms_key_ref(domain.default_encryption_key))

    def _resume_point(self, execution: ExecutionRecord) -> Any:
        """Where a resumed run starts: its sealed checkpoint opened, or a plaintext one from before 0009."""
        if execution.sealed_checkpoint is None:
            return execution.checkpoint
        opened = self.connector_profiles.envelope.open(execution.sealed_checkpoint,
                                                       _checkpoint_aad(execution.execution_id))
        return orjson.loads(opened)

    def _finish(self, execution_id: str, outcome: RunOutcome) -> bool:
        """Record the run's end, if this process still holds it; whether it did."""
        now = self.clock.now()
        with self.store.write() as uow:
            execution = uow.executions.get(execution_id)
            if execution is None or execution.worker != self.worker_id or execution.status not in ACTIVE:
                return False
            status = outcome.status
            if execution.status == "CancelStarted" and status != "Error":
                status = "Canceled"
            if not uow.executions.finish(execution_id, self.worker_id, status, now, outcome.message):
                return False
            flow = uow.flows.get_by_id(execution.flow_id)
            if flow is None:
                return True
            failures = 0 if status == "Successful" else flow.consecutive_failures + (status == "Error")
            values: dict[str, Any] = {"consecutive_failures": failures}
            if status == "Successful" and outcome.cursor is not None:
                values["cursor"] = outcome.cursor
            threshold = ((flow.definition.get("triggerConfig") or {}).get("triggerProperties") or {}).get(
                "Scheduled", {}).get("flowErrorDeactivationThreshold")
            if threshold and failures >= threshold and flow.status == "Active":
                values.update(status="Suspended", next_run_at=None, status_message=(
                    f"Suspended after {failures} consecutive failed runs; last error: {outcome.message}"))
            uow.flows.update(flow.id, now, **values)
        return True


def _encoded(record: dict[str, Any]) -> tuple[bytes, str | None]:
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


def _checkpoint_aad(execution_id: str) -> bytes:
    return f"flow-execution-checkpoint:{execution_id}".encode()


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
