"""Integration operations, in wire names (rules in services/customer_profiles/integrations.py)."""

from __future__ import annotations

from typing import Any

from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.integrations import Integration, IntegrationRequest, IntegrationService
from openprofiles.services.pagination import PageTokens

Params = dict[str, Any]


def integration_body(integration: Integration) -> Params:
    """A PutIntegration/GetIntegration response, and a ListIntegrationItem."""
    record = integration.record
    return {
        "DomainName": record.domain_name,
        "Uri": record.uri,
        "ObjectTypeName": record.object_type_name,
        "CreatedAt": record.created_at,
        "LastUpdatedAt": record.last_updated_at,
        "Tags": integration.tags or None,
        "ObjectTypeNames": record.object_type_names,
        "WorkflowId": record.workflow_id,
        "IsUnstructured": record.is_unstructured,
        "RoleArn": record.role_arn,
        "EventTriggerNames": record.event_trigger_names,
    }


class IntegrationHandlers:
    integrations: IntegrationService
    pages: PageTokens

    def put_integration(self, ctx: RequestContext, p: Params) -> Params:
        request = IntegrationRequest(
            uri=p.get("Uri"),
            object_type_name=p.get("ObjectTypeName"),
            object_type_names=p.get("ObjectTypeNames"),
            tags=p.get("Tags"),
            role_arn=p.get("RoleArn"),
            event_trigger_names=p.get("EventTriggerNames"),
            flow_definition=p.get("FlowDefinition"),
        )
        return integration_body(self.integrations.put(ctx, p["DomainName"], request))

    def get_integration(self, ctx: RequestContext, p: Params) -> Params:
        return integration_body(self.integrations.get(ctx, p["DomainName"], p["Uri"]))

    def list_integrations(self, ctx: RequestContext, p: Params) -> Params:
        # IncludeHidden is accepted: OpenProfiles has no hidden integrations.
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.integrations.list(ctx, p["DomainName"], after, limit),
            lambda integration: integration.record.uri,
        )
        return {"Items": [integration_body(i) for i in items], "NextToken": token}

    def delete_integration(self, ctx: RequestContext, p: Params) -> Params:
        self.integrations.delete(ctx, p["DomainName"], p["Uri"])
        return {"Message": f"Integration {p['Uri']} was deleted from domain {p['DomainName']}"}

    def list_account_integrations(self, ctx: RequestContext, p: Params) -> Params:
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.integrations.list_for_uri(ctx, p["Uri"], after, limit),
            lambda integration: integration.record.domain_name,
        )
        return {"Items": [integration_body(i) for i in items], "NextToken": token}
