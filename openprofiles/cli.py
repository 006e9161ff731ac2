"""The `openprofiles` command: serve (the default) and key management."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from openprofiles import __version__, logs
from openprofiles.app import Runtime, build_runtime, create_app
from openprofiles.crypto.keyring import KeyringError
from openprofiles.crypto.rotation import rotate_master
from openprofiles.errors import ServiceError
from openprofiles.services.access_keys import AccessKey
from openprofiles.settings import AUTH_MODES, Settings, SettingsError, is_loopback
from openprofiles.storage.database import SchemaTooNew
from openprofiles.storage.executions import ExecutionRecord

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


def _run_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The Settings fields of the run options among a command's keyword arguments."""
    names = ("flow_batch_size", "run_lease", "stuck_run_timeout", "flow_concurrency")
    return {name: options[name] for name in names if name in options}


def grant_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """What the operator enables for tenants' connectors (docs/security.md), for every command that
    runs connectors or reaches AWS for a tenant. Each is off unless given; they reach the command as
    keyword arguments (see `_grant_settings`)."""
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


def _grant_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The Settings fields of the grant options among a command's keyword arguments."""
    return {name: tuple(options[name]) if isinstance(options[name], tuple | list) else options[name]
            for name in GRANT_SETTINGS if name in options}


def _settings(data_dir: Path, database_url: str | None, **extra: Any) -> Settings:
    import os

    return Settings(
        data_dir=data_dir,
        database_url=database_url or None,
        master_key=os.environ.get("OPENPROFILES_MASTER_KEY") or None,
        **extra,
    )


@contextmanager
def _opened(data_dir: Path, database_url: str | None) -> Iterator[Runtime]:
    """A runtime for one command, closed when it is done."""
    runtime = _runtime(_settings(data_dir, database_url))
    try:
        yield runtime
    finally:
        runtime.close()


def _runtime(settings: Settings) -> Runtime:
    try:
        return build_runtime(settings)
    except (SchemaTooNew, KeyringError, SettingsError) as error:
        raise click.ClickException(str(error)) from None


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="openprofiles")
@click.pass_context
def main(ctx: click.Context) -> None:
    """OpenProfiles: self-hosted Amazon Connect Customer Profiles and AppFlow."""
    if ctx.invoked_subcommand is None:
        # As `openprofiles serve` with no arguments, so OPENPROFILES_* variables apply.
        ctx.exit(serve.main(args=[], prog_name="openprofiles serve", standalone_mode=False) or 0)


