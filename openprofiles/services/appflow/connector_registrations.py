"""AppFlow custom connector registrations: RegisterConnector makes an installed plugin usable.

A plugin is a Python package that declares a Connector class under the `openprofiles.connectors`
entry point group. In AWS a custom connector is a Lambda function; here the function name of
`connectorProvisioningConfig.lambda.lambdaArn` (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`)
names the entry point, and the registration gives it a `connectorLabel` in the caller's account
and region. Connector profiles of `CustomConnector` with that label then use the plugin's class.
Built-in labels (Files, …) need no registration and cannot be taken. docs/connectors/plugins.md
states these rules in prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from openprofiles.connectors.base import Connector
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.registry import ENTRY_POINT_GROUP, ConnectorRegistry, Plugin, PluginError
from openprofiles.context import RequestContext
from openprofiles.errors import AlreadyExists, Conflict, Invalid, NotFound, ServiceError
from openprofiles.services.arns import PARTITION, Arn, parse_arn
from openprofiles.storage.connector_registrations import ConnectorRegistrationRecord
from openprofiles.storage.integrity import DuplicateKey
from openprofiles.storage.store import Store, UnitOfWork

#: How long a clientToken is honoured after the write that carried it (AWS: 8 hours).
IDEMPOTENCY_WINDOW = timedelta(hours=8)
CUSTOM = "CustomConnector"


class PluginUnusable(ServiceError):
    """The named plugin is installed but cannot serve as a connector (ConnectorServerException)."""


def connector_arn(region: str, account_id: str, label: str) -> str:
    return str(Arn(PARTITION, "appflow", region, account_id, f"connector/{label}"))


def entry_point_of(lambda_arn: str) -> str:
    """The entry point a Lambda function ARN names: its function name (a version or alias after it is ignored)."""
    where = "connectorProvisioningConfig.lambda.lambdaArn"
    arn = parse_arn(lambda_arn)
    kind, _, rest = arn.resource.partition(":") if arn else ("", "", "")
    name = rest.split(":", 1)[0]
    if arn is None or arn.service != "lambda" or kind != "function" or not name:
        raise Invalid(
            f"{where} {lambda_arn} must be a Lambda function ARN, arn:aws:lambda:REGION:ACCOUNT:function:NAME, "
            f"whose NAME is an installed {ENTRY_POINT_GROUP} entry point"
        )
    return name


@dataclass(frozen=True)
class Registration:
    record: ConnectorRegistrationRecord
    plugin: Plugin | None

    @property
    def arn(self) -> str:
        r = self.record
        return connector_arn(r.region, r.account_id, r.label)


class ConnectorRegistrationService:
    def __init__(self, store: Store, registry: ConnectorRegistry, grants: Grants | None = None) -> None:
        self.store = store
        self.registry = registry
        #: Only the plugins the operator enabled (--enable-plugin) may be registered and used.
        self.grants = grants or Grants()

    def _enabled(self, name: str) -> None:
        """Invalid unless the operator enabled the plugin `name` for tenants."""
        if name not in self.grants.plugins:
            raise Invalid(
                f"connector plugin {name} is not enabled: the operator enables an installed plugin with "
                f"--enable-plugin {name} (or OPENPROFILES_PLUGINS)"
            )

    def _plugin(self, name: str) -> Plugin:
        self._enabled(name)
        try:
            plugin = self.registry.plugin(name)
        except LookupError:
            raise NotFound(
                f"connectorProvisioningConfig.lambda.lambdaArn: no installed package declares an entry point "
                f"named {name} in the {ENTRY_POINT_GROUP} group"
            ) from None
        except PluginError as error:
            raise PluginUnusable(str(error)) from None
        if plugin.connector.connector_type != CUSTOM:
            raise Invalid(
                f"connectorProvisioningConfig.lambda.lambdaArn: entry point {name} is a "
                f"{plugin.connector.connector_type} connector; only {CUSTOM} connectors can be registered"
            )
        return plugin

    def _usable(self, record: ConnectorRegistrationRecord) -> Registration:
        try:
            plugin: Plugin | None = self.registry.plugin(record.entry_point)
        except (LookupError, PluginError):
            plugin = None  # uninstalled since it was registered: described, but it cannot run
        return Registration(record, plugin)

    @staticmethod
    def _replayed(ctx: RequestContext, record: ConnectorRegistrationRecord | None, token: str | None,
                  wanted: dict[str, str | None]) -> ConnectorRegistrationRecord | None:
        """The registration an earlier request with this clientToken wrote, if this request repeats it;
        ConflictException if the token came with different parameters."""
        if record is None or token is None or record.client_token != token:
            return None
        if ctx.now - record.last_updated_at > IDEMPOTENCY_WINDOW:
            return None
        if any(getattr(record, key) != value for key, value in wanted.items()):
            raise Conflict(
                f"clientToken {token} was used for a different request (connector {record.label}); "
                "use a new clientToken for a new request"
            )
        return record

    # The API.

    def register(self, ctx: RequestContext, label: str | None, description: str | None, provisioning_type: str | None,
                 lambda_arn: str | None, token: str | None) -> Registration:
        if provisioning_type not in (None, "LAMBDA"):
            raise Invalid(f"connectorProvisioningType {provisioning_type} is not supported; use LAMBDA")
        if not lambda_arn:
            raise Invalid("connectorProvisioningConfig.lambda.lambdaArn is required: it names the plugin's entry point")
        entry_point = entry_point_of(lambda_arn)
        label = label or entry_point
        wanted: dict[str, str | None] = {"label": label, "lambda_arn": lambda_arn, "description": description}
        if token is not None:
            with self.store.read() as uow:
                found = uow.connector_registrations.by_client_token(ctx.account_id, ctx.region, token)
                replay = self._replayed(ctx, found, token, wanted)
            if replay is not None:
                return self._usable(replay)
        if self.registry.get(CUSTOM, label) is not None:
            raise AlreadyExists(f"connectorLabel {label} is a built-in connector of OpenProfiles; choose another label")
        plugin = self._plugin(entry_point)
        try:
            with self.store.write() as uow:
                if token is not None:
                    found = uow.connector_registrations.by_client_token(ctx.account_id, ctx.region, token)
                    replay = self._replayed(ctx, found, token, wanted)
                    if replay is not None:
                        return Registration(replay, plugin)
                if uow.connector_registrations.get(ctx.account_id, ctx.region, label) is not None:
                    raise AlreadyExists(f"A connector with connectorLabel {label} is already registered")
                record = uow.connector_registrations.add(
                    ctx.account_id, ctx.region, label, entry_point=entry_point, lambda_arn=lambda_arn,
                    description=description, client_token=token, registered_by=ctx.account_id, now=ctx.now,
                )
        except DuplicateKey:
            raise AlreadyExists(f"A connector with connectorLabel {label} is already registered") from None
        return Registration(record, plugin)

    def update(self, ctx: RequestContext, label: str, description: str | None, lambda_arn: str | None,
               token: str | None) -> Registration:
        current = self.get(ctx, label).record
        wanted: dict[str, str | None] = {"lambda_arn": lambda_arn or current.lambda_arn,
                                         "description": description if description is not None else current.description}
        replay = self._replayed(ctx, current, token, wanted)
        if replay is not None:
            return self._usable(replay)
        values: dict[str, str | None] = {"client_token": token}
        if lambda_arn:
            entry_point = entry_point_of(lambda_arn)
            self._plugin(entry_point)
            values.update(entry_point=entry_point, lambda_arn=lambda_arn)
        if description is not None:
            values["description"] = description
        with self.store.write() as uow:
            record = self._get(uow, ctx, label)
            if self._replayed(ctx, record, token, wanted) is None:
                uow.connector_registrations.update(record.id, ctx.now, **values)
            updated = self._get(uow, ctx, label)
        return self._usable(updated)

    def unregister(self, ctx: RequestContext, label: str, force: bool) -> None:
        with self.store.write() as uow:
            record = self._get(uow, ctx, label)
            users = uow.connector_registrations.profiles_using(ctx.account_id, ctx.region, label)
            if users and not force:
                raise Conflict(
                    f"Connector {label} is used by connector profile(s) {', '.join(users)}; "
                    "delete them first or use forceDelete"
                )
            uow.connector_registrations.delete(record.id)

    @staticmethod
    def _get(uow: UnitOfWork, ctx: RequestContext, label: str) -> ConnectorRegistrationRecord:
        record = uow.connector_registrations.get(ctx.account_id, ctx.region, label)
        if record is None:
            raise NotFound(f"No connector with connectorLabel {label} is registered")
        return record

    def get(self, ctx: RequestContext, label: str) -> Registration:
        with self.store.read() as uow:
            return self._usable(self._get(uow, ctx, label))

    def all(self, ctx: RequestContext) -> list[Registration]:
        with self.store.read() as uow:
            records = uow.connector_registrations.all(ctx.account_id, ctx.region)
        return [self._usable(r) for r in records]

    def connector_class(self, account_id: str, region: str, label: str) -> type[Connector]:
        """The plugin class registered under `label`; Invalid when none is, or it is no longer installed."""
        with self.store.read() as uow:
            record = uow.connector_registrations.get(account_id, region, label)
        if record is None:
            raise Invalid(
                f"connectorLabel {label}: no connector is registered under this label in this account and region "
                "(RegisterConnector registers an installed plugin)"
            )
        self._enabled(record.entry_point)
        registration = self._usable(record)
        if registration.plugin is None:
            raise Invalid(
                f"connectorLabel {label}: the registered entry point {record.entry_point} is no longer installed"
            )
        return registration.plugin.connector
