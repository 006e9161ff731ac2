"""Profile, object, key, search and history operations, in wire names."""

from __future__ import annotations

from typing import Any

from openprofiles.context import RequestContext
from openprofiles.errors import Invalid
from openprofiles.services.customer_profiles.domains import DomainService
from openprofiles.services.customer_profiles.ingest import IngestService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.services.customer_profiles.profiles import API_ACTOR, ProfileService, check_profile_fields
from openprofiles.services.customer_profiles.search import SearchKey, SearchService
from openprofiles.services.customer_profiles.wire import profile_body, profile_fields
from openprofiles.services.pagination import PageTokens

Params = dict[str, Any]


def _actor(ctx: RequestContext) -> str:
    return f"{API_ACTOR}:{ctx.account_id}"


class ProfileHandlers:
    domains: DomainService
    object_types: ObjectTypeService
    profiles: ProfileService
    ingest: IngestService
    search: SearchService
    pages: PageTokens

    # Objects in.

    def put_profile_object(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        otype = self.object_types.resolve(domain, p["ObjectTypeName"])
        (result,) = self.ingest.ingest(domain, otype, [p["Object"]], source="PutProfileObject",
                                       performed_by=_actor(ctx), now=ctx.now)
        if result.rejected:
            raise Invalid(f"{result.rejected} (kept in the dead-letter store)")
        return {"ProfileObjectUniqueKey": result.object_key}

    # Profiles.

    def create_profile(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        fields = profile_fields(p)
        check_profile_fields(fields)
        return {"ProfileId": self.profiles.create(domain, fields, _actor(ctx), ctx.now)}

    def update_profile(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        fields = profile_fields(p)
        check_profile_fields(fields)
        return {"ProfileId": self.profiles.update(domain, p["ProfileId"], fields, _actor(ctx), ctx.now)}

    def delete_profile(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        self.profiles.delete(domain, p["ProfileId"], _actor(ctx), ctx.now)
        return {"Message": f"Profile {p['ProfileId']} was deleted"}

    def batch_get_profile(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        found = self.profiles.get_many(domain, p["ProfileIds"])
        return {
            "Profiles": [profile_body(found[pid]) for pid in p["ProfileIds"] if pid in found],
            "Errors": [
                {"Code": "ResourceNotFoundException", "Message": f"Profile {pid} does not exist", "ProfileId": pid}
                for pid in p["ProfileIds"] if pid not in found
            ],
        }

    def add_profile_key(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        self.profiles.add_key(domain, p["ProfileId"], p["KeyName"], p["Values"], _actor(ctx), ctx.now)
        return {"KeyName": p["KeyName"], "Values": p["Values"]}

    def delete_profile_key(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        self.profiles.delete_key(domain, p["ProfileId"], p["KeyName"], p["Values"], _actor(ctx), ctx.now)
        return {"Message": f"Key {p['KeyName']} values were deleted from profile {p['ProfileId']}"}

    def search_profiles(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        keys = [SearchKey(p["KeyName"], tuple(p["Values"]))]
        keys += [SearchKey(k["KeyName"], tuple(k["Values"])) for k in p.get("AdditionalSearchKeys") or []]
        logical_and = p.get("LogicalOperator") == "AND"
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.search.search(domain, keys, logical_and, after, limit),
            lambda found: found.profile_id,
            default_size=20,
        )
        return {
            "Items": [
                {"ProfileId": f.profile_id, **f.fields,
                 "FoundByItems": [{"KeyName": k.name, "Values": list(k.values)} for k in f.found_by]}
                for f in items
            ],
            "NextToken": token,
        }

    # Objects out.

    def list_profile_objects(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        key_filter = None
        if p.get("ObjectFilter"):
            key_filter = (p["ObjectFilter"]["KeyName"], p["ObjectFilter"]["Values"])
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.profiles.objects(domain, p["ProfileId"], p["ObjectTypeName"], key_filter,
                                                       after, limit),
            lambda obj: obj.row_id,
        )
        return {
            "Items": [{"ObjectTypeName": o.object_type_name, "ProfileObjectUniqueKey": o.object_key, "Object": o.text}
                      for o in items],
            "NextToken": token,
        }

    def delete_profile_object(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        self.profiles.delete_object(domain, p["ProfileId"], p["ObjectTypeName"], p["ProfileObjectUniqueKey"])
        return {"Message": f"Profile object {p['ProfileObjectUniqueKey']} was deleted"}

    def list_profile_attribute_values(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        values = self.profiles.attribute_values(domain, p["AttributeName"])
        return {"DomainName": domain.name, "AttributeName": p["AttributeName"],
                "Items": [{"Value": v} for v in values], "StatusCode": 200}

    # History.

    def list_profile_history_records(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        filters = {"object_type_name": p.get("ObjectTypeName"), "action_type": p.get("ActionType"),
                   "performed_by": p.get("PerformedBy")}
        items, token = self.pages.page(
            ctx.page_scope, p,
            lambda after, limit: self.profiles.history(domain, p["ProfileId"], after, limit, filters),
            lambda row: row.id,
        )
        return {
            "ProfileHistoryRecords": [
                {"Id": r.record_id, "ObjectTypeName": r.object_type_name, "CreatedAt": r.created_at,
                 "LastUpdatedAt": r.created_at, "ActionType": r.action_type,
                 "ProfileObjectUniqueKey": r.profile_object_unique_key, "PerformedBy": r.performed_by}
                for r in items
            ],
            "NextToken": token,
        }

    def get_profile_history_record(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.record(ctx, p["DomainName"])
        record = self.profiles.history_record(domain, p["ProfileId"], p["Id"])
        r = record.row
        return {"Id": r.record_id, "ObjectTypeName": r.object_type_name, "CreatedAt": r.created_at,
                "LastUpdatedAt": r.created_at, "ActionType": r.action_type,
                "ProfileObjectUniqueKey": r.profile_object_unique_key, "Content": record.content,
                "PerformedBy": r.performed_by}
