"""AppFlow connector profiles: a connection to one source application, checked when saved.

Credentials are checked against the source through its connector when a profile is created or
updated (a refusal is ConnectorAuthenticationException), stored sealed, and never returned.
Entity lists and field descriptions are cached per profile until ResetConnectorMetadataCache.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from openprofiles.connectors.base import (
    Connection,
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    NotGranted,
)
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.registry import ConnectorRegistry
from openprofiles.context import RequestContext
from openprofiles.crypto.envelope import Envelope
from openprofiles.errors import AlreadyExists, Conflict, Invalid, NotFound, ServiceError
from openprofiles.services.appflow.connector_registrations import ConnectorRegistrationService
from openprofiles.services.arns import Arn
from openprofiles.storage.connector_profiles import ConnectorProfileRecord
from openprofiles.storage.store import Store, UnitOfWork

CREDENTIALS_SCOPE = "system:connector-profiles"


class ConnectorAuthenticationFailed(ServiceError):
    """The source refused the profile's credentials (ConnectorAuthenticationException)."""


class ConnectorServerFailed(ServiceError):
    """The source could not be reached or answered with an error (ConnectorServerException)."""


def connector_profile_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:appflow:{region}:{account_id}:connectorprofile/{name}"


def connector_profile_exists(uow: UnitOfWork, arn: Arn) -> bool:
    """Tag resolver for `arn:…:appflow:…:connectorprofile/NAME`."""
    _, _, name = arn.resource.partition("/")
    return bool(name) and uow.connector_profiles.get(arn.account_id, arn.region, name) is not None


def property_key(connector_type: str) -> str:
    """The member of ConnectorProfileProperties/Credentials for a connector type."""
    return {"Servicenow": "ServiceNow", "Googleanalytics": "GoogleAnalytics", "Infornexus": "InforNexus"}.get(
        connector_type, connector_type
    )


@dataclass(frozen=True)
class ConnectorProfile:
    record: ConnectorProfileRecord

    @property
    def arn(self) -> str:
        r = self.record
        return connector_profile_arn(r.region, r.account_id, r.name)


