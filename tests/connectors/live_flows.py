"""Scheduled flow runs on the live server, for connectors' end-to-end tests.

A Scheduled flow whose scheduleStartTime is `soon()` is fired by the server's own scheduler at its
next tick; UpdateFlow with a new start time (same source) fires it again, keeping its incremental
cursor, so a test sees a second, incremental run without waiting for the schedule's period.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any


def soon() -> datetime:
    """A schedule start time two seconds from now."""
    return datetime.now(UTC) + timedelta(seconds=2)


def wait_for_run(appflow: Any, flow: str, done: int, timeout: float = 90) -> dict[str, Any]:
    """The flow's latest execution record once `done` runs have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = appflow.describe_flow_execution_records(flowName=flow)["flowExecutions"]
        finished = [r for r in runs if r["executionStatus"] not in ("InProgress", "CancelStarted")]
        if len(finished) >= done:
            return dict(max(finished, key=lambda r: r["startedAt"]))
        time.sleep(0.5)
    raise AssertionError(f"run {done} of flow {flow} did not finish within {timeout:.0f} s")