@main.command()
@click.option("--host", envvar="OPENPROFILES_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="OPENPROFILES_PORT", type=int, default=8000, show_default=True)
@click.option(
    "--auth",
    envvar="OPENPROFILES_AUTH",
    type=click.Choice(AUTH_MODES),
    default="sigv4",
    show_default=True,
    help="sigv4: every request must be signed with a known key; open: anything goes (loopback only).",
)
@click.option("--log-level", envvar="OPENPROFILES_LOG_LEVEL", default="info", show_default=True)
@click.option("--expiry-interval", envvar="OPENPROFILES_EXPIRY_INTERVAL", type=click.FloatRange(min=1), default=3600,
              show_default=True, help="Seconds between retention sweeps.")
@click.option("--dead-letter-interval", envvar="OPENPROFILES_DEAD_LETTER_INTERVAL", type=click.FloatRange(min=1),
              default=60, show_default=True, help="Seconds between retries of dead letters not yet sent to SQS.")
@click.option("--scheduler-interval", envvar="OPENPROFILES_SCHEDULER_INTERVAL", type=click.FloatRange(min=0.1),
              default=10, show_default=True, help="Seconds between checks for scheduled flow runs that are due.")
@click.option("--console-region", envvar="OPENPROFILES_CONSOLE_REGION", default="us-east-1", show_default=True,
              help="The region whose domains and flows the web console (/console/) shows.")
@click.option("--session-ttl", envvar="OPENPROFILES_SESSION_TTL", type=click.FloatRange(min=60), default=28800,
              show_default=True, help="Seconds a console session lasts after sign-in.")
@click.option("--keep-alive-timeout", envvar="OPENPROFILES_KEEP_ALIVE_TIMEOUT", type=click.FloatRange(min=0.1),
              default=5, show_default=True, help="Seconds an idle keep-alive connection stays open.")
@click.option("--header-timeout", envvar="OPENPROFILES_HEADER_TIMEOUT", type=click.FloatRange(min=0.1),
              default=10, show_default=True, help="Seconds a client has to send a request's head.")
@click.option("--body-timeout", envvar="OPENPROFILES_BODY_TIMEOUT", type=click.FloatRange(min=0.1),
              default=30, show_default=True, help="Seconds a client has to send a request's body.")
@click.option("--max-connections", envvar="OPENPROFILES_MAX_CONNECTIONS", type=click.IntRange(min=1),
              default=512, show_default=True, help="Open client connections at most; more are closed at once.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, envvar="OPENPROFILES_TRUSTED_PROXIES",
              metavar="ADDRESS|CIDR",
              help="A reverse proxy whose X-Forwarded-For/-Proto headers are believed (repeatable). None: "
                   "the client address is the connection's peer.")
@grant_options
@run_options(parallel=True)
@storage_options
def serve(host: str, port: int, auth: str, log_level: str, expiry_interval: float, dead_letter_interval: float,
          scheduler_interval: float, console_region: str, session_ttl: float, keep_alive_timeout: float,
          header_timeout: float, body_timeout: float, max_connections: int, trusted_proxies: tuple[str, ...],
          data_dir: Path,
          database_url: str | None, **runs: Any) -> None:
    """Run the service (both APIs on one port)."""
    import uvicorn

    from openprofiles.http_protocol import EdgeLimits, HttpProtocol, connections_within_open_files_limit

    logs.configure(log_level)
    if auth == "open":
        if not is_loopback(host):
            raise click.ClickException(
                f"--auth open accepts unsigned requests and may only bind to a loopback address, not {host}"
            )
        click.secho(
            "WARNING: --auth open: every request is accepted as account 000000000000, signed or not.",
            fg="yellow",
            err=True,
        )
    settings = _settings(data_dir, database_url, host=host, port=port, auth=auth, expiry_interval=expiry_interval,
                         dead_letter_interval=dead_letter_interval, scheduler_interval=scheduler_interval,
                         console_region=console_region, session_ttl=session_ttl,
                         keep_alive_timeout=keep_alive_timeout, header_timeout=header_timeout,
                         body_timeout=body_timeout, max_connections=max_connections,
                         **_run_settings(runs), **_grant_settings(runs))
    runtime = _runtime(settings)
    if auth == "sigv4" and runtime.access_keys.count() == 0:
        _print_first_key(runtime.access_keys.create(DEFAULT_ACCOUNT), host, port)
    app = create_app(runtime)
    connections = connections_within_open_files_limit(max_connections)
    protocol = HttpProtocol.configured(EdgeLimits(keep_alive_timeout, header_timeout, body_timeout, connections))
    try:
        # Proxy headers only from the proxies the operator named (uvicorn would trust loopback by default).
        uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), log_config=None, access_log=False,
                    http=protocol, proxy_headers=bool(trusted_proxies), forwarded_allow_ips=list(trusted_proxies))
    finally:
        runtime.close()


def endpoint_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to `host`."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _print_first_key(key: AccessKey, host: str, port: int) -> None:
    endpoint = endpoint_url(host, port)
    click.echo(
        f"""
OpenProfiles created the first access key, for account {key.account_id}.
It is shown this once; `openprofiles keys create` makes more.

  AccessKeyId:     {key.access_key_id}
  SecretAccessKey: {key.secret_access_key}

AWS CLI: add to ~/.aws/credentials

  [openprofiles]
  aws_access_key_id = {key.access_key_id}
  aws_secret_access_key = {key.secret_access_key}
  region = us-east-1

  aws customer-profiles list-domains --profile openprofiles --endpoint-url {endpoint}

boto3:

  import boto3
  client = boto3.client("customer-profiles", endpoint_url="{endpoint}", region_name="us-east-1",
                        aws_access_key_id="{key.access_key_id}",
                        aws_secret_access_key="{key.secret_access_key}")
""",
    )
    sys.stdout.flush()


@main.group()
def keys() -> None:
    """Access keys for SigV4-signed requests."""


