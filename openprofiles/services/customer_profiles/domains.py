"""Domains: the container of profiles, object types and integrations of one account and region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openprofiles.aws_access import AwsAccess, AwsAccessRefused
from openprofiles.context import RequestContext
from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.keyring import KeyringError
from openprofiles.crypto.kms import KmsKeyError, kms_key_ref
from openprofiles.errors import AlreadyExists, Invalid, NotFound
from openprofiles.services.arns import Arn, domain_arn
from openprofiles.services.customer_profiles.crypto_scope import domain_scope
from openprofiles.services.tags import MAX_TAGS
from openprofiles.storage.domains import DomainCounts, DomainRecord
from openprofiles.storage.fast_reads import FastReader
from openprofiles.storage.integrity import DuplicateKey
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


def key_unusable(member: str, key: str, error: KeyringError) -> Invalid:
    """The error for an encryption key that cannot wrap a data key."""
    reason = error.reason if isinstance(error, KmsKeyError) else str(error)
    return Invalid(f"{member} {key} cannot be used: {reason}")


def domain_exists(uow: UnitOfWork, arn: Arn) -> bool:
    """Tag resolver for `arn:…:profile:…:domains/NAME`."""
    parts = arn.resource.split("/")
    return len(parts) == 2 and uow.domains.get(arn.account_id, arn.region, parts[1]) is not None


class DomainService:
    def __init__(self, store: Store, envelope: Envelope, reader: FastReader, aws: AwsAccess | None = None) -> None:
        self.store = store
        self.envelope = envelope
        self.reader = reader
        self.aws = aws or AwsAccess()

    def _check_aws(self, ctx: RequestContext, queue_url: str | None, encryption_key: str | None) -> None:
        """The account may use the dead-letter queue and the KMS key it names (see aws_access); Invalid
        (BadRequestException) naming the member and the operator setting otherwise."""
        if queue_url:
            try:
                self.aws.queue_client(ctx.account_id, queue_url)
            except AwsAccessRefused as refused:
                raise Invalid(f"DeadLetterQueueUrl {queue_url} cannot be used: {refused.message}") from None
        arn = kms_key_ref(encryption_key)
        if arn:
            try:
                self.aws.principal(ctx.account_id, arn)
            except AwsAccessRefused as refused:
                raise Invalid(f"DefaultEncryptionKey {arn} cannot be used: {refused.message}") from None

    def _wrap_domain_key(self, domain_id: int, default_encryption_key: str | None) -> None:
        """Create the domain's data key now (or re-wrap it) as its DefaultEncryptionKey says: a KMS
        key ARN must be usable; free text or none means the local keyring (see crypto_scope)."""
        self.envelope.ensure_key(domain_scope(domain_id), kms_key_ref(default_encryption_key))

    def _get(self, uow: UnitOfWork, ctx: RequestContext, name: str) -> DomainRecord:
        record = uow.domains.get(ctx.account_id, ctx.region, name)
        if record is None:
            raise NotFound(f"Domain {name} does not exist")
        return record

    def record(self, ctx: RequestContext, name: str) -> DomainRecord:
        """The caller's domain of this name; NotFound otherwise."""
        with self.reader.session(statements=1) as session:
            found = session.domain(ctx.account_id, ctx.region, name)
        if found is None:
            raise NotFound(f"Domain {name} does not exist")
        return found[0]

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
        self._check_aws(ctx, dead_letter_queue_url, default_encryption_key)
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
        except DuplicateKey:
            raise AlreadyExists(f"Domain {name} already exists") from None
        if kms_key_ref(default_encryption_key):
            # The data key's scope needs the domain's id, so the domain exists for this moment;
            # an unusable KMS key removes it again and fails the call.
            try:
                self._wrap_domain_key(record.id, default_encryption_key)
            except KeyringError as error:
                with self.store.write() as uow:
                    uow.domains.delete(record.id)
                    uow.tags.delete_resource(domain_arn(ctx.region, ctx.account_id, name))
                raise key_unusable("DefaultEncryptionKey", str(default_encryption_key), error) from None
        return Domain(record, dict(tags))

    def get(self, ctx: RequestContext, name: str) -> Domain:
        with self.reader.session() as session:
            found = session.domain(ctx.account_id, ctx.region, name)
            if found is None:
                raise NotFound(f"Domain {name} does not exist")
            tags = session.tags(domain_arn(ctx.region, ctx.account_id, name))
        return Domain(found[0], tags, found[1])

    def update(self, ctx: RequestContext, name: str, changes: DomainChanges) -> Domain:
        self._check_aws(ctx, changes.dead_letter_queue_url, changes.default_encryption_key)
        if changes.default_encryption_key is not None:
            # Re-wrap the domain's data key for the new key first, so an unusable one changes nothing.
            current = self.record(ctx, name)
            if (current.default_encryption_key or "") != changes.default_encryption_key:
                try:
                    self._wrap_domain_key(current.id, changes.default_encryption_key or None)
                except KeyringError as error:
                    new_key = changes.default_encryption_key
                    if kms_key_ref(new_key) and (not isinstance(error, KmsKeyError) or error.arn == new_key):
                        raise key_unusable("DefaultEncryptionKey", new_key, error) from None
                    # The key that wraps the data key now cannot open it.
                    raise Invalid(f"The data key of domain {name} cannot be re-wrapped: {error}") from None
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
                if len(set(uow.tags.get(arn)) | set(changes.tags)) > MAX_TAGS:
                    raise Invalid(f"Tags: a domain can have at most {MAX_TAGS} tags")
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
