"""Wiring: settings -> storage -> crypto -> services -> providers -> the ASGI application."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.to_thread
from sqlalchemy import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from openprofiles import __version__
from openprofiles.api.auth import OPEN_ACCOUNT, Authenticator
from openprofiles.api.dispatch import ApiApp
from openprofiles.api.router import Router
from openprofiles.clock import Clock, SystemClock
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.http import EgressPolicy
from openprofiles.connectors.registry import ConnectorRegistry
from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.keyring import LocalKeyring
from openprofiles.crypto.kms import KmsKeyProvider
from openprofiles.private_files import private_dir
from openprofiles.services.access_keys import SYSTEM_SCOPE, AccessKeyService
from openprofiles.services.appflow.connector_profiles import ConnectorProfileService, connector_profile_exists
from openprofiles.services.appflow.executions import FlowRunner
from openprofiles.services.appflow.flow_events import FlowEvents
from openprofiles.services.appflow.flows import FlowService, flow_exists
from openprofiles.services.appflow.provider import AppFlowProvider
from openprofiles.services.appflow.run_slots import RunSettings
from openprofiles.services.appflow.scheduling import Scheduler
from openprofiles.services.console_sessions import ConsoleSessionService
from openprofiles.services.customer_profiles.crypto_scope import scope_account
from openprofiles.services.customer_profiles.dead_letters import DeadLetterService
from openprofiles.services.customer_profiles.domains import DomainService, domain_exists
from openprofiles.services.customer_profiles.expiry import ExpiryService
from openprofiles.services.customer_profiles.flow_destination import FlowDestination
from openprofiles.services.customer_profiles.ingest import IngestService
from openprofiles.services.customer_profiles.integrations import IntegrationService, integration_exists
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService, object_type_exists
from openprofiles.services.customer_profiles.profiles import ProfileService
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider
from openprofiles.services.customer_profiles.search import SearchService
from openprofiles.services.customer_profiles.workflows import TICK_SECONDS, WorkflowService
from openprofiles.services.pagination import PageTokens
from openprofiles.services.tags import TagService
from openprofiles.settings import Settings, SettingsError, pairs
from openprofiles.storage.data_keys import DataKeyRepository
from openprofiles.storage.database import Database
from openprofiles.storage.fast_reads import FastReader
from openprofiles.storage.store import Store
from openprofiles.web.agent import AgentPages
from openprofiles.web.console import PREFIX as CONSOLE_PREFIX
from openprofiles.web.console import Console
from openprofiles.web.pages import Pages
from openprofiles.web.sessions import Sessions

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a process needs, built once: the server, a worker or a CLI command."""

    settings: Settings
    grants: Grants
    clock: Clock
    db: Database
    store: Store
    keyring: LocalKeyring
    envelope: Envelope
    access_keys: AccessKeyService
    domains: DomainService
    tags: TagService
    object_types: ObjectTypeService
    profiles: ProfileService
    ingest: IngestService
    search: SearchService
    expiry: ExpiryService
    dead_letters: DeadLetterService
    reader: FastReader
    flows: FlowService
    connector_profiles: ConnectorProfileService
    runner: FlowRunner
    events: FlowEvents
    scheduler: Scheduler
    integrations: IntegrationService
    workflows: WorkflowService

    def close(self) -> None:
        self.runner.close()
        self.reader.close()
        self.db.dispose()


def _files_roots(settings: Settings) -> tuple[Path, ...]:
    """The Files roots, resolved; SettingsError for one that holds the data directory or the SQLite
    database, or lies inside the data directory."""
    data_dir = settings.data_dir.resolve()
    database = make_url(settings.resolved_database_url).database if settings.database_kind == "sqlite" else None
    own = [data_dir] + ([Path(database).resolve()] if database and database != ":memory:" else [])
    roots = tuple(Path(root).resolve() for root in settings.files_roots)
    for root in roots:
        if any(path.is_relative_to(root) for path in own) or root.is_relative_to(data_dir):
            raise SettingsError(f"--files-root {root}: the server's data directory ({data_dir}) and database "
                                "must not be inside a Files root, nor a root inside the data directory")
    return roots


