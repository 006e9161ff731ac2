"""In-process AppFlow for the tests beside this module: services wired by the composition root
(`app.build_runtime`) on SQLite or PostgreSQL, a caller of its own per test, and the AppFlow
provider whose handlers ApiApp calls. No HTTP server."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime, build_runtime, create_app
from openprofiles.context import RequestContext
from openprofiles.services.provider import Provider
from openprofiles.settings import Settings
from tests.conftest import database_url_for

#: tests/fakes/plugin: the `openprofiles_roster` package and the dist-info declaring its entry points.
PLUGIN_DIR = Path(__file__).resolve().parents[2] / "fakes" / "plugin"
#: The plugins the runtimes' operator enables: the test plugin's entry points but `roster-off`, and a
#: name no installed package declares.
ENABLED = ("roster", "broken", "not-a-connector", "no-such-plugin")
REGION = "us-east-1"
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


@contextmanager
def runtime_for(request: pytest.FixtureRequest, base: Path) -> Iterator[Runtime]:
    """A runtime on a fresh database of the backend `request.param` names, whose Files connector may
    read `base / "files"` and whose tenants may register the test plugin (importable meanwhile)."""
    files = base / "files"
    files.mkdir()
    settings = Settings(data_dir=base / "data", database_url=database_url_for(str(request.param), request),
                        files_roots=(files,), plugins=ENABLED, flow_batch_size=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(PLUGIN_DIR))
        runtime = build_runtime(settings)
        try:
            yield runtime
        finally:
            runtime.close()


def files_root(runtime: Runtime) -> Path:
    (root,) = runtime.grants.files_roots
    return root


def caller(operation: str = "Test", now: datetime | None = None, account_id: str | None = None) -> RequestContext:
    """A request of an account of its own (a fresh one unless named), so tests sharing a runtime never meet."""
    account = account_id or "".join(str(secrets.randbelow(10)) for _ in range(12))
    return RequestContext(account, REGION, operation, "request-" + secrets.token_hex(4), now or datetime.now(UTC))


def as_operation(ctx: RequestContext, operation: str) -> RequestContext:
    """The same caller, calling another operation (page tokens are tied to the operation)."""
    return RequestContext(ctx.account_id, ctx.region, operation, ctx.request_id, ctx.now)


def appflow_provider(runtime: Runtime) -> Any:
    """The AppFlow provider the composition root hands ApiApp."""
    provider = create_app(runtime).api.providers["appflow"]
    assert isinstance(provider, Provider)
    return provider


def lambda_arn(ctx: RequestContext, function: str) -> str:
    return f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{function}"


def roster_dir(parent: Path, records: list[dict[str, Any]], api_key: str = "k-123") -> Path:
    """A directory the roster plugin reads: an `.apikey` file and `members.json`."""
    directory = parent / ("roster-" + secrets.token_hex(4))
    directory.mkdir()
    (directory / ".apikey").write_text(api_key)
    (directory / "members.json").write_text(json.dumps(records))
    return directory


def roster_config(directory: Path, api_key: str = "k-123") -> dict[str, Any]:
    """connectorProfileConfig of a CustomConnector profile of the roster plugin."""
    return {
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"directory": str(directory)}}},
        "connectorProfileCredentials": {"CustomConnector": {"authenticationType": "APIKEY",
                                                            "apiKey": {"apiKey": api_key}}},
    }


def files_config(path: Path) -> dict[str, Any]:
    """connectorProfileConfig of a Files profile reading `path`."""
    return {"connectorProfileProperties": {"CustomConnector": {"profileProperties": {"path": str(path)}}}}


def files_dir(runtime: Runtime) -> Path:
    """A fresh directory inside the runtime's Files root."""
    directory = files_root(runtime) / ("src-" + secrets.token_hex(4))
    directory.mkdir()
    return directory


def destination(runtime: Runtime, ctx: RequestContext, domain: str = "d") -> None:
    """A domain `domain` with an object type `crm` (keyed by `id`) that creates profiles."""
    runtime.domains.create(ctx, domain, default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    runtime.object_types.put(runtime.domains.record(ctx, domain), "crm", {
        "Description": "CRM", "AllowProfileCreation": True, "Fields": FIELDS, "Keys": KEYS}, ctx.now)


def profile_count(runtime: Runtime, ctx: RequestContext, domain: str = "d") -> int:
    record = runtime.domains.record(ctx, domain)
    with runtime.store.read() as uow:
        return int(uow.profiles.count(record.id))


def flow_params(name: str, profile: str, entity: str, trigger: str = "OnDemand", domain: str = "d",
                **extra: Any) -> dict[str, Any]:
    """CreateFlow's parameters, in wire names: a CustomConnector profile's entity to `domain`'s `crm`."""
    return {
        "flowName": name,
        "triggerConfig": {"triggerType": trigger},
        "sourceFlowConfig": {"connectorType": "CustomConnector", "connectorProfileName": profile,
                             "sourceConnectorProperties": {"CustomConnector": {"entityName": entity}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": domain, "objectTypeName": "crm"}}}],
        "tasks": [{"taskType": "Map", "sourceFields": [f], "destinationField": f,
                   "connectorOperator": {"CustomConnector": "NO_OP"}} for f in FIELDS],
        **extra,
    }


def files_flow(runtime: Runtime, ctx: RequestContext, name: str, records: list[dict[str, Any]],
               trigger: str = "OnDemand") -> Path:
    """A flow `name` from a Files profile `name` (reading `people.jsonl` holding `records`) to a domain
    `d` (made here); the source directory."""
    source = files_dir(runtime)
    (source / "people.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    destination(runtime, ctx)
    runtime.connector_profiles.create(ctx, name, "CustomConnector", "Files", "Public", files_config(source), None)
    runtime.flows.create(ctx, flow_params(name, name, "people.jsonl", trigger))
    return source
