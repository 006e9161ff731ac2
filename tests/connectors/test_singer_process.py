"""connectors/singer_process.py: one tap run in a clean environment, held to its deadline and output
budget, its stderr quoted scrubbed. The taps are small shell scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openprofiles.connectors.base import ConnectorAuthError, ConnectorError
from openprofiles.connectors.singer_process import (
    SAFE_PATH,
    STDERR_EXCERPT,
    Scrubber,
    TapProcess,
    clean_environment,
)
from tests.connectors.helpers import gone


def tap(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "tap"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def run(tmp_path: Path, script: str, *, timeout: float = 30.0, max_output: int = 1 << 20,
        secrets: tuple[str, ...] = ()) -> TapProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return TapProcess(tap(tmp_path, script), ["--config", "c.json"], home, timeout=timeout, max_output=max_output,
                      scrub=Scrubber(secrets))


def test_clean_environment_holds_nothing_of_the_servers(tmp_path: Path) -> None:
    assert clean_environment(tmp_path) == {"PATH": SAFE_PATH, "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
                                           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}


def test_scrubber_replaces_secrets_as_written_and_json_escaped() -> None:
    scrub = Scrubber(["pa\"ss", "ab", "token123"])
    assert scrub('pa"ss pa\\"ss token123 ab') == "*** *** *** ab"  # shorter than SCRUB_MIN: left alone
    assert scrub.longest == len("token123")
    assert Scrubber([])("anything") == "anything" and Scrubber([]).longest == 0


def test_lines_and_the_tap_sees_only_the_clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPROFILES_SECRET", "server-only")
    with run(tmp_path, 'echo "$1 $2"; pwd; env | sort; printf "last"') as process:
        lines = [line.decode() for line in process.lines("reading")]
    assert lines[0] == "--config c.json"
    assert lines[1] == str(tmp_path / "home")
    seen = dict(line.split("=", 1) for line in lines[2:-1])
    shell_own = {"PWD", "OLDPWD", "SHLVL", "_"}
    assert {k: v for k, v in seen.items() if k not in shell_own} == clean_environment(tmp_path / "home")
    assert lines[-1] == "last"  # a last line without a newline


def test_output_reads_everything(tmp_path: Path) -> None:
    with run(tmp_path, 'printf \'{"streams": []}\'') as process:
        assert json.loads(process.output("discovering")) == {"streams": []}


def test_a_failed_tap_quotes_its_stderr_scrubbed(tmp_path: Path) -> None:
    with run(tmp_path, 'echo "boom with hunter22" >&2; exit 3', secrets=("hunter22",)) as process, \
            pytest.raises(ConnectorError) as caught:
        process.output("syncing")
    assert caught.type is ConnectorError
    assert str(caught.value) == "the Singer tap exited with code 3 syncing: boom with ***"


def test_refused_credentials_are_an_auth_error(tmp_path: Path) -> None:
    with run(tmp_path, 'echo "HTTP 401 Unauthorized" >&2; exit 1') as process, pytest.raises(ConnectorAuthError):
        list(process.lines("syncing"))


def test_a_long_stderr_is_cut_to_its_end(tmp_path: Path) -> None:
    with run(tmp_path, 'i=0; while [ $i -lt 200 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 1') as process, \
            pytest.raises(ConnectorError) as caught:
        process.output("syncing")
    excerpt = str(caught.value).split(": ", 1)[1]
    assert excerpt.startswith("…") and excerpt.endswith("line 199") and len(excerpt) == STDERR_EXCERPT


def test_output_beyond_the_budget_stops_the_tap(tmp_path: Path) -> None:
    with run(tmp_path, "while true; do echo xxxxxxxxxxxxxxxx; done", max_output=1000) as process, \
            pytest.raises(ConnectorError, match="wrote more than 1000 bytes"):
        list(process.lines("syncing"))
    assert process.process.poll() is not None


def test_a_tap_past_its_deadline_is_stopped_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    with run(tmp_path, f"sleep 60 & echo $! > {marker}; wait", timeout=0.5) as process, \
            pytest.raises(ConnectorError, match=r"ran longer than 0\.5 s"):
        process.output("syncing")
    assert gone(marker)


def test_quote_is_short_and_scrubbed(tmp_path: Path) -> None:
    with run(tmp_path, "true", secrets=("s3cr3t",)) as process:
        process.output("reading")
        assert process.quote(b"x s3cr3t " + b"y" * 500) == ("x *** " + "y" * 500)[:200]


def test_a_missing_executable_is_a_connector_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="could not be started"):
        TapProcess(tmp_path / "nope", [], tmp_path, timeout=1, max_output=1, scrub=Scrubber([]))
