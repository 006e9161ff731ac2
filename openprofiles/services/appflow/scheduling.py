"""Fires scheduled flows: each tick starts a run for every Active flow whose time has come.

Several processes may tick over the same database: a run is fired by the one whose
compare-and-set of the flow's next run time succeeds, so a schedule fires once. A flow whose
records have no object type to go to (flows/engine.py `routing`: its destination names none and
its domain has no integration for it) is not run: the fire time passes, and its
flowStatusMessage says what to add, until a later fire time finds it runnable.
"""

from __future__ import annotations

import logging
import secrets

from openprofiles.clock import Clock
from openprofiles.context import RequestContext
from openprofiles.flows.engine import NoObjectType
from openprofiles.services.appflow.executions import FlowRunner
from openprofiles.services.appflow.flows import next_run_at
from openprofiles.storage.store import Store

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, store: Store, runner: FlowRunner, clock: Clock) -> None:
        self.store = store
        self.runner = runner
        self.clock = clock

    def tick(self) -> list[str]:
        """Start the runs that are due; returns their execution ids."""
        now = self.clock.now()
        with self.store.read() as uow:
            due = uow.flows.due(now)
        started = []
        for flow in due:
            assert flow.next_run_at is not None
            following = next_run_at(flow.definition, now)
            execution_id = secrets.token_hex(16)
            refused = None
            try:
                ctx = RequestContext(flow.account_id, flow.region, "Scheduler", execution_id, now)
                self.runner.check_destination(ctx, flow)
            except NoObjectType as error:
                refused = error.message
            with self.store.write() as uow:
                if not uow.flows.claim_run(flow.id, flow.next_run_at, following, now):
                    continue  # another process fired it
                if refused is not None or flow.status_message is not None:
                    uow.flows.update(flow.id, now, status_message=refused)
                if refused is not None:
                    log.warning("flow %s: scheduled run not started: %s", flow.name, refused)
                    continue
                if uow.executions.in_status(["InProgress", "CancelStarted"], flow.id):
                    log.warning("flow %s: run skipped, the previous one is still in progress", flow.name)
                    continue
                uow.executions.add(flow.id, execution_id, "Scheduled", now, None, flow.next_run_at)
            self.runner.submit(execution_id)
            started.append(execution_id)
        return started
