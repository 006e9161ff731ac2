"""Object types of a domain: stored, compiled once, resolved for ingestion (explicit or implicit),
and the ingest plan of each compiled version."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.keyring import KeyringError
from openprofiles.crypto.kms import kms_key_ref
from openprofiles.errors import NotFound
from openprofiles.services.arns import Arn, domain_arn
from openprofiles.services.customer_profiles.crypto_scope import DomainCipher, object_type_scope
from openprofiles.services.customer_profiles.document import STANDARD_KEYS
from openprofiles.services.customer_profiles.domains import key_unusable
from openprofiles.services.customer_profiles.ingest import IngestPlan
from openprofiles.services.customer_profiles.object_types import (
    MAX_KEYS,
    MAX_OBJECT_TYPES,
    STANDARD_OBJECTS,
    ObjectType,
    check_quota,
    compile_definition,
    resolve_definition,
    template_object_type,
    template_unique_keys,
)
from openprofiles.services.customer_profiles.profile_store import ProfileWriter
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.fast_reads import FastReader
from openprofiles.storage.object_types import ObjectTypeRecord
from openprofiles.storage.store import Store, UnitOfWork

#: Seconds a process remembers a domain's SearchKeys (another process's object type changes show after it).
SEARCH_KEYS_TTL = 5.0
#: Content types of the built-in search keys.
BUILT_IN_KEYS = {name: content_type for name, (content_type, _) in STANDARD_KEYS.items()} | {
    "_fullName": "NAME",
    "_profileId": "STRING",
}


def object_type_arn(domain: DomainRecord, name: str) -> str:
    return f"{domain_arn(domain.region, domain.account_id, domain.name)}/object-types/{name}"


def object_type_exists(uow: UnitOfWork, arn: Arn) -> bool:
    """Tag resolver for `arn:…:profile:…:domains/D/object-types/T`."""
    parts = arn.resource.split("/")
    if len(parts) != 4 or parts[2] != "object-types":
        return False
    domain = uow.domains.get(arn.account_id, arn.region, parts[1])
    return domain is not None and uow.object_types.get(domain.id, parts[3]) is not None


@dataclass(frozen=True)
class SearchKeys:
    #: Key name -> the content type its values compare as.
    content_types: dict[str, str]
    #: Key name -> the object types (sorted) whose UNIQUE key it is, when their objects' values find
    #: profiles (`KeySpec.found_by_object`).
    unique_types: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class StoredObjectType:
    object_type: ObjectType
    tags: dict[str, str]


class ObjectTypeService:
    def __init__(self, store: Store, envelope: Envelope, reader: FastReader, *, max_keys: int = MAX_KEYS,
                 max_object_types: int = MAX_OBJECT_TYPES) -> None:
        self.store = store
        self.envelope = envelope
        self.reader = reader
        self.max_keys = max_keys
        self.max_object_types = max_object_types
        self._compiled: dict[tuple[int, str], ObjectType] = {}
        #: The ingest plan of the object type last ingested with, by (domain id, name), kept with it.
        self._plans: dict[tuple[int, str], tuple[ObjectType, IngestPlan]] = {}
        self._search_keys: dict[int, tuple[float, SearchKeys]] = {}
        self._lock = threading.Lock()

    def _compile(self, record: ObjectTypeRecord) -> ObjectType:
        """Compile a stored definition, once per version."""
        slot = (record.domain_id, record.name)
        with self._lock:
            cached = self._compiled.get(slot)
            if cached is not None and cached.last_updated_at == record.last_updated_at:
                return cached
        compiled = compile_definition(
            record.name, record.definition, max_keys=max(self.max_keys, len(record.definition.get("Keys") or {})),
            created_at=record.created_at, last_updated_at=record.last_updated_at,
        )
        with self._lock:
            self._compiled[slot] = compiled
        return compiled

    def plan(self, domain_id: int, otype: ObjectType) -> IngestPlan:
        """The ingest plan of a compiled object type of this domain, made once per compiled version:
        a changed (re-compiled) or deleted type, or another implicit one, gets a new plan."""
        slot = (domain_id, otype.name)
        with self._lock:
            found = self._plans.get(slot)
        if found is not None and found[0] is otype:
            return found[1]
        plan = IngestPlan.compile(otype)
        with self._lock:
            self._plans[slot] = (otype, plan)
        return plan

    def put(self, domain: DomainRecord, name: str, params: Mapping[str, Any], now: Any) -> StoredObjectType:
        definition = resolve_definition(name, params)
        compile_definition(name, definition, max_keys=self.max_keys)  # raises Invalid before storing
        encryption_key = definition.get("EncryptionKey") or None
        if encryption_key:
            # The type's own data key, created (or re-wrapped) now: an unusable KMS key fails the call
            # before anything is stored. Free text: the local keyring wraps it.
            try:
                self.envelope.ensure_key(object_type_scope(domain.id, name), kms_key_ref(encryption_key))
            except KeyringError as error:
                raise key_unusable("EncryptionKey", encryption_key, error) from None
        with self.store.write() as uow:
            if uow.object_types.get(domain.id, name) is None:
                check_quota(uow.object_types.count(domain.id), self.max_object_types)
            record = uow.object_types.put(domain.id, name, definition, now)
            self._search_keys.pop(domain.id, None)
            with self._lock:
                self._plans.pop((domain.id, name), None)
            arn = object_type_arn(domain, name)
            if params.get("Tags"):
                uow.tags.put(arn, params["Tags"])
            tags = uow.tags.get(arn)
        return StoredObjectType(self._compile(record), tags)

    def get(self, domain: DomainRecord, name: str) -> StoredObjectType:
        with self.store.read() as uow:
            record = uow.object_types.get(domain.id, name)
            if record is None:
                raise NotFound(f"Object type {name} does not exist in domain {domain.name}")
            tags = uow.tags.get(object_type_arn(domain, name))
        return StoredObjectType(self._compile(record), tags)

    def resolve(self, domain: DomainRecord, name: str) -> ObjectType:
        """The object type to ingest with: the domain's definition, else the template of that name.

        Only the stored version is read when this process has compiled that version already."""
        with self.reader.session(statements=1) as session:
            version = session.object_type_version(domain.id, name)
        if version is not None:
            with self._lock:
                cached = self._compiled.get((domain.id, name))
            if cached is not None and cached.last_updated_at == version:
                return cached
            with self.store.read() as uow:
                record = uow.object_types.get(domain.id, name)
            if record is not None:
                return self._compile(record)
        implicit = template_object_type(name)
        if implicit is None:
            raise NotFound(f"Object type {name} does not exist in domain {domain.name}")
        return implicit

    def page(self, domain: DomainRecord, after: str | None, limit: int) -> list[StoredObjectType]:
        with self.store.read() as uow:
            records = uow.object_types.list(domain.id, after, limit)
            tags = uow.tags.get_many(object_type_arn(domain, r.name) for r in records)
        return [StoredObjectType(self._compile(r), tags[object_type_arn(domain, r.name)]) for r in records]

    def all(self, domain: DomainRecord) -> list[ObjectType]:
        with self.store.read() as uow:
            records = uow.object_types.list(domain.id)
        return [self._compile(r) for r in records]

    def search_keys(self, domain: DomainRecord) -> SearchKeys:
        """The domain's searchable keys: how values of each compare, and which object types have it
        as their UNIQUE key (defined types, and the templates a type name can use implicitly).

        Remembered for SEARCH_KEYS_TTL seconds (this process forgets at once when it changes an
        object type; another process's change is seen within the TTL)."""
        cached = self._search_keys.get(domain.id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        types = dict(BUILT_IN_KEYS)
        unique: dict[str, list[str]] = {}
        defined = self.all(domain)
        for otype in defined:
            for name, content_type in otype.content_types.items():
                types.setdefault(name, content_type)
            if otype.unique_key.found_by_object:
                unique.setdefault(otype.unique_key.name, []).append(otype.name)
        names = {otype.name for otype in defined}
        for template_id, key_name in template_unique_keys().items():
            if template_id not in names:
                unique.setdefault(key_name, []).append(template_id)
        keys = SearchKeys(types, {name: tuple(sorted(found)) for name, found in unique.items()})
        self._search_keys[domain.id] = (time.monotonic() + SEARCH_KEYS_TTL, keys)
        return keys

    def delete(self, domain: DomainRecord, name: str, now: Any) -> None:
        """Delete the type, its objects, the key values and profile fields that came only from it."""
        if name in STANDARD_OBJECTS:
            raise NotFound(f"Object type {name} does not exist in domain {domain.name}")
        cipher = DomainCipher(self.envelope, domain.id, domain.default_encryption_key)
        with self.store.write() as uow:
            uow.lock_domain(domain.id)
            if uow.object_types.get(domain.id, name) is None:
                raise NotFound(f"Object type {name} does not exist in domain {domain.name}")
            writer = ProfileWriter(uow, domain, cipher, now)
            affected = uow.objects.profiles_with_type(domain.id, name)
            writer.load(affected)
            for profile_id in affected:
                writer.document(profile_id).clear_source(name)
                writer.reindex(profile_id)  # standard entries the removed ones stood in for
            uow.objects.delete_type(domain.id, name)
            uow.keys.remove_source(domain.id, name)
            writer.flush()
            uow.object_types.delete(domain.id, name)
            uow.tags.delete_resource(object_type_arn(domain, name))
        with self._lock:
            self._compiled.pop((domain.id, name), None)
            self._plans.pop((domain.id, name), None)
            self._search_keys.pop(domain.id, None)
