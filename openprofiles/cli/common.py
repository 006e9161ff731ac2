"""What the commands share: the storage, flow-run and operator-grant options, the runtime a command
opens from them, and the table printing."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.crypto.keyring import KeyringError
from openprofiles.settings import Settings, SettingsError
from openprofiles.storage.database import SchemaTooNew

DEFAULT_ACCOUNT = "000000000000"


def storage_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir, --database-url and the master key, shared by every command."""

    @click.option(
        "--data-dir",
        envvar="OPENPROFILES_DATA_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".openprofiles"),
        show_default=True,
        help="Where the SQLite database and the master key live.",
    )
    @click.option(
        "--database-url",
        envvar="OPENPROFILES_DATABASE_URL",
        default=None,
        help="postgresql://user:pass@host/db to use PostgreSQL instead of SQLite.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def run_options(parallel: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """How this process executes flow runs: batch size, lease, stuck-run timeout and (`parallel`,
    for processes that take runs over) how many at once. They reach the command as keyword arguments."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--flow-batch-size", envvar="OPENPROFILES_FLOW_BATCH_SIZE", type=click.IntRange(1, 100_000),
                         default=1000, show_default=True,
                         help="Records per flow batch (one transaction and checkpoint each)."),
            click.option("--run-lease", envvar="OPENPROFILES_RUN_LEASE", type=click.FloatRange(min=1), default=30,
                         show_default=True,
                         help="Seconds a flow run's lease lasts unrenewed; then another process takes the run over."),
            click.option("--stuck-run-timeout", envvar="OPENPROFILES_STUCK_RUN_TIMEOUT", type=click.FloatRange(min=1),
                         default=600, show_default=True,
                         help="Seconds without progress after which a flow run ends in Error."),
        ]
        if parallel:
            options.append(click.option(
                "--flow-concurrency", envvar="OPENPROFILES_FLOW_CONCURRENCY", type=click.IntRange(1, 64), default=2,
                show_default=True, help="Flow runs this process executes at once."))
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


RUN_SETTINGS = ("flow_batch_size", "run_lease", "stuck_run_timeout", "flow_concurrency")


def run_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The Settings fields of the run options among a command's keyword arguments."""
    return {name: options[name] for name in RUN_SETTINGS if name in options}


def grant_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """What the operator enables for tenants' connectors (docs/security.md), for every command that
    runs connectors or reaches AWS for a tenant. Each is off unless given; they reach the command as
    keyword arguments (see `grant_settings`)."""
    options = [
        click.option("--files-root", "files_roots", multiple=True, envvar="OPENPROFILES_FILES_ROOTS",
                     type=click.Path(file_okay=False, path_type=Path),
                     help="A directory the Files connector may read (repeatable; the variable separates them "
                          "with ':'). None: the Files connector is off."),
        click.option("--sql-connection", "sql_connections", multiple=True, envvar="OPENPROFILES_SQL_CONNECTIONS",
                     metavar="NAME=URL",
                     help="A database tenants' SQL connector profiles may name (repeatable; whitespace-separated "
                          "in the variable). None, and no --sql-url-pattern: the SQL connector is off."),
        click.option("--sql-url-pattern", "sql_url_patterns", multiple=True, envvar="OPENPROFILES_SQL_URL_PATTERNS",
                     metavar="GLOB",
                     help="A pattern a tenant's own SQL URL (without its password) must match (repeatable)."),
        click.option("--singer-tap", "singer_taps", multiple=True, envvar="OPENPROFILES_SINGER_TAPS",
                     metavar="NAME=PATH",
                     help="A Singer tap executable tenants may name (repeatable). None: the Singer connector is off."),
        click.option("--singer-timeout", envvar="OPENPROFILES_SINGER_TIMEOUT", type=click.FloatRange(min=1),
                     default=3600, show_default=True, help="Seconds a Singer tap may run before it is stopped."),
        click.option("--singer-max-output", envvar="OPENPROFILES_SINGER_MAX_OUTPUT", type=click.IntRange(min=1),
                     default=1 << 30, show_default=True, help="Bytes of output a Singer tap may write in one run."),
        click.option("--enable-plugin", "plugins", multiple=True, envvar="OPENPROFILES_PLUGINS", metavar="NAME",
                     help="An installed connector plugin (entry point name) tenants may register (repeatable)."),
        click.option("--allow-connector-host", "connector_hosts", multiple=True,
                     envvar="OPENPROFILES_ALLOW_CONNECTOR_HOSTS", metavar="HOST|CIDR",
                     help="A loopback, private or link-local host or network connectors may reach (repeatable)."),
        click.option("--aws-resource", "aws_resources", multiple=True, envvar="OPENPROFILES_AWS_RESOURCES",
                     metavar="ACCOUNT=ARN-GLOB",
                     help="Operator AWS resources an account may use with the server's credentials (repeatable)."),
        click.option("--aws-role", "aws_roles", multiple=True, envvar="OPENPROFILES_AWS_ROLES",
                     metavar="ACCOUNT=ROLE-ARN",
                     help="An IAM role assumed for an account's AWS resources (repeatable)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


GRANT_SETTINGS = ("files_roots", "sql_connections", "sql_url_patterns", "singer_taps", "singer_timeout",
                  "singer_max_output", "plugins", "connector_hosts", "aws_resources", "aws_roles")


def grant_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The Settings fields of the grant options among a command's keyword arguments."""
    return {name: tuple(options[name]) if isinstance(options[name], tuple | list) else options[name]
            for name in GRANT_SETTINGS if name in options}


def settings_for(data_dir: Path, database_url: str | None, **extra: Any) -> Settings:
    """The Settings of a command: its storage options, OPENPROFILES_MASTER_KEY and `extra` fields."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url or None,
        master_key=os.environ.get("OPENPROFILES_MASTER_KEY") or None,
        **extra,
    )


def open_runtime(settings: Settings) -> Runtime:
    """The runtime of `settings`; a refused schema, master key or setting is a ClickException (no traceback)."""
    try:
        return build_runtime(settings)
    except (SchemaTooNew, KeyringError, SettingsError) as error:
        raise click.ClickException(str(error)) from None


@contextmanager
def opened(data_dir: Path, database_url: str | None) -> Iterator[Runtime]:
    """A runtime for one command, closed when it is done."""
    runtime = open_runtime(settings_for(data_dir, database_url))
    try:
        yield runtime
    finally:
        runtime.close()


def cli_context(account_id: str, region: str, operation: str) -> RequestContext:
    """The request context of an operation a command performs for an account."""
    return RequestContext(account_id, region, operation, "cli", datetime.now(UTC))


def print_table(table: Table, min_width: int = 160) -> None:
    """Print `table`; written to a pipe or file, it is laid out at least `min_width` columns wide."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, min_width))
    console.print(table)