class ConnectorProfileService:
    def __init__(self, store: Store, envelope: Envelope, registry: ConnectorRegistry,
                 grants: Grants | None = None) -> None:
        self.store = store
        #: What the operator enabled for tenants, handed to every connector built here.
        self.grants = grants or Grants()
        self.envelope = envelope
        self.registry = registry
        self.registrations = ConnectorRegistrationService(store, registry, self.grants)
        self._metadata: dict[tuple[str, str, str, str], Any] = {}
        self._lock = threading.Lock()

    # Connections and checks.

    def connector_class(self, connector_type: str, label: str | None,
                        owner: tuple[str, str] | None = None) -> type[Connector]:
        """The class serving a connector type: a built-in, or for CustomConnector a plugin that the
        `owner` (account id, region) registered under `label`."""
        cls = self.registry.get(connector_type, label)
        if cls is None and connector_type == "CustomConnector" and label and owner is not None:
            return self.registrations.connector_class(owner[0], owner[1], label)
        if cls is None:
            name = f"{connector_type} ({label})" if label else connector_type
            raise Invalid(f"connectorType {name}: no connector for it is installed in this OpenProfiles")
        return cls

    def connection(self, record: ConnectorProfileRecord) -> Connection:
        credentials: dict[str, Any] = {}
        if record.credentials is not None:
            credentials = orjson.loads(self.envelope.open(record.credentials, record.name.encode()))
        return Connection(record.name, record.connector_type, record.properties, credentials, record.connector_label,
                          record.account_id, self.grants)

    def connector(self, record: ConnectorProfileRecord) -> Connector:
        cls = self.connector_class(record.connector_type, record.connector_label, (record.account_id, record.region))
        return cls(self.connection(record))

    @staticmethod
    def _checked(connector: Connector) -> None:
        try:
            connector.check()
        except NotGranted as error:
            raise Invalid(error.message) from None
        except ConnectorAuthError as error:
            raise ConnectorAuthenticationFailed(f"The source refused the credentials: {error.message}") from None
        except ConnectorError as error:
            raise ConnectorServerFailed(f"The source could not be reached: {error.message}") from None

    @staticmethod
    def _split(connector_type: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The properties and credentials of this connector type from connectorProfileConfig."""
        key = property_key(connector_type)
        properties = (config.get("connectorProfileProperties") or {}).get(key) or {}
        credentials = (config.get("connectorProfileCredentials") or {}).get(key) or {}
        if connector_type == "CustomConnector":
            properties = properties.get("profileProperties") or {}
        return dict(properties), dict(credentials)

    # The API.

    def create(self, ctx: RequestContext, name: str, connector_type: str, label: str | None, connection_mode: str,
               config: Mapping[str, Any], kms_arn: str | None) -> ConnectorProfile:
        properties, credentials = self._split(connector_type, config)
        cls = self.connector_class(connector_type, label, (ctx.account_id, ctx.region))
        self._checked(cls(Connection(name, connector_type, properties, credentials, label, ctx.account_id,
                                     self.grants)))
        sealed = self.envelope.seal(CREDENTIALS_SCOPE, orjson.dumps(credentials), name.encode()) if credentials else None
        with self.store.write() as uow:
            if uow.connector_profiles.get(ctx.account_id, ctx.region, name) is not None:
                raise AlreadyExists(f"Connector profile {name} already exists")
            record = uow.connector_profiles.add(
                ctx.account_id, ctx.region, name, connector_type=connector_type, label=label,
                connection_mode=connection_mode, properties=properties, credentials=sealed, kms_arn=kms_arn,
                now=ctx.now,
            )
        return ConnectorProfile(record)

    def _get(self, uow: UnitOfWork, ctx: RequestContext, name: str) -> ConnectorProfileRecord:
        record = uow.connector_profiles.get(ctx.account_id, ctx.region, name)
        if record is None:
            raise NotFound(f"Connector profile {name} does not exist")
        return record

    def get(self, ctx: RequestContext, name: str) -> ConnectorProfileRecord:
        with self.store.read() as uow:
            return self._get(uow, ctx, name)

    def update(self, ctx: RequestContext, name: str, connection_mode: str, config: Mapping[str, Any]) -> ConnectorProfile:
        current = self.get(ctx, name)
        properties, credentials = self._split(current.connector_type, config)
        self._checked(self.connector_class(current.connector_type, current.connector_label, (ctx.account_id, ctx.region))(
            Connection(name, current.connector_type, properties, credentials, current.connector_label,
                       ctx.account_id, self.grants)))
        sealed = self.envelope.seal(CREDENTIALS_SCOPE, orjson.dumps(credentials), name.encode()) if credentials else None
        with self.store.write() as uow:
            record = self._get(uow, ctx, name)
            uow.connector_profiles.update(record.id, connection_mode=connection_mode, properties=properties,
                                          credentials=sealed, now=ctx.now)
            updated = self._get(uow, ctx, name)
        self.reset_metadata(ctx, name)
        return ConnectorProfile(updated)

    def delete(self, ctx: RequestContext, name: str, force: bool) -> None:
        with self.store.write() as uow:
            record = self._get(uow, ctx, name)
            users = uow.connector_profiles.flows_using(ctx.account_id, ctx.region, name)
            if users and not force:
                raise Conflict(f"Connector profile {name} is used by flow(s) {', '.join(users)}; use forceDelete")
            uow.connector_profiles.delete(record.id)
            uow.tags.delete_resource(connector_profile_arn(ctx.region, ctx.account_id, name))
        self.reset_metadata(ctx, name)

    def page(self, ctx: RequestContext, after: str | None, limit: int, names: list[str] | None,
             connector_type: str | None, label: str | None) -> list[ConnectorProfile]:
        with self.store.read() as uow:
            records = uow.connector_profiles.page(ctx.account_id, ctx.region, after, limit, names, connector_type,
                                                  label)
        return [ConnectorProfile(r) for r in records]

    # Metadata, cached per profile.

    def _cached(self, slot: tuple[str, str, str, str], load: Any) -> Any:
        with self._lock:
            if slot in self._metadata:
                return self._metadata[slot]
        try:
            value = load()
        except NotGranted as error:
            raise Invalid(error.message) from None
        except ConnectorAuthError as error:
            raise ConnectorAuthenticationFailed(error.message) from None
        except ConnectorError as error:
            raise ConnectorServerFailed(error.message) from None
        with self._lock:
            self._metadata[slot] = value
        return value

    def entities(self, ctx: RequestContext, name: str, path: str | None) -> list[Entity]:
        record = self.get(ctx, name)
        slot = (ctx.account_id, ctx.region, name, f"entities:{path or ''}")
        return list(self._cached(slot, lambda: self.connector(record).entities(path)))

    def describe_entity(self, ctx: RequestContext, name: str, entity: str) -> list[EntityField]:
        record = self.get(ctx, name)
        slot = (ctx.account_id, ctx.region, name, f"fields:{entity}")
        return list(self._cached(slot, lambda: self.connector(record).describe(entity)))

    def reset_metadata(self, ctx: RequestContext, name: str) -> None:
        with self._lock:
            for slot in [s for s in self._metadata if s[:3] == (ctx.account_id, ctx.region, name)]:
                del self._metadata[slot]

