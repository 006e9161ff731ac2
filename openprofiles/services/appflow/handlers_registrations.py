"""Custom connector registration operations (RegisterConnector, UpdateConnectorRegistration,
UnregisterConnector), in wire names, and how a registered connector is described."""

from __future__ import annotations

from typing import Any

from openprofiles.context import RequestContext
from openprofiles.services.appflow.connector_profiles import ConnectorProfileService
from openprofiles.services.appflow.connector_registrations import Registration

Params = dict[str, Any]


def _lambda_arn(p: Params) -> str | None:
    config = (p.get("connectorProvisioningConfig") or {}).get("lambda") or {}
    return config.get("lambdaArn")


def registration_detail(registration: Registration) -> Params:
    """A ConnectorDetail (ListConnectors, DescribeConnectors) of a registered connector."""
    r, plugin = registration.record, registration.plugin
    doc = (plugin.connector.__doc__ or "").strip() if plugin else ""
    return {
        "connectorDescription": r.description or (doc.splitlines()[0] if doc else None),
        "connectorName": r.entry_point,
        "connectorOwner": plugin.distribution if plugin else None,
        "connectorVersion": plugin.version if plugin else None,
        "connectorType": "CustomConnector",
        "connectorLabel": r.label,
        "registeredAt": r.registered_at,
        "registeredBy": r.registered_by,
        "connectorProvisioningType": "LAMBDA",
        "connectorModes": ["SOURCE"],
        "supportedDataTransferTypes": ["RECORD"],
    }


def registration_configuration(base: Params, registration: Registration) -> Params:
    """DescribeConnector's ConnectorConfiguration of a registered connector, over the configuration
    its plugin class gives (`base`)."""
    r = registration.record
    detail = registration_detail(registration)
    return {
        **base,
        **{k: v for k, v in detail.items() if k not in ("applicationType",)},
        "connectorArn": registration.arn,
        "connectorProvisioningConfig": {"lambda": {"lambdaArn": r.lambda_arn}},
    }


class RegistrationHandlers:
    connector_profiles: ConnectorProfileService

    def register_connector(self, ctx: RequestContext, p: Params) -> Params:
        registration = self.connector_profiles.registrations.register(
            ctx, p.get("connectorLabel"), p.get("description"), p.get("connectorProvisioningType"), _lambda_arn(p),
            p.get("clientToken"),
        )
        return {"connectorArn": registration.arn}

    def update_connector_registration(self, ctx: RequestContext, p: Params) -> Params:
        registration = self.connector_profiles.registrations.update(
            ctx, p["connectorLabel"], p.get("description"), _lambda_arn(p), p.get("clientToken"),
        )
        return {"connectorArn": registration.arn}

    def unregister_connector(self, ctx: RequestContext, p: Params) -> Params:
        self.connector_profiles.registrations.unregister(ctx, p["connectorLabel"], bool(p.get("forceDelete")))
        return {}