@keys.command("create")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True, help="12-digit account id.")
@click.option("--json", "as_json", is_flag=True, help="Print {AccessKeyId, SecretAccessKey, AccountId}.")
@storage_options
def keys_create(account_id: str, as_json: bool, data_dir: Path, database_url: str | None) -> None:
    """Create an access key pair; the secret is printed this once."""
    with _opened(data_dir, database_url) as runtime:
        try:
            key = runtime.access_keys.create(account_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    if as_json:
        click.echo(
            json.dumps(
                {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key, "AccountId": key.account_id}
            )
        )
    else:
        click.echo(f"AccessKeyId:     {key.access_key_id}\nSecretAccessKey: {key.secret_access_key}\nAccountId:       {key.account_id}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def keys_list(as_json: bool, data_dir: Path, database_url: str | None) -> None:
    """List access keys (never their secrets)."""
    with _opened(data_dir, database_url) as runtime:
        summaries = runtime.access_keys.list()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "AccessKeyId": s.access_key_id,
                        "AccountId": s.account_id,
                        "Status": "Active" if s.active else "Inactive",
                        "CreateDate": s.created_at.isoformat(),
                    }
                    for s in summaries
                ]
            )
        )
        return
    # The ids are what a user copies into `keys revoke`: never shortened, however narrow the output.
    table = Table("AccessKeyId", "AccountId", "Status", "Created", "Revoked")
    for column, width in ((table.columns[0], 20), (table.columns[1], 12)):
        column.no_wrap = True
        column.min_width = width
    for s in summaries:
        table.add_row(
            s.access_key_id,
            s.account_id,
            "Active" if s.active else "Revoked",
            s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            s.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if s.revoked_at else "",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))
    console.print(table)


