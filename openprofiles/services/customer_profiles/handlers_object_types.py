"""Object type and template operations, in wire names."""

from __future__ import annotations

from typing import Any

from openprofiles.context import RequestContext
from openprofiles.errors import NotFound
from openprofiles.services.customer_profiles.detect import detect
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.services.customer_profiles.object_type_templates import get_template, list_templates
from openprofiles.services.customer_profiles.wire import object_type_body
from openprofiles.services.pagination import PageTokens

Params = dict[str, Any]


class ObjectTypeHandlers:
    domains: DomainService
    object_types: ObjectTypeService
    pages: PageTokens

    def put_profile_object_type(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        stored = self.object_types.put(domain, p["ObjectTypeName"], p, ctx.now)
        return object_type_body(stored.object_type, stored.tags)

    def get_profile_object_type(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        stored = self.object_types.get(domain, p["ObjectTypeName"])
        return object_type_body(stored.object_type, stored.tags)

    def list_profile_object_types(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        items, token = self.pages.page(
            ctx.page_scope, p, lambda after, limit: self.object_types.page(domain, after, limit),
            lambda stored: stored.object_type.name,
        )
        out = []
        for stored in items:
            body = object_type_body(stored.object_type, stored.tags)
            out.append({k: body[k] for k in ("ObjectTypeName", "Description", "CreatedAt", "LastUpdatedAt",
                                             "MaxProfileObjectCount", "MaxAvailableProfileObjectCount",
                                             "SourcePriority", "Tags")})
        return {"Items": out, "NextToken": token}

    def delete_profile_object_type(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        self.object_types.delete(domain, p["ObjectTypeName"], ctx.now)
        return {"Message": f"Object type {p['ObjectTypeName']} was deleted"}

    def list_profile_object_type_templates(self, ctx: RequestContext, p: Params) -> Params:
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: [t for t in list_templates() if after is None or t.template_id > after][:limit],
            lambda t: t.template_id,
        )
        return {
            "Items": [{"TemplateId": t.template_id, "SourceName": t.source_name, "SourceObject": t.source_object}
                      for t in items],
            "NextToken": token,
        }

    def get_profile_object_type_template(self, ctx: RequestContext, p: Params) -> Params:
        template = get_template(p["TemplateId"])
        if template is None:
            raise NotFound(f"Template {p['TemplateId']} does not exist")
        return template.as_response()

    def detect_profile_object_type(self, ctx: RequestContext, p: Params) -> Params:
        self.domains.record(ctx, p["DomainName"])
        return {"DetectedProfileObjectTypes": [detect(p["Objects"])]}

    def list_object_type_attributes(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        otype = self.object_types.get(domain, p["ObjectTypeName"]).object_type
        names = sorted(otype.fields)
        items, token = self.pages.page(
            ctx.page_scope, p, lambda after, limit: [n for n in names if after is None or n > after][:limit],
            lambda n: n,
        )
        return {"Items": [{"AttributeName": n, "LastUpdatedAt": otype.last_updated_at} for n in items],
                "NextToken": token}
