"""Driving a live server's scheduler from boto3: a schedule that fires in seconds, and waiting for runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any


def schedule_soon(seconds: int = 4) -> dict[str, Any]:
    """An incremental one-minute schedule whose next fire time is `seconds` from now (UpdateFlow with a
    fresh one makes an Active flow fire again soon, keeping its incremental cursor)."""
    return {"scheduleExpression": "rate(1minutes)", "dataPullMode": "Incremental",
            "scheduleStartTime": datetime.now(UTC) - timedelta(seconds=60 - seconds)}


def wait_for_run(appflow: Any, flow: str, count: int, timeout: float = 90) -> dict[str, Any]:
    """The `count`-th execution of a flow, once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = sorted(appflow.describe_flow_execution_records(flowName=flow)["flowExecutions"],
                      key=lambda r: r["startedAt"])
        if len(runs) >= count and runs[count - 1]["executionStatus"] not in ("InProgress", "CancelStarted"):
            return dict(runs[count - 1])
        time.sleep(0.5)
    raise AssertionError(f"run {count} of {flow} did not finish")