@keys.command("revoke")
@click.argument("access_key_id")
@storage_options
def keys_revoke(access_key_id: str, data_dir: Path, database_url: str | None) -> None:
    """Revoke a key: requests signed with it fail at once."""
    with _opened(data_dir, database_url) as runtime:
        try:
            runtime.access_keys.revoke(access_key_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    click.echo(f"Revoked {access_key_id}")


@keys.command("rotate-master")
@storage_options
def keys_rotate_master(data_dir: Path, database_url: str | None) -> None:
    """Make a new master key current and re-wrap the data keys with it, without downtime."""
    settings = _settings(data_dir, database_url)
    runtime = _runtime(settings)
    try:
        result = rotate_master(runtime.db, settings.data_dir, settings.master_key)
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    finally:
        runtime.close()
    previous = ", ".join(result.previous_key_ids) or "none"
    summary = (
        f"Master key rotated: {result.new_key_id} is now current (previous: {previous}).\n"
        f"Re-wrapped {result.rewrapped} data keys; {result.kms_wrapped} wrapped by AWS KMS keys were left as they are."
    )
    if result.still_on_previous:
        summary += (
            f"\n{result.still_on_previous} data keys are still wrapped by a previous key; they open while it stays "
            "configured. Run rotate-master again after every process has restarted."
        )
    if result.key_file is not None:
        click.echo(summary)
        click.echo(
            f"Wrote {result.key_file} (new key first, then the previous ones). Keep them all; running servers "
            "pick it up by themselves."
        )
        return
    click.echo(summary, err=True)
    click.echo(
        "master.key was not written (OPENPROFILES_MASTER_KEY is set). Set OPENPROFILES_MASTER_KEY to the value "
        "below in every process and restart them now: a process still on the old value cannot open data keys "
        "it has not loaded yet. Shown only once.",
        err=True,
    )
    click.echo(result.env_value)


@main.group("dead-letters")
def dead_letters() -> None:
    """Objects that could not be ingested, with the reason."""


def _domain_id(runtime: Runtime, account_id: str, region: str, name: str | None) -> int | None:
    if name is None:
        return None
    with runtime.store.read() as uow:
        domain = uow.domains.get(account_id, region, name)
    if domain is None:
        raise click.ClickException(f"Domain {name} does not exist for account {account_id} in {region}")
    return domain.id


@dead_letters.command("list")
@click.option("--domain", "domain_name", default=None, help="Only this domain's letters.")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--after", type=int, default=None, help="Only letters with a larger id (paging).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def dead_letters_list(domain_name: str | None, account_id: str, region: str, after: int | None, limit: int,
                      as_json: bool, data_dir: Path, database_url: str | None) -> None:
    """List dead letters (without their payloads)."""
    with _opened(data_dir, database_url) as runtime:
        letters = runtime.dead_letters.page(_domain_id(runtime, account_id, region, domain_name), after, limit)
    if as_json:
        click.echo(json.dumps([_letter_json(letter) for letter in letters]))
        return
    table = Table("Id", "ObjectType", "Source", "Reason", "Queue", "Created", "Redriven")
    for letter in letters:
        table.add_row(str(letter.id), letter.object_type_name, letter.source, letter.reason, letter.queue_state,
                      letter.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      letter.redriven_at.strftime("%Y-%m-%d %H:%M:%S") if letter.redriven_at else "")
    Console().print(table)


def _letter_json(letter: Any) -> dict[str, Any]:
    out = {
        "Id": letter.id,
        "ObjectTypeName": letter.object_type_name,
        "Source": letter.source,
        "Reason": letter.reason,
        "QueueState": letter.queue_state,
        "QueueAttempts": letter.queue_attempts,
        "QueueError": letter.queue_error,
        "CreatedAt": letter.created_at.isoformat(),
        "RedrivenAt": letter.redriven_at.isoformat() if letter.redriven_at else None,
    }
    if letter.payload is not None:
        out["Object"] = letter.payload
    return out


@dead_letters.command("show")
@click.argument("letter_id", type=int)
@storage_options
def dead_letters_show(letter_id: int, data_dir: Path, database_url: str | None) -> None:
    """Show one dead letter with its (decrypted) object."""
    with _opened(data_dir, database_url) as runtime:
        try:
            letter = runtime.dead_letters.get(letter_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    click.echo(json.dumps(_letter_json(letter), indent=2))


@dead_letters.command("redrive")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@grant_options
@storage_options
def dead_letters_redrive(letter_ids: tuple[int, ...], data_dir: Path, database_url: str | None,
                         **grants: Any) -> None:
    """Ingest letters' objects again with the current object types (after fixing the mapping)."""
    runtime = _runtime(_settings(data_dir, database_url, **_grant_settings(grants)))
    failed = 0
    try:
        for letter_id in letter_ids:
            try:
                result = runtime.dead_letters.redrive(letter_id, runtime.ingest, runtime.object_types)
            except ServiceError as error:
                click.echo(f"{letter_id}: {error.message}", err=True)
                failed += 1
                continue
            if result.rejected:
                click.echo(f"{letter_id}: rejected again: {result.rejected}", err=True)
                failed += 1
            else:
                click.echo(f"{letter_id}: ingested as {result.object_key} (profile {result.profile_id})")
    finally:
        runtime.close()
    if failed:
        raise SystemExit(1)


@dead_letters.command("flush")
@grant_options
@storage_options
def dead_letters_flush(data_dir: Path, database_url: str | None, **grants: Any) -> None:
    """Send letters still pending to their domains' SQS queues now."""
    runtime = _runtime(_settings(data_dir, database_url, **_grant_settings(grants)))
    try:
        sent = runtime.dead_letters.flush()
    finally:
        runtime.close()
    click.echo(f"Sent {sent} dead letters")


@main.command()
@storage_options
def expire(data_dir: Path, database_url: str | None) -> None:
    """Remove expired profiles and objects now (serve does this every hour)."""
    with _opened(data_dir, database_url) as runtime:
        result = runtime.expiry.sweep()
    click.echo(f"Removed {result.profiles} profiles and {result.objects} objects")


@main.command()
@click.option("--scheduler-interval", envvar="OPENPROFILES_SCHEDULER_INTERVAL", type=click.FloatRange(min=0.1),
              default=10, show_default=True, help="Seconds between checks for scheduled flow runs that are due.")
@grant_options
@run_options(parallel=True)
@storage_options
def worker(scheduler_interval: float, data_dir: Path, database_url: str | None, **runs: Any) -> None:
    """Run scheduled flows and take over runs whose process died, without serving HTTP (beside or instead of serve)."""
    import signal
    import time

    logs.configure("info")
    runtime = _runtime(_settings(data_dir, database_url, scheduler_interval=scheduler_interval,
                                 **_run_settings(runs), **_grant_settings(runs)))
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


@main.group()
def flows() -> None:
    """AppFlow flows."""


@flows.command("run")
@click.argument("name")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@grant_options
@run_options(parallel=False)
@storage_options
def flows_run(name: str, account_id: str, region: str, data_dir: Path, database_url: str | None, **runs: Any) -> None:
    """Run a flow now and wait for it, showing its progress."""
    import time
    from datetime import UTC, datetime

    from rich.progress import Progress, SpinnerColumn, TextColumn

    from openprofiles.context import RequestContext

    logs.configure("warning")
    runtime = _runtime(_settings(data_dir, database_url, **_run_settings(runs), **_grant_settings(runs)))
    ctx = RequestContext(account_id, region, "StartFlow", "cli", datetime.now(UTC))
    try:
        _, execution_id = runtime.runner.start(ctx, name)
        if execution_id is None:
            click.echo(f"Flow {name} is scheduled or event-triggered: it is now Active")
            return
        with Progress(SpinnerColumn(), TextColumn("{task.description}")) as progress:
            task = progress.add_task(f"{name}: starting")
            while True:
                (record,) = [e for e in runtime.runner.records(ctx, name, None, 20) if e.execution_id == execution_id]
                progress.update(task, description=(
                    f"{name}: {record.status}, {record.records_processed:,} records, "
                    f"{record.put_failures:,} failed"))
                if record.status not in ("InProgress", "CancelStarted"):
                    break
                time.sleep(0.5)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    finally:
        runtime.close()
    _report_run(record)


@flows.command("push")
@click.argument("name")
@click.argument("file", type=click.File("rb"))
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@grant_options
@storage_options
def flows_push(name: str, file: Any, account_id: str, region: str, data_dir: Path, database_url: str | None,
               **grants: Any) -> None:
    """Push FILE's records (a JSON object, a JSON array or JSON Lines; - for stdin) to an Active
    Event-triggered flow as one run, and wait for it."""
    import time
    from datetime import UTC, datetime

    from openprofiles.context import RequestContext
    from openprofiles.services.appflow.flow_events import FlowEvents

    runtime = _runtime(_settings(data_dir, database_url, **_grant_settings(grants)))
    ctx = RequestContext(account_id, region, "PushFlowEvents", "cli", datetime.now(UTC))
    try:
        events = FlowEvents(runtime.store, runtime.envelope, runtime.flows, runtime.runner)
        pushed = events.push(ctx, name, file.read())
        click.echo(f"Pushed {pushed.record_count} records as execution {pushed.execution_id}")
        while True:
            (record,) = [e for e in runtime.runner.records(ctx, name, None, 100)
                         if e.execution_id == pushed.execution_id]
            if record.status not in ("InProgress", "CancelStarted"):
                break
            time.sleep(0.2)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    finally:
        runtime.close()
    _report_run(record)


def _report_run(record: ExecutionRecord) -> None:
    """Print how a run ended (an execution record); exit 1 unless it succeeded."""
    click.echo(f"{record.status}: {record.records_processed} records processed, {record.put_failures} failed"
               + (f" ({record.message})" if record.message else ""))
    if record.status != "Successful":
        raise SystemExit(1)


def _cli_context(account_id: str, region: str, operation: str) -> Any:
    from datetime import UTC, datetime

    from openprofiles.context import RequestContext

    return RequestContext(account_id, region, operation, "cli", datetime.now(UTC))


def _all_domains(runtime: Runtime, ctx: Any) -> list[str]:
    names: list[str] = []
    while True:
        page = runtime.domains.list(ctx, names[-1] if names else None, 100)
        names += [domain.name for domain in page]
        if len(page) < 100:
            return names


def _print_table(table: Table) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    console.print(table)


@main.group()
def integrations() -> None:
    """Customer Profiles integrations."""


@integrations.command("list")
@click.option("--domain", "domain_name", default=None, help="Only this domain's integrations (default: every domain).")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def integrations_list(domain_name: str | None, account_id: str, region: str, as_json: bool, data_dir: Path,
                      database_url: str | None) -> None:
    """List integrations: PENDING until their flow has run successfully once, ACTIVE after."""
    ctx = _cli_context(account_id, region, "ListIntegrations")
    with _opened(data_dir, database_url) as runtime:
        try:
            names = [domain_name] if domain_name else _all_domains(runtime, ctx)
            states = [state for name in names for state in runtime.integrations.states(ctx, name)]
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    rows: list[dict[str, Any]] = [{
        "DomainName": state.integration.record.domain_name,
        "Uri": state.integration.record.uri,
        "ObjectTypeName": state.integration.record.object_type_name,
        "ObjectTypeNames": state.integration.record.object_type_names,
        "Status": state.status,
        "FlowName": state.integration.record.uri.rsplit("/", 1)[-1],
        "FlowStatus": state.flow_status,
        "WorkflowId": state.integration.record.workflow_id,
        "CreatedAt": state.integration.record.created_at.isoformat(),
    } for state in states]
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table("Domain", "Flow", "ObjectType", "Status", "FlowStatus", "Workflow", "Created")
    for row in rows:
        mapping = row["ObjectTypeName"] or ", ".join(f"{k}={v}" for k, v in (row["ObjectTypeNames"] or {}).items())
        table.add_row(row["DomainName"], row["FlowName"], mapping, row["Status"], row["FlowStatus"] or "(deleted)",
                      row["WorkflowId"] or "", row["CreatedAt"][:19].replace("T", " "))
    _print_table(table)


@main.group()
def workflows() -> None:
    """Customer Profiles integration workflows (historical backfills)."""


@workflows.command("list")
@click.option("--domain", "domain_name", required=True, help="The domain whose workflows to list.")
@click.option("--status", default=None, help="Only workflows in this status (NOT_STARTED, IN_PROGRESS, COMPLETE, …).")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@storage_options
def workflows_list(domain_name: str, status: str | None, account_id: str, region: str, as_json: bool,
                   data_dir: Path, database_url: str | None) -> None:
    """List a domain's workflows, newest first."""
    from openprofiles.services.customer_profiles.workflows import describe

    ctx = _cli_context(account_id, region, "ListWorkflows")
    with _opened(data_dir, database_url) as runtime:
        try:
            records = runtime.workflows.list(ctx, domain_name, status=status, workflow_type=None, started_from=None,
                                             started_to=None, after=None, limit=1000)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    rows = [{"WorkflowId": r.workflow_id, "Status": r.status, "StatusDescription": describe(r),
             "FlowName": r.flow_name, "ObjectTypeName": r.object_type_name, "CreatedAt": r.created_at.isoformat(),
             "LastUpdatedAt": r.last_updated_at.isoformat()} for r in records]
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table("WorkflowId", "Status", "Flow", "ObjectType", "Created", "Description")
    table.columns[0].no_wrap = True
    for row in rows:
        table.add_row(row["WorkflowId"], row["Status"], row["FlowName"], row["ObjectTypeName"],
                      row["CreatedAt"][:19].replace("T", " "), row["StatusDescription"])
    _print_table(table)


@workflows.command("show")
@click.argument("workflow_id")
@click.option("--domain", "domain_name", required=True, help="The workflow's domain.")
@click.option("--account-id", default=DEFAULT_ACCOUNT, show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the workflow and its steps as JSON.")
@storage_options
def workflows_show(workflow_id: str, domain_name: str, account_id: str, region: str, as_json: bool,
                   data_dir: Path, database_url: str | None) -> None:
    """Show a workflow, its metrics and its steps (one per batch)."""
    ctx = _cli_context(account_id, region, "GetWorkflow")
    with _opened(data_dir, database_url) as runtime:
        try:
            workflow = runtime.workflows.get(ctx, domain_name, workflow_id)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    record = workflow.record
    steps = [{"Position": step.position, "Status": step.status, "RecordsProcessed": step.records_processed,
              "BatchStart": step.batch_start.isoformat() if step.batch_start else None,
              "BatchEnd": step.batch_end.isoformat() if step.batch_end else None,
              "Message": step.message} for step in workflow.steps]
    if as_json:
        click.echo(json.dumps({
            "WorkflowId": record.workflow_id, "Status": record.status, "ErrorDescription": record.error_description,
            "FlowName": record.flow_name, "ObjectTypeName": record.object_type_name,
            "RecordsProcessed": workflow.records_processed, "StepsCompleted": workflow.steps_completed,
            "TotalSteps": len(workflow.steps), "Steps": steps}))
        return
    click.echo(f"Workflow {record.workflow_id} ({record.status}), flow {record.flow_name} → {record.object_type_name}: "
               f"{workflow.steps_completed}/{len(workflow.steps)} steps, {workflow.records_processed} records")
    if record.error_description:
        click.echo(f"Error: {record.error_description}")
    table = Table("Step", "Status", "Records", "From", "Until", "Message")
    for step in steps:
        table.add_row(str(step["Position"]), str(step["Status"]), str(step["RecordsProcessed"]),
                      str(step["BatchStart"] or "(start)"), str(step["BatchEnd"] or ""), str(step["Message"] or ""))
    _print_table(table)
