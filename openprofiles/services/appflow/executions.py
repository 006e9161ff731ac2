"""Flow runs: load the run, let the flow engine (flows/engine.py) plan it and run its pages, persist.

Each page the connector yields becomes one ingest batch of the destination (destinations.py; one
per stretch of records of one object type when an integration maps by event type); the run's
counters and the batch's checkpoint (sealed with the destination domain's data key, like the records: it may hold source
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
import threading
from typing import Any

import orjson

from openprofiles.clock import Clock
from openprofiles.connectors.base import Connection, ConnectorError
from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, ServiceError, Unsupported
from openprofiles.flows.engine import Batch, RunState, destination_properties, plan, routing, run_pages
from openprofiles.services.appflow.connector_profiles import ConnectorProfileService
from openprofiles.services.appflow.destinations import DomainDestination, FlowIntegration, ProfilesDestination
from openprofiles.services.appflow.flows import FlowService, flow_arn, next_run_at, trigger_type
from openprofiles.services.appflow.pushed_records import EVENT, EventBatches
from openprofiles.services.appflow.run_slots import ActiveRun, RunOutcome, RunSettings, RunSlots
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
        destination: ProfilesDestination,
        clock: Clock,
        settings: RunSettings | None = None,
    ) -> None:
        self.store = store
        self.flows = flows
        self.connector_profiles = connector_profiles
        self.destination = destination
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
        self.check_destination(ctx, flow)
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

    def check_destination(self, ctx: RequestContext, flow: FlowRecord) -> None:
        """A flow's records have an object type to go to (its destination's, or its integration's
        mapping: flows/engine.py `routing`); NoObjectType (ConflictException) naming what to add otherwise.
        StartFlow, the scheduler and event pushes check it before a run is recorded."""
        routing(flow.definition, self._integration(ctx, flow))

    def _integration(self, ctx: RequestContext, flow: FlowRecord) -> FlowIntegration | None:
        """The domain's integration for the flow, looked up only when the flow names no object type."""
        properties = destination_properties(flow.definition)
        if properties.get("objectTypeName"):
            return None
        arn = flow_arn(flow.region, flow.account_id, flow.name)
        return self.destination.integration(ctx, str(properties["domainName"]), arn)

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

    def _run(self, run: ActiveRun) -> RunOutcome:
        """Load the run, plan it and run its pages (flows/engine.py); the outcome to record."""
        execution_id = run.execution_id
        with self.store.read() as uow:
            execution = uow.executions.get(execution_id)
            if execution is None or execution.worker != self.worker_id:
                raise LeaseLost()
            if execution.status == "CancelStarted":
                raise RunCancelled()
            flow = uow.flows.get_by_id(execution.flow_id)
        assert flow is not None
        ctx = RequestContext(flow.account_id, flow.region, "FlowRun", execution_id, self.clock.now())
        integration = self._integration(ctx, flow)
        destination = self.destination.open(ctx, str(destination_properties(flow.definition)["domainName"]))
        connector = (EventBatches(self.store, self.connector_profiles.envelope).source(execution_id)
                     if execution.trigger == EVENT else self._connector(ctx, flow.definition["sourceFlowConfig"]))
        window = (execution.data_pull_start, execution.data_pull_end) if execution.trigger == BACKFILL else None
        state = RunState(cursor=flow.cursor, window=window, checkpoint=self._resume_point(execution))
        planned = plan(flow.definition, integration, state, page_size=self.settings.batch_size,
                       default_modified_field=type(connector).default_modified_field)
        for name in planned.routing.names:
            destination.resolve(name)
        cursor = run_pages(planned, connector, lambda batch: self._load(execution_id, destination, batch),
                           _Control(run, self.slots.closing))
        return RunOutcome("Successful", None, cursor)

    def _connector(self, ctx: RequestContext, source: dict[str, Any]) -> Any:
        name = source.get("connectorProfileName")
        if name:
            return self.connector_profiles.connector(self.connector_profiles.get(ctx, name))
        cls = self.connector_profiles.connector_class(source["connectorType"], None)
        return cls(Connection("", source["connectorType"], {}, {}, None, ctx.account_id,
                              self.connector_profiles.grants))

    def _load(self, execution_id: str, destination: DomainDestination, batch: Batch) -> None:
        """Ingest a batch; its counters and sealed checkpoint commit in the same transaction, if
        this process still holds the run (else the batch is rolled back)."""
        now = self.clock.now()
        blobs = [orjson.dumps(o, default=str) for o in batch.records]
        checkpoint = self._sealed_checkpoint(execution_id, destination, batch.checkpoint)

        def commit(uow: UnitOfWork, rejected: list[str | None]) -> None:
            failures = sum(1 for r in rejected if r is not None) + len(batch.dropped)
            written = sum(len(b) for b, r in zip(blobs, rejected, strict=True) if r is None)
            if not uow.executions.progress(execution_id, self.worker_id, now, records=batch.read,
                                           bytes_in=batch.size, bytes_out=written, failures=failures,
                                           checkpoint=checkpoint):
                current = uow.executions.get(execution_id)
                if current is not None and current.worker == self.worker_id and current.status == "CancelStarted":
                    raise RunCancelled()
                raise LeaseLost()  # the batch is rolled back

        destination.load(batch.object_type, [b.decode() for b in blobs], dropped=batch.dropped,
                         source=f"flow-execution:{execution_id}", performed_by="AppFlow", now=now, within=commit)

    def _sealed_checkpoint(self, execution_id: str, destination: DomainDestination, checkpoint: Any) -> bytes | None:
        """A batch's checkpoint sealed like the records it covers (the destination domain's data key),
        bound to its execution; it may hold source values (the SQL connector's last key)."""
        if checkpoint is None:
            return None
        return self.connector_profiles.envelope.seal(destination.scope, orjson.dumps(checkpoint),
                                                     _checkpoint_aad(execution_id), destination.key_ref)

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


class _Control:
    """The engine's run control: progress for the stuck-run timer, and the checks that stop a run."""

    def __init__(self, run: ActiveRun, closing: threading.Event) -> None:
        self.run = run
        self.closing = closing

    def progressed(self) -> None:
        self.run.progressed()

    def check(self) -> None:
        """Stop before the next batch when the run is no longer ours or the process is stopping."""
        if self.run.dropped:
            raise LeaseLost()
        if self.closing.is_set():
            raise Stopping()


def _checkpoint_aad(execution_id: str) -> bytes:
    return f"flow-execution-checkpoint:{execution_id}".encode()
