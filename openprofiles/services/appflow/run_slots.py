"""This process's share of the flow runs: which runs it executes, their leases, stuck runs, takeovers.

A run is executed by the process that holds its lease (the `worker` and `heartbeat_at` columns of
flow_executions, changed only by compare-and-set). `RunSlots`:

- claims a run only while fewer than `concurrency` runs execute here, and executes each on a
  thread of its own;
- renews the leases of its runs every `lease / 3` seconds from a timer thread, so a lease expires
  only when its process has stopped (or hung) for `lease` seconds;
- ends a run that made no progress (no page from its connector, no batch written) for
  `stuck_timeout` seconds. A thread cannot be killed: the stuck one stays blocked in the
  connector, but it has given its slot up and writes nothing more;
- when taking over (`serve`, `worker`), claims on the same timer the active runs nobody holds:
  those whose process died (lease expired), handed back by a process that stopped, or left
  waiting by a process that had no free slot.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from openprofiles.clock import Clock
from openprofiles.storage.store import Store

log = logging.getLogger(__name__)

#: Ended runs remembered for `wait`.
_REMEMBERED = 64


@dataclass(frozen=True)
class RunSettings:
    #: Runs this process executes at once.
    concurrency: int = 2
    #: Records per page asked of the connector: one ingest batch, one transaction, one checkpoint.
    batch_size: int = 1000
    #: Seconds a lease lasts without renewal (renewed every third of it).
    lease: float = 30.0
    #: Seconds without progress after which a run ends in Error.
    stuck_timeout: float = 600.0

    @property
    def tick(self) -> float:
        """Seconds between lease renewals, stuck-run checks and takeovers."""
        return max(self.lease / 3, 0.05)


@dataclass(frozen=True)
class RunOutcome:
    status: str
    message: str | None
    #: The flow's incremental cursor to save with a successful end.
    cursor: dict[str, Any] | None = None


@dataclass(eq=False)
class ActiveRun:
    """A run this process executes."""

    execution_id: str
    last_progress: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    outcome: RunOutcome | None = None
    #: Set once this process holds the run's lease; until then its slot is only reserved (`submit`),
    #: and the upkeep leaves it alone: there is no lease yet to renew or lose.
    claimed: bool = False
    #: Set once the run is no longer this process's (lease lost, or ended for no progress).
    dropped: bool = False

    def progressed(self) -> None:
        self.last_progress = time.monotonic()


class RunSlots:
    def __init__(self, store: Store, clock: Clock, settings: RunSettings,
                 execute: Callable[[ActiveRun], None], end_stuck: Callable[[ActiveRun], None]) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._execute = execute
        self._end_stuck = end_stuck
        self._runs: dict[str, ActiveRun] = {}
        self._ended: OrderedDict[str, ActiveRun] = OrderedDict()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.closing = threading.Event()
        self._timer: threading.Thread | None = None
        self._taking_over = False

    def _expired_before(self) -> Any:
        return self.clock.now() - timedelta(seconds=self.settings.lease)

    # Claiming.

    def submit(self, execution_id: str) -> bool:
        """Execute a run here when a slot is free and nobody holds the run. False leaves it to
        whichever process takes it over (this one too, when taking over)."""
        with self._lock:
            if self.closing.is_set() or len(self._runs) >= self.settings.concurrency or execution_id in self._runs:
                return False
            run = self._runs[execution_id] = ActiveRun(execution_id)  # the slot is reserved
        try:
            with self.store.write() as uow:
                claimed = uow.executions.claim(execution_id, self.worker_id, self.clock.now(), self._expired_before())
        except BaseException:
            self._unreserve(run)
            raise
        if not claimed:
            self._unreserve(run)
            return False
        with self._lock:
            run.claimed = True
        log.info("flow execution %s: running on %s", execution_id, self.worker_id)
        self._start_timer()
        threading.Thread(target=self._thread, args=(run,), name=f"flow-run-{execution_id[:8]}", daemon=True).start()
        return True

    def take_over(self) -> int:
        """Claim active runs nobody holds, as many as there are free slots; how many."""
        with self._lock:
            free = self.settings.concurrency - len(self._runs)
        if free <= 0 or self.closing.is_set():
            return 0
        with self.store.read() as uow:
            candidates = uow.executions.claimable(self._expired_before(), free)
        return sum(self.submit(execution_id) for execution_id in candidates)

    def take_over_in_background(self) -> int:
        """Take over runs nobody holds now and on every tick from now on; how many were taken now."""
        self._taking_over = True
        self._start_timer()
        return self.take_over()

    # Waiting and stopping.

    def wait(self, execution_id: str, timeout: float | None = None) -> RunOutcome | None:
        """The outcome of a run this process executes or executed lately, once it ended (None if not
        one of them, not ended within `timeout`, or ended without one: handed back, taken from it,
        its end not recorded)."""
        with self._lock:
            run = self._runs.get(execution_id) or self._ended.get(execution_id)
        if run is None:
            return None
        return run.outcome if run.done.wait(timeout) else None

    def close(self, timeout: float = 10.0) -> None:
        """Stop claiming; running runs stop at their next page and hand their leases back."""
        self.closing.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.done.wait(max(0.0, deadline - time.monotonic()))
        # The upkeep thread may be inside a transaction: it ends before the caller disposes the database.
        timer = self._timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(max(0.0, deadline - time.monotonic()))

    # The threads.

    def _thread(self, run: ActiveRun) -> None:
        try:
            self._execute(run)
        except Exception:
            # The run keeps its lease until it expires, then is taken over and resumed.
            log.exception("flow execution %s: could not record its end", run.execution_id)
            run.outcome = None  # not recorded: `wait` answers none
        finally:
            with self._lock:  # in one step, so that `wait` finds the run in either
                if self._runs.get(run.execution_id) is run:
                    del self._runs[run.execution_id]
                self._ended[run.execution_id] = run
                while len(self._ended) > _REMEMBERED:
                    self._ended.popitem(last=False)
            run.done.set()
            self._wake.set()  # a slot is free: take over a waiting run

    def _forget(self, run: ActiveRun) -> None:
        with self._lock:
            if self._runs.get(run.execution_id) is run:
                del self._runs[run.execution_id]

    def _unreserve(self, run: ActiveRun) -> None:
        """Give up a slot reserved for a run that was not claimed; whoever waits for it stops waiting."""
        self._forget(run)
        run.done.set()

    def _start_timer(self) -> None:
        with self._lock:
            if self._timer is None and not self.closing.is_set():
                self._timer = threading.Thread(target=self._tick_forever, name="flow-run-leases", daemon=True)
                self._timer.start()

    def _tick_forever(self) -> None:
        while not self.closing.is_set():
            self._wake.wait(self.settings.tick)
            self._wake.clear()
            if self.closing.is_set():
                return
            try:
                self.tick()
            except Exception:
                log.exception("flow run upkeep failed; retrying at the next tick")

    def tick(self) -> None:
        """End stuck runs, renew the leases of the others, and take over runs nobody holds. A slot
        reserved by `submit` for a run not claimed yet is not a run of this process's yet: left alone."""
        with self._lock:
            runs = [run for run in self._runs.values() if run.claimed]
        now = time.monotonic()
        stuck = [run for run in runs if now - run.last_progress > self.settings.stuck_timeout]
        for run in stuck:
            run.dropped = True
            self._forget(run)
            self._end_stuck(run)
        alive = [run for run in runs if run not in stuck]
        if alive:
            with self.store.write() as uow:
                lost = [run for run in alive if not uow.executions.renew(run.execution_id, self.worker_id,
                                                                          self.clock.now())]
            for run in lost:
                if not run.done.is_set():
                    log.warning("flow execution %s: lease lost; another process has it", run.execution_id)
                run.dropped = True
                self._forget(run)
        if self._taking_over:
            self.take_over()
