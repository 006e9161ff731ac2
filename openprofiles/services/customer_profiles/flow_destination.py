"""Customer Profiles as the destination of AppFlow flows: the `ProfilesDestination` port of
services/appflow/destinations.py, over the domain, object type, integration and ingest services.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openprofiles.context import RequestContext
from openprofiles.crypto.kms import kms_key_ref
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.appflow.destinations import FlowIntegration, Within
from openprofiles.services.customer_profiles.crypto_scope import domain_scope
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.ingest import IngestResult, IngestService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.services.customer_profiles.object_types import ObjectType
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import Store, UnitOfWork


class FlowDomain:
    """A destination domain opened for one run: its object types resolved once, its batches ingested."""

    def __init__(self, domain: DomainRecord, object_types: ObjectTypeService, ingest: IngestService) -> None:
        self.domain = domain
        self.object_types = object_types
        self.ingest = ingest
        self.scope = domain_scope(domain.id)
        self.key_ref = kms_key_ref(domain.default_encryption_key)
        self._resolved: dict[str, ObjectType] = {}

    def _object_type(self, name: str) -> ObjectType:
        found = self._resolved.get(name)
        if found is None:
            found = self._resolved[name] = self.object_types.resolve(self.domain, name)
        return found

    def resolve(self, object_type: str) -> None:
        self._object_type(object_type)

    def load(self, object_type: str, bodies: Sequence[str], *, dropped: Sequence[tuple[str, str]], source: str,
             performed_by: str, now: datetime, within: Within) -> None:
        def commit(uow: UnitOfWork, results: list[IngestResult]) -> None:
            within(uow, [r.rejected for r in results])

        self.ingest.ingest(self.domain, self._object_type(object_type), bodies, source=source,
                           performed_by=performed_by, now=now, dropped=dropped, within=commit)


class FlowDestination:
    """The Customer Profiles destination of flows (wired into AppFlow by app.py)."""

    def __init__(self, store: Store, domains: DomainService, object_types: ObjectTypeService,
                 ingest: IngestService) -> None:
        self.store = store
        self.domains = domains
        self.object_types = object_types
        self.ingest = ingest

    def check(self, ctx: RequestContext, where: str, properties: Mapping[str, Any]) -> None:
        domain_name = str(properties["domainName"])
        try:
            domain = self.domains.record(ctx, domain_name)
        except NotFound:
            raise Invalid(f"{where}.domainName: domain {domain_name} does not exist") from None
        object_type = properties.get("objectTypeName")
        if object_type is not None:
            try:
                self.object_types.resolve(domain, str(object_type))
            except NotFound:
                raise Invalid(
                    f"{where}.objectTypeName: object type {object_type} does not exist in domain {domain_name}"
                ) from None

    def integration(self, ctx: RequestContext, domain_name: str, flow_arn: str) -> FlowIntegration | None:
        try:
            domain = self.domains.record(ctx, domain_name)
        except NotFound:
            return None
        with self.store.read() as uow:
            record = uow.integrations.get(domain.id, flow_arn)
        if record is None:
            return None
        return FlowIntegration(record.object_type_name, record.object_type_names)

    def open(self, ctx: RequestContext, domain_name: str) -> FlowDomain:
        return FlowDomain(self.domains.record(ctx, domain_name), self.object_types, self.ingest)
