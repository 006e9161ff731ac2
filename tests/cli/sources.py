"""What the command-line tests run commands on: a runtime over the data directory and database a
command is given, with a domain `d` (object type `crm`) and flows from a Files source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openprofiles.app import Runtime, build_runtime
from openprofiles.clock import Clock
from openprofiles.context import RequestContext
from openprofiles.settings import Settings

ACCOUNT = "000000000000"
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


class Site:
    """A data directory and database, a Files root inside `base`, and the storage and grant flags of a command."""

    def __init__(self, base: Path, database_url: str) -> None:
        self.data_dir = base / "data"
        self.database_url = database_url
        self.source = base / "source"
        self.source.mkdir()

    def storage(self) -> list[str]:
        return ["--data-dir", str(self.data_dir), "--database-url", self.database_url]

    def grants(self) -> list[str]:
        return ["--files-root", str(self.source)]

    @contextmanager
    def runtime(self, clock: Clock | None = None) -> Iterator[Runtime]:
        runtime = build_runtime(Settings(data_dir=self.data_dir, database_url=self.database_url,
                                         files_roots=(self.source,)), clock=clock)
        try:
            yield runtime
        finally:
            runtime.close()


def caller(now: datetime | None = None) -> RequestContext:
    return RequestContext(ACCOUNT, "us-east-1", "Test", "r", now or datetime.now(UTC))


def domain(runtime: Runtime, ctx: RequestContext, name: str = "d") -> None:
    """A domain with an object type `crm` (keyed by `id`) that creates profiles."""
    runtime.domains.create(ctx, name, default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    runtime.object_types.put(runtime.domains.record(ctx, name), "crm", {
        "Description": "CRM", "AllowProfileCreation": True, "Fields": FIELDS, "Keys": KEYS}, ctx.now)


def files_profile(runtime: Runtime, ctx: RequestContext, site: Site, records: list[dict[str, Any]]) -> None:
    """A Files connector profile `files` reading the site's source, whose `people.jsonl` holds `records`."""
    (site.source / "people.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    runtime.connector_profiles.create(ctx, "files", "CustomConnector", "Files", "Public", {
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"path": str(site.source)}}}}, None)


def flow(runtime: Runtime, ctx: RequestContext, name: str, trigger: dict[str, Any], entity: str = "people.jsonl",
         object_type: str | None = "crm") -> str:
    """A flow `name` from the `files` profile's `entity` to domain `d` (to `object_type`, or to whatever
    the domain's integration names); its ARN."""
    target: dict[str, Any] = {"domainName": "d"} | ({"objectTypeName": object_type} if object_type else {})
    runtime.flows.create(ctx, {
        "flowName": name,
        "triggerConfig": trigger,
        "sourceFlowConfig": {"connectorType": "CustomConnector", "connectorProfileName": "files",
                             "sourceConnectorProperties": {"CustomConnector": {"entityName": entity}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles",
                                       "destinationConnectorProperties": {"CustomerProfiles": target}}],
        "tasks": [{"taskType": "Map", "sourceFields": [f], "destinationField": f,
                   "connectorOperator": {"CustomConnector": "NO_OP"}} for f in FIELDS],
    })
    return runtime.flows.get(ctx, name).arn


def profile_count(runtime: Runtime, ctx: RequestContext) -> int:
    record = runtime.domains.record(ctx, "d")
    with runtime.store.read() as uow:
        return int(uow.profiles.count(record.id))
