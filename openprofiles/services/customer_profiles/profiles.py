"""Profiles through the API: create, update, delete, read, keys, objects and history."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from openprofiles.crypto.envelope import Envelope
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.customer_profiles.crypto_scope import DomainCipher
from openprofiles.services.customer_profiles.document import ProfileDocument, flatten
from openprofiles.services.customer_profiles.normalize import index_form, normalize
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.services.customer_profiles.object_types import STANDARD_OBJECT_FILTERS
from openprofiles.services.customer_profiles.profile_store import (
    DEFAULT_EXPIRATION_DAYS,
    ProfileWriter,
    open_document,
)
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.history import HistoryRow
from openprofiles.storage.objects import ObjectRow
from openprofiles.storage.profiles import KeyEntry
from openprofiles.storage.store import Store

MANUAL_SOURCE = "_manual"
API_ACTOR = "API"


@dataclass(frozen=True)
class StoredObject:
    object_type_name: str
    object_key: str
    text: str
    row_id: int


@dataclass(frozen=True)
class HistoryRecord:
    row: HistoryRow
    content: str | None


@dataclass(frozen=True)
class WholeProfile:
    document: ProfileDocument
    #: Object type name (sorted) -> its newest objects, newest first.
    objects: dict[str, list[StoredObject]]
    #: The newest history records, newest first.
    history: list[HistoryRow]


class ProfileService:
    def __init__(self, store: Store, envelope: Envelope, object_types: ObjectTypeService) -> None:
        self.store = store
        self.envelope = envelope
        self.object_types = object_types

    def _cipher(self, domain: DomainRecord) -> DomainCipher:
        return DomainCipher(self.envelope, domain.id, domain.default_encryption_key)

    def _expiry(self, domain: DomainRecord, now: datetime) -> datetime:
        return now + timedelta(days=domain.default_expiration_days or DEFAULT_EXPIRATION_DAYS)

    def _index(self, domain: DomainRecord, cipher: DomainCipher, key_name: str, values: Sequence[str]) -> dict[bytes, str]:
        content_type = self.object_types.search_keys(domain).content_types.get(key_name, "STRING")
        return {cipher.index(index_form(content_type, v)): v for v in values}

    # Writes.

    def create(self, domain: DomainRecord, fields: Mapping[str, Any], actor: str, now: datetime) -> str:
        cipher = self._cipher(domain)
        with self.store.write() as uow:
            uow.lock_domain(domain.id)
            writer = ProfileWriter(uow, domain, cipher, now)
            profile_id = writer.create(self._expiry(domain, now))
            document = writer.document(profile_id)
            for path, value in flatten(fields):
                document.set_by_hand(path, value)
            writer.history(profile_id, "CREATED", "_profile", actor, None, document.profile_json())
            writer.flush()
        return profile_id

    def update(self, domain: DomainRecord, profile_id: str, fields: Mapping[str, Any], actor: str, now: datetime) -> str:
        """Set the given fields by hand; an empty string clears a field, an omitted one is kept."""
        cipher = self._cipher(domain)
        with self.store.write() as uow:
            uow.lock_domain(domain.id)
            writer = ProfileWriter(uow, domain, cipher, now)
            if not writer.exists(profile_id):
                raise NotFound(f"Profile {profile_id} does not exist in domain {domain.name}")
            document = writer.document(profile_id)
            for path, value in flatten(fields):
                document.set_by_hand(path, value)
            writer.changed(profile_id, self._expiry(domain, now))
            writer.history(profile_id, "UPDATED", "_profile", actor, None, document.profile_json())
            writer.flush()
        return profile_id

    def delete(self, domain: DomainRecord, profile_id: str, actor: str, now: datetime) -> None:
        """Delete the profile, its objects and keys; its history keeps a DELETED_BY_CUSTOMER record."""
        with self.store.write() as uow:
            uow.lock_domain(domain.id)
            if uow.profiles.get(domain.id, profile_id) is None:
                raise NotFound(f"Profile {profile_id} does not exist in domain {domain.name}")
            uow.objects.delete_for_profile(domain.id, profile_id)
            uow.profiles.delete(domain.id, profile_id)
            uow.history.add(domain.id, [deletion_record(profile_id, "DELETED_BY_CUSTOMER", actor, now)])

    def add_key(self, domain: DomainRecord, profile_id: str, key_name: str, values: Sequence[str], actor: str,
                now: datetime) -> None:
        cipher = self._cipher(domain)
        indexes = self._index(domain, cipher, key_name, values)
        with self.store.write() as uow:
            uow.lock_domain(domain.id)
            writer = ProfileWriter(uow, domain, cipher, now)
            if not writer.exists(profile_id):
                raise NotFound(f"Profile {profile_id} does not exist in domain {domain.name}")
            writer.add_keys(KeyEntry(key_name, index, profile_id, MANUAL_SOURCE) for index in indexes)
            content = orjson.dumps({"KeyName": key_name, "Values": list(values)})
            writer.history(profile_id, "ADDED_PROFILE_KEY", "_profile", actor, None, content)
            writer.flush()

    def delete_key(self, domain: DomainRecord, profile_id: str, key_name: str, values: Sequence[str], actor: str,
                   now: datetime) -> None:
        cipher = self._cipher(domain)
        indexes = self._index(domain, cipher, key_name, values)
        unique_types = self.object_types.search_keys(domain).unique_types.get(key_name, ())
        with self.store.write() as uow:
            uow.lock_domain(domain.id)
            writer = ProfileWriter(uow, domain, cipher, now)
            if not writer.exists(profile_id):
                raise NotFound(f"Profile {profile_id} does not exist in domain {domain.name}")
            removed = uow.keys.remove_values(domain.id, profile_id, key_name, indexes)
            removed += uow.objects.remove_unique_values(domain.id, profile_id, unique_types, indexes)
            if removed == 0:
                raise NotFound(f"Profile {profile_id} has no key {key_name} with those values")
            content = orjson.dumps({"KeyName": key_name, "Values": list(values)})
            writer.history(profile_id, "DELETED_PROFILE_KEY", "_profile", actor, None, content)
            writer.flush()

    def delete_object(self, domain: DomainRecord, profile_id: str, object_type_name: str, object_key: str) -> None:
        with self.store.write() as uow:
            found = uow.objects.by_key(domain.id, object_key)
            if found is None or found.profile_id != profile_id or found.object_type_name != object_type_name:
                raise NotFound(f"Profile object {object_key} does not exist for profile {profile_id}")
            uow.objects.delete_ids([found.id])

    # Reads.

    def get_many(self, domain: DomainRecord, profile_ids: Sequence[str]) -> dict[str, ProfileDocument]:
        cipher = self._cipher(domain)
        with self.store.read() as uow:
            rows = uow.profiles.get_many(domain.id, profile_ids)
        return {pid: open_document(cipher, row) for pid, row in rows.items()}

    def objects(
        self,
        domain: DomainRecord,
        profile_id: str,
        object_type_name: str,
        key_filter: tuple[str, Sequence[str]] | None,
        after: int | None,
        limit: int,
    ) -> list[StoredObject]:
        """Up to `limit` objects of a type after row `after`; with a filter, those whose key has
        one of the values (a profile holds at most a few thousand objects, so the filter reads them)."""
        cipher = self._cipher(domain)
        matches = self._filter(domain, cipher, object_type_name, key_filter) if key_filter else None
        out: list[StoredObject] = []
        with self.store.read() as uow:
            if uow.profiles.get(domain.id, profile_id) is None:
                raise NotFound(f"Profile {profile_id} does not exist in domain {domain.name}")
            while len(out) < limit:
                rows = uow.objects.for_profile(domain.id, profile_id, object_type_name, after, max(limit, 100))
                for row in rows:
                    stored = self._object(cipher, row)
                    if matches is None or matches(stored, row):
                        out.append(stored)
                        if len(out) == limit:
                            break
                if len(rows) < max(limit, 100):
                    break
                after = rows[-1].id
        return out

    def whole(self, domain: DomainRecord, profile_id: str, objects_per_type: int, history_limit: int) -> WholeProfile:
        """A profile with its newest objects of each type and its newest history records, read in one
        transaction; NotFound for an unknown profile."""
        cipher = self._cipher(domain)
        with self.store.read() as uow:
            row = uow.profiles.get(domain.id, profile_id)
            if row is None:
                raise NotFound(f"Profile {profile_id} does not exist in domain {domain.name}")
            objects = {name: uow.objects.latest_for_profile(domain.id, profile_id, name, objects_per_type)
                       for name in uow.objects.type_names_for_profile(domain.id, profile_id)}
            history = uow.history.latest_for_profile(domain.id, profile_id, history_limit)
        return WholeProfile(
            document=open_document(cipher, row),
            objects={name: [self._object(cipher, r) for r in rows] for name, rows in objects.items()},
            history=history,
        )

    def _filter(self, domain: DomainRecord, cipher: DomainCipher, object_type_name: str,
                key_filter: tuple[str, Sequence[str]]) -> Callable[[StoredObject, ObjectRow], bool]:
        """A predicate for ObjectFilter: standard objects by their id fields (or the entity key
        that created them), other types by one of their keys, compared like the key's fields."""
        name, values = key_filter
        if object_type_name in STANDARD_OBJECT_FILTERS:
            field = STANDARD_OBJECT_FILTERS[object_type_name].get(name)
            if field is None:
                known = ", ".join(STANDARD_OBJECT_FILTERS[object_type_name])
                raise Invalid(f"ObjectFilter.KeyName {name!r} does not filter {object_type_name}; use one of {known}")
            wanted = {index_form("STRING", v) for v in values}
            indexes = {cipher.index(v) for v in wanted}

            def standard(obj: StoredObject, row: ObjectRow) -> bool:
                value = orjson.loads(obj.text).get(field)
                return row.unique_index in indexes or (value is not None and index_form("STRING", str(value)) in wanted)

            return standard
        otype = self.object_types.resolve(domain, object_type_name)
        key = next((k for k in otype.keys if k.name == name), None)
        if key is None:
            raise Invalid(f"ObjectFilter.KeyName {name!r} is not a key of object type {object_type_name}")
        content_type = otype.key_content_type(key)
        wanted = {index_form(content_type, v) for v in values}

        def custom(obj: StoredObject, row: ObjectRow) -> bool:
            record = orjson.loads(obj.text)
            parts = []
            for field_name in key.field_names:
                spec = otype.fields[field_name]
                raw = spec.source.evaluate(record)
                if raw is None:
                    return False
                parts.append(index_form(spec.content_type, normalize(spec.content_type, raw)))
            return "_".join(parts) in wanted

        return custom

    def _object(self, cipher: DomainCipher, row: ObjectRow) -> StoredObject:
        text = cipher.open(row.payload, row.object_key.encode()).decode()
        return StoredObject(row.object_type_name, row.object_key, text, row.id)

    def attribute_values(self, domain: DomainRecord, attribute: str) -> list[str]:
        """The distinct values of a profile attribute (`FirstName`, `Address.City`, `Attributes.x`)."""
        cipher = self._cipher(domain)
        values: set[str] = set()
        with self.store.read() as uow:
            for row in uow.profiles.all_documents(domain.id):
                value = open_document(cipher, row).get(attribute)
                if isinstance(value, str):
                    values.add(value)
        return sorted(values)

    def history(self, domain: DomainRecord, profile_id: str, after: int | None, limit: int,
                filters: Mapping[str, str | None]) -> list[HistoryRow]:
        with self.store.read() as uow:
            if uow.profiles.get(domain.id, profile_id) is None:
                raise NotFound(f"Profile {profile_id} does not exist in domain {domain.name}")
            return uow.history.for_profile(domain.id, profile_id, after, limit, **filters)

    def history_record(self, domain: DomainRecord, profile_id: str, record_id: str) -> HistoryRecord:
        cipher = self._cipher(domain)
        with self.store.read() as uow:
            row = uow.history.get(domain.id, profile_id, record_id)
        if row is None:
            raise NotFound(f"History record {record_id} does not exist for profile {profile_id}")
        content = cipher.open(row.content, row.record_id.encode()).decode() if row.content is not None else None
        return HistoryRecord(row, content)


def deletion_record(profile_id: str, action: str, actor: str, now: datetime) -> HistoryRow:
    return HistoryRow(uuid.uuid4().hex, profile_id, "_profile", action, actor, None, None, now)


def check_profile_fields(fields: Mapping[str, Any]) -> None:
    """Gender/PartyType and their free-text variants are alternatives, not both."""
    for name in ("Gender", "PartyType"):
        if fields.get(name) and fields.get(f"{name}String"):
            raise Invalid(f"Give either {name} or {name}String, not both")
