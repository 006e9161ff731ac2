"""`openprofiles worker`: it takes runs over, fires the scheduled runs that are due at each check and
stops on SIGTERM like on Ctrl-C. In this process, its pause between checks replaced by a wait for the
run it fired, then Ctrl-C."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from openprofiles import logs
from openprofiles.app import Runtime
from openprofiles.cli import worker
from openprofiles.cli.common import open_runtime
from openprofiles.clock import FixedClock
from openprofiles.settings import Settings
from tests.cli.invoke import command
from tests.cli.sources import Site, caller, domain, files_profile, flow, profile_count


def test_worker_fires_due_runs_and_stops(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = Site(tmp_path, database_url)
    start = datetime.now(UTC) - timedelta(hours=2)
    with site.runtime(FixedClock(start)) as runtime:  # started two hours ago: a fire time has passed since
        ctx = caller(start)
        domain(runtime, ctx)
        files_profile(runtime, ctx, site, [{"id": "1", "email": "a@x.com"}])
        flow(runtime, ctx, "hourly", {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(1hours)", "dataPullMode": "Complete", "scheduleStartTime": start}}})
        runtime.runner.start(ctx, "hourly")

    handlers: dict[int, Any] = {}
    pauses: list[float] = []

    runtimes: list[Runtime] = []

    def opened(settings: Settings) -> Runtime:
        runtimes.append(open_runtime(settings))
        return runtimes[-1]

    def pause(seconds: float) -> None:
        """The end of the first check: once the run it fired has ended, Ctrl-C."""
        pauses.append(seconds)
        ((runtime,), (record,)) = runtimes, runtimes[0].runner.records(caller(), "hourly", None, 10)
        assert runtime.runner.wait(record.execution_id, timeout=60) is not None, "the scheduled run did not end"
        raise KeyboardInterrupt

    levels: list[str] = []
    monkeypatch.setattr(logs, "configure", levels.append)
    monkeypatch.setattr(worker, "open_runtime", opened)
    monkeypatch.setattr(worker, "time", SimpleNamespace(sleep=pause))
    monkeypatch.setattr(worker, "signal", SimpleNamespace(SIGTERM=signal.SIGTERM, signal=handlers.__setitem__))
    result = command("worker", "--scheduler-interval", "7", *site.storage(), *site.grants())
    assert result.exit_code == 0, result.output
    first, fired = result.stdout.splitlines()
    assert first.startswith("worker ") and first.endswith(" started; took over 0 runs")
    assert fired.startswith("started scheduled run ")
    assert pauses == [7] and levels == ["info"]
    with site.runtime() as runtime:
        (record,) = runtime.runner.records(caller(), "hourly", None, 10)
        assert (record.execution_id, record.status) == (fired.split()[-1], "Successful")
        assert profile_count(runtime, caller()) == 1
    with pytest.raises(SystemExit) as stopped:
        handlers[signal.SIGTERM](signal.SIGTERM, None)
    assert stopped.value.code == 0
