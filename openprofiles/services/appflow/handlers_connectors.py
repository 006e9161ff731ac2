"""Connector profile and connector metadata operations, in wire names."""

from __future__ import annotations

from typing import Any

import botocore.session

from openprofiles.connectors.base import Connector
from openprofiles.context import RequestContext
from openprofiles.errors import NotFound
from openprofiles.flows.tasks import connector_operators
from openprofiles.services.appflow.connector_profiles import ConnectorProfile, ConnectorProfileService, property_key
from openprofiles.services.appflow.handlers_registrations import registration_configuration, registration_detail
from openprofiles.services.pagination import PageTokens
from openprofiles.services.tags import TagService

Params = dict[str, Any]

#: Every trigger and schedule frequency OpenProfiles runs for any source it has a connector for.
TRIGGERS = ["OnDemand", "Scheduled", "Event"]
FREQUENCIES = ["BYMINUTE", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "ONCE"]
DESTINATIONS = ["CustomerProfiles"]


def _model_connector_types() -> list[str]:
    model = botocore.session.get_session().get_service_model("appflow")
    return list(model.shape_for("ConnectorType").enum)


def _profile_body(profile: ConnectorProfile) -> Params:
    r = profile.record
    properties: Params = {"CustomConnector": {"profileProperties": r.properties}} if r.connector_type == (
        "CustomConnector") else {property_key(r.connector_type): r.properties}
    return {
        "connectorProfileArn": profile.arn,
        "connectorProfileName": r.name,
        "connectorType": r.connector_type,
        "connectorLabel": r.connector_label,
        "connectionMode": r.connection_mode,
        "connectorProfileProperties": properties,
        "createdAt": r.created_at,
        "lastUpdatedAt": r.last_updated_at,
    }


def _detail(cls: type[Connector]) -> Params:
    return {
        "connectorDescription": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else None,
        "connectorName": cls.label or cls.connector_type,
        "connectorOwner": "OpenProfiles",
        "connectorVersion": "1.0",
        "connectorType": cls.connector_type,
        "connectorLabel": cls.label,
        "connectorProvisioningType": "LAMBDA" if cls.connector_type == "CustomConnector" else None,
        "connectorModes": ["SOURCE"],
        "supportedDataTransferTypes": ["RECORD"],
    }


