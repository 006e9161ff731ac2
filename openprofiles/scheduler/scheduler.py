"""Fires scheduled flows: each tick starts a run for every Active flow whose time has come.

Several processes may tick over the same database: a run is fired by the one whose
compare-and-set of the flow's next run time succeeds, so a schedule fires once.
"""

from __future__ import annotations

import logging
import secrets

from openprofiles.clock import Clock
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
            with self.store.write() as uow:
                if not uow.flows.claim_run(flow.id, flow.next_run_at, following, now):
                    continue  # another process fired it
                if uow.executions.in_status(["InProgress", "CancelStarted"], flow.id):
                    log.warning("flow %s: run skipped, the previous one is still in progress", flow.name)
                    continue
                uow.executions.add(flow.id, execution_id, "Scheduled", now, None, flow.next_run_at)
            self.runner.submit(execution_id)
            started.append(execution_id)
        return started
