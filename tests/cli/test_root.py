"""The root `openprofiles` group: every command group registered, the version, and a bare
`openprofiles` serving with the OPENPROFILES_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from openprofiles import __version__
from openprofiles.cli import main
from openprofiles.cli.root import main as root_main
from tests.harness import free_port


def test_every_command_group_is_registered() -> None:
    assert main is root_main  # `openprofiles.cli:main`, the console script, is the root group
    assert sorted(main.commands) == ["dead-letters", "expire", "flows", "integrations", "keys", "serve", "worker",
                                     "workflows"]
    listed = CliRunner().invoke(main, ["--help"])
    assert listed.exit_code == 0
    for name in main.commands:
        assert f"  {name} " in listed.output, name


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"openprofiles, version {__version__}\n"


def test_bare_command_serves_with_environment_settings(tmp_path: Path) -> None:
    """`openprofiles` alone is `openprofiles serve`, OPENPROFILES_* variables included."""
    port = free_port()
    env = {**os.environ, "OPENPROFILES_PORT": str(port), "OPENPROFILES_DATA_DIR": str(tmp_path / "data"),
           "OPENPROFILES_AUTH": "open"}
    process = subprocess.Popen([sys.executable, "-m", "openprofiles"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()["auth"] == "open":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("the bare command did not serve on OPENPROFILES_PORT")
        assert (tmp_path / "data" / "openprofiles.db").exists()
        assert not (tmp_path / ".openprofiles").exists()
    finally:
        process.terminate()
        process.wait(10)
