"""`openprofiles worker`: fires scheduled flow runs, ticks integration workflows and takes over runs
whose process died, without serving HTTP."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from openprofiles import logs
from openprofiles.cli.common import (
    grant_options,
    grant_settings,
    open_runtime,
    run_options,
    run_settings,
    settings_for,
    storage_options,
)


@click.command()
@click.option("--scheduler-interval", envvar="OPENPROFILES_SCHEDULER_INTERVAL", type=click.FloatRange(min=0.1),
              default=10, show_default=True, help="Seconds between checks for scheduled flow runs that are due.")
@grant_options
@run_options(parallel=True)
@storage_options
def worker(scheduler_interval: float, data_dir: Path, database_url: str | None, **runs: Any) -> None:
    """Run scheduled flows and take over runs whose process died, without serving HTTP (beside or instead of serve)."""
    logs.configure("info")
    runtime = open_runtime(settings_for(data_dir, database_url, scheduler_interval=scheduler_interval,
                                        **run_settings(runs), **grant_settings(runs)))
    # SIGTERM stops like Ctrl-C: running runs hand their leases back for another process to take over.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        resumed = runtime.runner.resume_interrupted()
        click.echo(f"worker {runtime.runner.worker_id} started; took over {resumed} runs")
        sys.stdout.flush()
        while True:
            for execution_id in runtime.scheduler.tick():
                click.echo(f"started scheduled run {execution_id}")
            runtime.workflows.tick()
            time.sleep(scheduler_interval)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
