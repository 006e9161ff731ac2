"""Amazon Connect Customer Profiles: the operations, in wire names, over the domain services."""

from __future__ import annotations

from typing import Any, ClassVar

from openprofiles import errors
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.domains import SETTINGS, Domain, DomainChanges, DomainService
from openprofiles.services.customer_profiles.handlers_integrations import IntegrationHandlers
from openprofiles.services.customer_profiles.handlers_object_types import ObjectTypeHandlers
from openprofiles.services.customer_profiles.handlers_profiles import ProfileHandlers
from openprofiles.services.customer_profiles.handlers_workflows import WorkflowHandlers
from openprofiles.services.customer_profiles.ingest import IngestService
from openprofiles.services.customer_profiles.integrations import IntegrationService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.services.customer_profiles.profiles import ProfileService
from openprofiles.services.customer_profiles.search import SearchService
from openprofiles.services.customer_profiles.workflows import WorkflowService
from openprofiles.services.pagination import PageTokens
from openprofiles.services.provider import Provider, TagHandlers
from openprofiles.services.tags import TagService

Params = dict[str, Any]


def _domain_body(domain: Domain) -> Params:
    record = domain.record
    body: Params = {
        "DomainName": record.name,
        "DefaultExpirationDays": record.default_expiration_days,
        "DefaultEncryptionKey": record.default_encryption_key,
        "DeadLetterQueueUrl": record.dead_letter_queue_url,
        "CreatedAt": record.created_at,
        "LastUpdatedAt": record.last_updated_at,
        "Tags": domain.tags or None,
    }
    settings = record.settings
    body["Matching"] = settings.get("Matching")
    rule_based = settings.get("RuleBasedMatching")
    if rule_based is not None:
        body["RuleBasedMatching"] = {**rule_based, "Status": "ACTIVE" if rule_based.get("Enabled") else None}
    body["DataStore"] = settings.get("DataStore")
    return body


class CustomerProfilesProvider(ObjectTypeHandlers, ProfileHandlers, IntegrationHandlers, WorkflowHandlers, TagHandlers,
                               Provider):
    arn_service = "profile"
    error_codes: ClassVar[dict[type[errors.ServiceError], str]] = {
        errors.NotFound: "ResourceNotFoundException",
        errors.AccessDenied: "AccessDeniedException",
        errors.ServiceError: "BadRequestException",
    }
    quick_reads: ClassVar[frozenset[str]] = frozenset({
        "GetDomain", "SearchProfiles", "BatchGetProfile", "GetProfileObjectType", "GetProfileObjectTypeTemplate",
        "GetIntegration", "GetProfileHistoryRecord",
    })

    def __init__(
        self,
        domains: DomainService,
        tags: TagService,
        pages: PageTokens,
        object_types: ObjectTypeService,
        profiles: ProfileService,
        ingest: IngestService,
        search: SearchService,
        integrations: IntegrationService,
        workflows: WorkflowService,
    ) -> None:
        self.domains = domains
        self.tags = tags
        self.pages = pages
        self.object_types = object_types
        self.profiles = profiles
        self.ingest = ingest
        self.search = search
        self.integrations = integrations
        self.workflows = workflows

    # Domains

    def create_domain(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.create(
            ctx,
            p["DomainName"],
            default_expiration_days=p["DefaultExpirationDays"],
            default_encryption_key=p.get("DefaultEncryptionKey"),
            dead_letter_queue_url=p.get("DeadLetterQueueUrl"),
            settings={k: p[k] for k in SETTINGS if k in p},
            tags=p.get("Tags") or {},
        )
        return _domain_body(domain)

    def get_domain(self, ctx: RequestContext, p: Params) -> Params:
        domain = self.domains.get(ctx, p["DomainName"])
        body = _domain_body(domain)
        if domain.counts is not None:
            body["Stats"] = {
                "ProfileCount": domain.counts.profiles,
                "MeteringProfileCount": domain.counts.profiles,
                "ObjectCount": domain.counts.objects,
                "TotalSize": domain.counts.total_size,
            }
        return body

    def update_domain(self, ctx: RequestContext, p: Params) -> Params:
        changes = DomainChanges(
            default_expiration_days=p.get("DefaultExpirationDays"),
            default_encryption_key=p.get("DefaultEncryptionKey"),
            dead_letter_queue_url=p.get("DeadLetterQueueUrl"),
            settings={k: p[k] for k in SETTINGS if k in p},
            tags=p.get("Tags"),
        )
        return _domain_body(self.domains.update(ctx, p["DomainName"], changes))

    def delete_domain(self, ctx: RequestContext, p: Params) -> Params:
        self.domains.delete(ctx, p["DomainName"])
        return {"Message": f"Domain {p['DomainName']} was deleted"}

    def list_domains(self, ctx: RequestContext, p: Params) -> Params:
        items, token = self.pages.page(
            ctx.page_scope,
            p,
            lambda after, limit: self.domains.list(ctx, after, limit),
            lambda domain: domain.name,
        )
        return {
            "Items": [
                {
                    "DomainName": d.name,
                    "CreatedAt": d.record.created_at,
                    "LastUpdatedAt": d.record.last_updated_at,
                    "Tags": d.tags or None,
                }
                for d in items
            ],
            "NextToken": token,
        }
