"""What the commands share: storage from flags or environment, the flow-run and grant options reaching
Settings, refusals without a traceback (newer schema, wrong master key, bad setting), table width."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from rich.table import Table
from sqlalchemy import text

from openprofiles.cli import main
from openprofiles.cli.common import (
    GRANT_SETTINGS,
    RUN_SETTINGS,
    grant_options,
    grant_settings,
    open_runtime,
    print_table,
    run_options,
    run_settings,
    settings_for,
)
from openprofiles.settings import Settings
from openprofiles.storage.database import Database, sqlite_url
from tests.cli.invoke import keys, run
from tests.conftest import database_url_for
from tests.harness import free_port


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_environment_instead_of_flags(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # an ignored variable would put data in ./.openprofiles
    data_dir = tmp_path / "data"
    url = database_url_for(backend, request)
    env: dict[str, str | None] = {"OPENPROFILES_DATA_DIR": str(data_dir)}
    flags = ["--data-dir", str(data_dir)]
    if url:
        env["OPENPROFILES_DATABASE_URL"] = url
        flags += ["--database-url", url]
    made = keys("create", "--account-id", "234567890123", "--json", env=env)
    assert made.exit_code == 0, made.stderr
    key = json.loads(made.stdout)
    by_flags = keys("list", "--json", *flags)
    assert [k["AccessKeyId"] for k in json.loads(by_flags.stdout)] == [key["AccessKeyId"]]
    revoked = keys("revoke", key["AccessKeyId"], env=env)
    assert revoked.exit_code == 0, revoked.stderr
    assert json.loads(keys("list", "--json", env=env).stdout)[0]["Status"] == "Inactive"
    assert not (tmp_path / ".openprofiles").exists()  # nothing went to the default data directory
    assert (data_dir / "openprofiles.db").exists() == (backend == "sqlite")


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        out += _leaves(command, (*path, name)) if isinstance(command, click.Group) else [(*path, name)]
    return out


def test_every_command_takes_the_storage_options() -> None:
    runner = CliRunner()
    commands = _leaves(main)
    assert {("serve",), ("keys", "create"), ("keys", "list"), ("keys", "revoke")} <= set(commands)
    for command in commands:
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--data-dir" in result.output, command
        assert "--database-url" in result.output, command


def test_grant_and_run_options_are_settings_fields() -> None:
    fields = set(Settings.__dataclass_fields__)
    assert set(GRANT_SETTINGS) <= fields and set(RUN_SETTINGS) <= fields

    @click.command()
    @grant_options
    @run_options(parallel=True)
    def command(**options: Any) -> None:
        click.echo(json.dumps({"grants": grant_settings(options), "runs": run_settings(options)}, default=str))

    given = ["--files-root", "/a", "--files-root", "/b", "--sql-connection", "crm=sqlite:///x", "--singer-timeout", "5",
             "--enable-plugin", "p", "--aws-role", "111111111111=arn:aws:iam::1:role/r", "--flow-concurrency", "3",
             "--run-lease", "7"]
    result = CliRunner().invoke(command, given, env={"OPENPROFILES_SQL_URL_PATTERNS": "sqlite:///a* sqlite:///b*"})
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out["grants"]) == set(GRANT_SETTINGS) and set(out["runs"]) == set(RUN_SETTINGS)
    assert out["grants"]["files_roots"] == ["/a", "/b"]
    assert out["grants"]["sql_connections"] == ["crm=sqlite:///x"]
    assert out["grants"]["sql_url_patterns"] == ["sqlite:///a*", "sqlite:///b*"]  # whitespace-separated variable
    assert (out["grants"]["singer_timeout"], out["grants"]["singer_max_output"]) == (5, 1 << 30)
    assert out["runs"] == {"flow_batch_size": 1000, "run_lease": 7, "stuck_run_timeout": 600, "flow_concurrency": 3}
    # Values reach Settings as tuples (it is frozen and hashed), and a process that does not take runs
    # over has no --flow-concurrency.
    assert grant_settings({"plugins": ["a", "b"], "other": 1}) == {"plugins": ("a", "b")}
    assert run_settings({"run_lease": 2.0, "host": "x"}) == {"run_lease": 2.0}
    serial = click.command()(run_options(parallel=False)(lambda **_: None))
    assert "--flow-concurrency" not in [opt for param in serial.params for opt in param.opts]


def test_settings_for_reads_the_master_key_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPROFILES_MASTER_KEY", "a2V5")
    settings = settings_for(tmp_path, "", port=9)
    assert (settings.master_key, settings.database_url, settings.data_dir, settings.port) == ("a2V5", None, tmp_path, 9)
    monkeypatch.setenv("OPENPROFILES_MASTER_KEY", "")
    assert settings_for(tmp_path, None).master_key is None


def test_a_bad_setting_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(click.ClickException, match="--singer-tap tap: relative is not an absolute path"):
        open_runtime(Settings(data_dir=tmp_path, singer_taps=("tap=relative",)))
    result = CliRunner().invoke(main, ["dead-letters", "flush", "--data-dir", str(tmp_path), "--aws-role", "nope"],
                                env={"OPENPROFILES_DATABASE_URL": None, "OPENPROFILES_MASTER_KEY": None})
    assert result.exit_code == 1 and "--aws-role: entry 1 is not NAME=VALUE" in result.stderr


def test_tables_are_wide_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    table = Table("Id", "Reason")
    table.add_row("1", "x" * 100)
    print_table(table, min_width=140)
    assert "x" * 100 in capsys.readouterr().out  # not wrapped at the 80 columns of a pipe
    print_table(table, min_width=40)
    assert "x" * 100 not in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_newer_schema_is_refused(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = database_url_for(backend, request)
    storage = ["--data-dir", str(data_dir)] + (["--database-url", url] if url else [])
    made = keys("create", "--json", *storage)  # migrates a fresh database
    assert made.exit_code == 0, made.stderr
    db = Database(url or sqlite_url(data_dir))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfacefeed'"))
    db.dispose()
    serve = run("serve", "--port", str(free_port()), *storage, cwd=tmp_path, timeout=30)
    assert serve.returncode != 0, serve.stdout
    assert "Traceback" not in serve.stderr
    assert "SecretAccessKey" not in serve.stdout
    for result in (serve, keys("list", *storage), keys("create", *storage)):
        assert "f00dfacefeed" in result.stderr
        assert "newer version" in result.stderr
    assert keys("create", *storage).exit_code != 0


def test_wrong_master_key_is_refused_at_start(tmp_path: Path) -> None:
    keys("create", "--data-dir", str(tmp_path))
    other = base64.b64encode(b"o" * 32).decode()
    out = keys("list", "--data-dir", str(tmp_path), env={"OPENPROFILES_MASTER_KEY": other})
    assert out.exit_code != 0
    assert "master key" in out.stderr and "Traceback" not in out.stderr