def grants_for(settings: Settings) -> Grants:
    """What the operator enabled for tenants, from the settings; SettingsError names a malformed one."""
    taps = {name: Path(path) for name, path in pairs("--singer-tap", settings.singer_taps).items()}
    for name, path in taps.items():
        if not path.is_absolute():
            raise SettingsError(f"--singer-tap {name}: {path} is not an absolute path")
    resources = tuple(pairs("--aws-resource", (value,)).popitem() for value in settings.aws_resources)
    try:
        EgressPolicy.of(Grants(connector_hosts=settings.connector_hosts))
    except ValueError as error:
        raise SettingsError(str(error)) from None
    return Grants(
        files_roots=_files_roots(settings),
        sql_connections=pairs("--sql-connection", settings.sql_connections),
        sql_url_patterns=settings.sql_url_patterns,
        singer_taps=taps,
        singer_timeout=settings.singer_timeout,
        singer_max_output=settings.singer_max_output,
        plugins=frozenset(settings.plugins),
        connector_hosts=settings.connector_hosts,
        aws_resources=resources,
        aws_roles=pairs("--aws-role", settings.aws_roles),
        data_dir=settings.data_dir.resolve(),
        database_url=settings.resolved_database_url,
    )


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    """Open the database (migrating it), load the master key and build the services."""
    clock = clock or SystemClock()
    grants = grants_for(settings)
    if settings.database_url is None:
        private_dir(settings.data_dir)  # the SQLite database's directory: 0700, tightened if looser
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
        store = Store(db)
        keyring = LocalKeyring.open(settings.data_dir, settings.master_key)
        envelope = Envelope(keyring, DataKeyRepository(db), KmsKeyProvider(grants.aws, scope_account(store)))
        envelope.index_key(SYSTEM_SCOPE)  # fails now, clearly, if this is not the database's master key
    except BaseException:
        db.dispose()  # a refused schema or master key leaves no open connection behind
        raise
    tags = TagService(store)
    tags.register(
        "profile",
        "domains",
        lambda uow, arn: domain_exists(uow, arn) or object_type_exists(uow, arn) or integration_exists(uow, arn),
    )
    tags.register("appflow", "flow", flow_exists)
    tags.register("appflow", "connectorprofile", connector_profile_exists)
    reader = FastReader(db)
    domains = DomainService(store, envelope, reader, grants.aws)
    object_types = ObjectTypeService(store, envelope, reader)
    dead_letters = DeadLetterService(store, envelope, clock, grants.aws)
    ingest = IngestService(store, envelope, object_types.plan, on_dead_letters=dead_letters.flush_in_background)
    destination = FlowDestination(store, domains, object_types, ingest)  # AppFlow's port to Customer Profiles
    flows = FlowService(store, destination, grants.aws)
    connector_profiles = ConnectorProfileService(store, envelope, ConnectorRegistry(), grants)
    runner = FlowRunner(store, flows, connector_profiles, destination, clock, RunSettings(
        concurrency=settings.flow_concurrency, batch_size=settings.flow_batch_size, lease=settings.run_lease,
        stuck_timeout=settings.stuck_run_timeout))
    return Runtime(
        settings=settings,
        grants=grants,
        clock=clock,
        db=db,
        store=store,
        keyring=keyring,
        envelope=envelope,
        access_keys=AccessKeyService(store, envelope, clock, reader),
        domains=domains,
        tags=tags,
        object_types=object_types,
        profiles=ProfileService(store, envelope, object_types),
        ingest=ingest,
        search=SearchService(store, envelope, object_types, reader),
        expiry=ExpiryService(store, clock),
        dead_letters=dead_letters,
        reader=reader,
        flows=flows,
        connector_profiles=connector_profiles,
        runner=runner,
        events=FlowEvents(store, envelope, flows, runner),
        scheduler=Scheduler(store, runner, clock),
        integrations=IntegrationService(store, domains, object_types, flows, runner),
        workflows=WorkflowService(store, domains, object_types, flows, runner, clock),
    )


