"""How the command-line tests run `openprofiles`: in a subprocess (`run`) or in this process (`command`, `keys`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from openprofiles.cli import main
from tests.harness import cli_in_process


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`openprofiles ARGS` in `cwd` (so a storage option that is ignored cannot touch the repository),
    without any OPENPROFILES_* variable of the calling environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENPROFILES_")}
    try:
        return subprocess.run(
            [sys.executable, "-m", "openprofiles", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**base, **(env or {})},
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"`openprofiles {' '.join(args)}` did not finish in {timeout}s: {error.stdout!r} {error.stderr!r}")


#: The storage variables unset for an in-process command, so the caller's environment cannot leak in.
UNSET: dict[str, str | None] = {
    "OPENPROFILES_DATA_DIR": None,
    "OPENPROFILES_DATABASE_URL": None,
    "OPENPROFILES_MASTER_KEY": None,
}


def command(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Any:
    """`openprofiles ARGS` in this process (`input` its stdin), without the caller's storage variables:
    a `click.testing.Result`."""
    return CliRunner().invoke(main, list(args), env={**UNSET, **(env or {})}, input=input, catch_exceptions=False)


def keys(*args: str, env: dict[str, str | None] | None = None) -> Any:
    """`openprofiles keys ARGS` in this process (the subprocess path is covered by `run` and by
    every live server's `keys create`)."""
    return cli_in_process("keys", *args, env={**UNSET, **(env or {})})
