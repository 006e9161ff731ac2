"""`openprofiles serve`: both APIs, the console and /health on one port, with the background jobs;
on the first start in sigv4 mode, an access key printed with ready-to-paste client settings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from openprofiles import logs
from openprofiles.app import create_app
from openprofiles.cli.common import (
    DEFAULT_ACCOUNT,
    grant_options,
    grant_settings,
    open_runtime,
    run_options,
    run_settings,
    settings_for,
    storage_options,
)
from openprofiles.services.access_keys import AccessKey
from openprofiles.settings import AUTH_MODES, is_loopback


@click.command()
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
    settings = settings_for(data_dir, database_url, host=host, port=port, auth=auth, expiry_interval=expiry_interval,
                            dead_letter_interval=dead_letter_interval, scheduler_interval=scheduler_interval,
                            console_region=console_region, session_ttl=session_ttl,
                            keep_alive_timeout=keep_alive_timeout, header_timeout=header_timeout,
                            body_timeout=body_timeout, max_connections=max_connections,
                            **run_settings(runs), **grant_settings(runs))
    runtime = open_runtime(settings)
    if auth == "sigv4" and runtime.access_keys.count() == 0:
        print_first_key(runtime.access_keys.create(DEFAULT_ACCOUNT), host, port)
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


def print_first_key(key: AccessKey, host: str, port: int) -> None:
    """Show the first access key once, as an AWS CLI profile and a boto3 snippet for this server."""
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
