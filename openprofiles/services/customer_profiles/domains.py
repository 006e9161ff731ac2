"""Domains: the container of profiles, object types and integrations of one account and region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sqlalchemy.exc import IntegrityError

from openprofiles.services.arns import Arn, domain_arn
from openprofiles.services.context import RequestContext
from openprofiles.services.errors import AlreadyExists, Invalid, NotFound
from openprofiles.storage.domains import DomainCounts, DomainRecord
from openprofiles.storage.store import Store, UnitOfWork

#: The settings kept as given: Matching, RuleBasedMatching, DataStore.
SETTINGS = ("Matching", "RuleBasedMatching", "DataStore")


@dataclass(frozen=True)
class Domain:
    record: DomainRecord
    tags: dict[str, str]
    counts: DomainCounts | None = None

    @property
    def name(self) -> str:
        return self.record.name


@dataclass(frozen=True)
class DomainChanges:
    """What UpdateDomain asks for: None keeps a value, "" clears a string."""

    default_expiration_days: int | None = None
    default_encryption_key: str | None = None
    dead_letter_queue_url: str | None = None
    settings: Mapping[str, Any] | None = None
    tags: Mapping[str, str] | None = None


def _check_queue_url(url: str | None) -> None:
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise Invalid(f"DeadLetterQueueUrl {url!r} must be an SQS queue URL (https://…)")


def domain_exists(uow: UnitOfWork, arn: Arn) -> bool:
    """Tag resolver for `arn:…:profile:…:domains/NAME`."""
    parts = arn.resource.split("/")
    return len(parts) == 2 and uow.domains.get(arn.account_id, arn.region, parts[1]) is not None


class DomainService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _get(self, uow: UnitOfWork, ctx: RequestContext, name: str) -> DomainRecord:
        record = uow.domains.get(ctx.account_id, ctx.region, name)
        if record is None:
            raise NotFound(f"Domain {name} does not exist")
        return record

    def record(self, ctx: RequestContext, name: str) -> DomainRecord:
        """The caller's domain of this name; NotFound otherwise."""
        with self.store.read() as uow:
            return self._get(uow, ctx, name)

    def create(
        self,
        ctx: RequestContext,
        name: str,
        *,
        default_expiration_days: int,
        default_encryption_key: str | None,
        dead_letter_queue_url: str | None,
        settings: Mapping[str, Any],
        tags: Mapping[str, str],
    ) -> Domain:
        _check_queue_url(dead_letter_queue_url)
        try:
            with self.store.write() as uow:
                if uow.domains.get(ctx.account_id, ctx.region, name) is not None:
                    raise AlreadyExists(f"Domain {name} already exists")
                record = uow.domains.add(
                    ctx.account_id,
                    ctx.region,
                    name,
                    default_expiration_days=default_expiration_days,
                    default_encryption_key=default_encryption_key or None,
                    dead_letter_queue_url=dead_letter_queue_url or None,
                    settings=dict(settings),
                    now=ctx.now,
                )
                uow.tags.put(domain_arn(ctx.region, ctx.account_id, name), tags)
        except IntegrityError:
            raise AlreadyExists(f"Domain {name} already exists") from None
        return Domain(record, dict(tags))

    def get(self, ctx: RequestContext, name: str) -> Domain:
        with self.store.read() as uow:
            record = self._get(uow, ctx, name)
            return Domain(
                record,
                uow.tags.get(domain_arn(ctx.region, ctx.account_id, name)),
                uow.domains.counts(record.id),
            )

    def update(self, ctx: RequestContext, name: str, changes: DomainChanges) -> Domain:
        _check_queue_url(changes.dead_letter_queue_url)
        with self.store.write() as uow:
            record = self._get(uow, ctx, name)
            values: dict[str, Any] = {}
            if changes.default_expiration_days is not None:
                values["default_expiration_days"] = changes.default_expiration_days
            if changes.default_encryption_key is not None:
                values["default_encryption_key"] = changes.default_encryption_key or None
            if changes.dead_letter_queue_url is not None:
                values["dead_letter_queue_url"] = changes.dead_letter_queue_url or None
            if changes.settings:
                values["settings"] = {**record.settings, **changes.settings}
            uow.domains.update(record.id, ctx.now, **values)
            arn = domain_arn(ctx.region, ctx.account_id, name)
            if changes.tags:
                uow.tags.put(arn, changes.tags)
            updated = uow.domains.get_by_id(record.id)
            assert updated is not None
            return Domain(updated, uow.tags.get(arn))

    def delete(self, ctx: RequestContext, name: str) -> None:
        with self.store.write() as uow:
            record = self._get(uow, ctx, name)
            uow.domains.delete(record.id)
            uow.tags.delete_resource(domain_arn(ctx.region, ctx.account_id, name))

    def list(self, ctx: RequestContext, after: str | None, limit: int) -> list[Domain]:
        with self.store.read() as uow:
            records = uow.domains.list(ctx.account_id, ctx.region, after, limit)
            tags = uow.tags.get_many(domain_arn(ctx.region, ctx.account_id, r.name) for r in records)
        return [Domain(r, tags[domain_arn(ctx.region, ctx.account_id, r.name)]) for r in records]