class ConnectorHandlers:
    connector_profiles: ConnectorProfileService
    pages: PageTokens
    tags: TagService

    def create_connector_profile(self, ctx: RequestContext, p: Params) -> Params:
        profile = self.connector_profiles.create(
            ctx, p["connectorProfileName"], p["connectorType"], p.get("connectorLabel"), p["connectionMode"],
            p["connectorProfileConfig"], p.get("kmsArn"),
        )
        return {"connectorProfileArn": profile.arn}

    def update_connector_profile(self, ctx: RequestContext, p: Params) -> Params:
        profile = self.connector_profiles.update(ctx, p["connectorProfileName"], p["connectionMode"],
                                                 p["connectorProfileConfig"])
        return {"connectorProfileArn": profile.arn}

    def delete_connector_profile(self, ctx: RequestContext, p: Params) -> Params:
        self.connector_profiles.delete(ctx, p["connectorProfileName"], bool(p.get("forceDelete")))
        return {}

    def describe_connector_profiles(self, ctx: RequestContext, p: Params) -> Params:
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.connector_profiles.page(ctx, after, limit, p.get("connectorProfileNames"),
                                                              p.get("connectorType"), p.get("connectorLabel")),
            lambda profile: profile.record.name,
            token_member="nextToken", size_member="maxResults", default_size=20,
        )
        return {"connectorProfileDetails": [_profile_body(profile) for profile in items], "nextToken": token}

    def list_connector_entities(self, ctx: RequestContext, p: Params) -> Params:
        name = p.get("connectorProfileName")
        if not name:
            raise NotFound("connectorProfileName is needed to list a source's entities")
        entities = self.connector_profiles.entities(ctx, name, p.get("entitiesPath"))
        return {"connectorEntityMap": {p.get("entitiesPath") or "Objects": [
            {"name": e.name, "label": e.label, "hasNestedEntities": e.has_nested_entities} for e in entities
        ]}}

    def describe_connector_entity(self, ctx: RequestContext, p: Params) -> Params:
        name = p.get("connectorProfileName")
        if not name:
            raise NotFound("connectorProfileName is needed to describe a source's entity")
        record = self.connector_profiles.get(ctx, name)
        operators = sorted(connector_operators().get(property_key(record.connector_type), ()))
        fields = self.connector_profiles.describe_entity(ctx, name, p["connectorEntityName"])
        return {"connectorEntityFields": [
            {
                "identifier": f.name,
                "label": f.label or f.name,
                "description": f.description,
                "supportedFieldTypeDetails": {"v1": {"fieldType": f.data_type, "filterOperators": operators}},
                "sourceProperties": {"isRetrievable": True, "isQueryable": True},
            }
            for f in fields
        ]}

    def reset_connector_metadata_cache(self, ctx: RequestContext, p: Params) -> Params:
        if p.get("connectorProfileName"):
            self.connector_profiles.get(ctx, p["connectorProfileName"])
            self.connector_profiles.reset_metadata(ctx, p["connectorProfileName"])
        return {}

    def _configuration(self, connector_type: str, label: str | None, cls: type[Connector] | None = None) -> Params:
        cls = cls or self.connector_profiles.registry.get(connector_type, label)
        operators = connector_operators().get(property_key(connector_type))
        config: Params = {
            "canUseAsSource": cls is not None,
            "canUseAsDestination": connector_type in DESTINATIONS,
            "supportedDestinationConnectors": DESTINATIONS if cls is not None else [],
            "supportedSchedulingFrequencies": FREQUENCIES if cls is not None else [],
            "isPrivateLinkEnabled": False,
            "isPrivateLinkEndpointUrlRequired": False,
            "supportedTriggerTypes": TRIGGERS if cls is not None else [],
            "connectorType": connector_type,
            "connectorLabel": label,
            "supportedOperators": sorted(operators) if operators else None,
            "supportedDataTransferTypes": ["RECORD"],
        }
        if cls is not None:
            config.update({k: v for k, v in _detail(cls).items() if k in config or k in (
                "connectorDescription", "connectorName", "connectorOwner", "connectorVersion", "connectorModes")})
        return config

    def describe_connectors(self, ctx: RequestContext, p: Params) -> Params:
        types = p.get("connectorTypes") or _model_connector_types()
        return {
            "connectorConfigurations": {t: self._configuration(t, None) for t in types},
            "connectors": [detail for _, detail in self._connector_details(ctx) if detail["connectorType"] in types],
        }

    def describe_connector(self, ctx: RequestContext, p: Params) -> Params:
        connector_type, label = p["connectorType"], p.get("connectorLabel")
        if connector_type == "CustomConnector" and label and self.connector_profiles.registry.get(
                connector_type, label) is None:
            registration = self.connector_profiles.registrations.get(ctx, label)
            cls = registration.plugin.connector if registration.plugin else None
            return {"connectorConfiguration": registration_configuration(
                self._configuration(connector_type, label, cls), registration)}
        return {"connectorConfiguration": self._configuration(connector_type, label)}

    def _connector_details(self, ctx: RequestContext) -> list[tuple[str, Params]]:
        """The built-in connectors and those the caller registered, as (sort key, ConnectorDetail)."""
        details = [(f"{t}/{label or ''}", _detail(cls)) for (t, label), cls in self.connector_profiles.registry.all(
        ).items()]
        details += [(f"CustomConnector/{r.record.label}", registration_detail(r))
                    for r in self.connector_profiles.registrations.all(ctx)]
        return sorted(details, key=lambda item: item[0])

    def list_connectors(self, ctx: RequestContext, p: Params) -> Params:
        """The built-in connectors and the caller's registered ones (AWS lists registered ones only;
        OpenProfiles' built-ins take the place of AWS's own connectors)."""
        details = self._connector_details(ctx)
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: [d for d in details if after is None or d[0] > after][:limit],
            lambda d: d[0],
            token_member="nextToken", size_member="maxResults",
        )
        return {"connectors": [detail for _, detail in items], "nextToken": token}