def create_app(runtime: Runtime) -> Root:
    """The HTTP application: `/health`, the web console and the AWS API of both services."""
    pages = PageTokens(runtime.keyring.derive("page-tokens"))
    api = ApiApp(
        router=Router(),
        authenticator=Authenticator(runtime.settings.auth, runtime.access_keys.lookup, runtime.clock),
        providers={
            "customer-profiles": CustomerProfilesProvider(
                runtime.domains,
                runtime.tags,
                pages,
                runtime.object_types,
                runtime.profiles,
                runtime.ingest,
                runtime.search,
                runtime.integrations,
                runtime.workflows,
            ),
            "appflow": AppFlowProvider(
                runtime.tags, pages, runtime.flows, runtime.connector_profiles, runtime.runner, runtime.events,
            ),
        },
        clock=runtime.clock,
        quick_reads_inline=runtime.db.dialect == "sqlite",
    )

    async def health(_: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "version": __version__, "database": runtime.db.dialect, "auth": runtime.settings.auth}
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        resumed = await anyio.to_thread.run_sync(runtime.runner.resume_interrupted)
        if resumed:
            log.info("took over %d flow runs nobody held", resumed)
        async with anyio.create_task_group() as tasks:
            settings = runtime.settings
            tasks.start_soon(_every, settings.expiry_interval, lambda: _sweep(runtime), "expiry sweep")
            tasks.start_soon(_every, settings.dead_letter_interval, runtime.dead_letters.flush, "dead-letter flush")
            tasks.start_soon(_every, settings.scheduler_interval, runtime.scheduler.tick, "scheduler tick")
            tasks.start_soon(_every, TICK_SECONDS, runtime.workflows.tick, "workflow tick")
            # What startup built (service models, routes, templates) lives as long as the process:
            # kept out of the collector's way, a full collection no longer stalls a request for
            # the tens of milliseconds it takes to walk them all.
            gc.collect()
            gc.freeze()
            yield
            tasks.cancel_scope.cancel()

    sessions = (Sessions(runtime.keyring.derive("console-sessions"), ConsoleSessionService(
                    runtime.store, runtime.access_keys.lookup, runtime.clock,
                    timedelta(seconds=runtime.settings.session_ttl)))
                if runtime.settings.auth == "sigv4" else None)
    console = Console(Pages(runtime.domains, runtime.integrations, runtime.flows),
                      AgentPages(runtime.domains, runtime.object_types, runtime.search, runtime.profiles), sessions,
                      runtime.settings.console_region, runtime.clock, OPEN_ACCOUNT)
    web = Starlette(routes=[Route("/health", health, methods=["GET"]), *console.routes()],
                    lifespan=lifespan)
    return Root(web, api)


class Root:
    """The ASGI entry point: the service's own pages (`/health`, `/console/…`) to Starlette, every other
    HTTP request to the AWS API as it came (any path, even one a route pattern would not match; OpenProfiles'
    own operations under `/_openprofiles/` too)."""

    WEB_PATHS = frozenset({"/health"})

    def __init__(self, web: Starlette, api: ApiApp) -> None:
        self.web = web
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.is_web(scope["path"]):
            await self.api(scope, receive, send)
        else:
            await self.web(scope, receive, send)

    def is_web(self, path: str) -> bool:
        return path in self.WEB_PATHS or path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


async def _every(seconds: float, job: Callable[[], object], name: str) -> None:
    """Run a background job in a worker thread every `seconds`; a failure is logged and retried."""
    while True:
        await anyio.sleep(seconds)
        try:
            await anyio.to_thread.run_sync(job)
        except Exception:
            log.exception("%s failed; retrying at the next interval", name)


def _sweep(runtime: Runtime) -> None:
    result = runtime.expiry.sweep()
    if result.profiles or result.objects:
        log.info("expiry sweep removed %d profiles and %d objects", result.profiles, result.objects)
