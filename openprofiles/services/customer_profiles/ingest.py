"""The one batch ingest service: objects in, profiles, keys, objects and history out.

PutProfileObject, flows and uploads all call `IngestService.ingest`. A batch is one
transaction: its profiles, key index entries, objects, standard objects, history and dead
letters commit together or not at all. Matching follows Customer Profiles' rules:

1. PROFILE keys that are not SECONDARY, in order: a value that finds exactly one profile attaches
   the object; one that finds several is ambiguous and skipped; none, the next key is tried.
2. Then the PROFILE + SECONDARY keys, the same way.
3. Then the profile of a standard object (asset, case, order) the object's entity key names, or
   of the object this one replaces (same UNIQUE key).
4. No match: a new profile when AllowProfileCreation, otherwise a dead letter with the reason.

Unlike AWS, it is read-your-writes: when `ingest` returns, everything is committed and searchable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import orjson

from openprofiles import json_depth
from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.kms import kms_key_ref
from openprofiles.services.customer_profiles.collector import collector_paused
from openprofiles.services.customer_profiles.crypto_scope import DomainCipher, object_type_scope
from openprofiles.services.customer_profiles.document import ProfileDocument, Source
from openprofiles.services.customer_profiles.ids import new_id
from openprofiles.services.customer_profiles.normalize import index_form, index_former, normalizer
from openprofiles.services.customer_profiles.object_types import (
    ENTITY_KEYS,
    STANDARD_OBJECT_IDS,
    TIMESTAMP_FIELD,
    KeySpec,
    ObjectType,
)
from openprofiles.services.customer_profiles.profile_store import DEFAULT_EXPIRATION_DAYS, ProfileWriter
from openprofiles.services.customer_profiles.timestamps import parse_source_timestamp
from openprofiles.storage.dead_letters import NewDeadLetter
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.objects import NewObject, ObjectRow
from openprofiles.storage.profiles import KeyEntry
from openprofiles.storage.store import Store, UnitOfWork

MAX_OBJECT_CHARS = 256_000
DEAD_LETTER_AAD = b"dead-letter"
#: The enum profile fields and their values (a value outside them goes to `<field>String`).
_ENUMS = MappingProxyType({"Gender": ("MALE", "FEMALE", "UNSPECIFIED"), "PartyType": ("INDIVIDUAL", "BUSINESS", "OTHER")})


@dataclass(frozen=True)
class IngestResult:
    """What happened to one object: stored (with its key and profile) or rejected (with why)."""

    object_key: str | None = None
    profile_id: str | None = None
    created_profile: bool = False
    rejected: str | None = None


@dataclass
class _Prepared:
    position: int
    text: str
    values: dict[str, str]
    keys: list[tuple[KeySpec, bytes]]
    unique_index: bytes
    timestamp: datetime | None
    entity_indexes: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestPlan:
    """An object type compiled for the per-object loop: what to read, how to normalise, what to index.

    Made by `compile`; the object-type service keeps each object type's plan (`ObjectTypeService.plan`)."""

    #: (field name, its Source evaluator, its stored form) for every field.
    fields: tuple[tuple[str, Callable[[Mapping[str, Any]], str | None], Callable[[str], str]], ...]
    #: Each key with (field name, compared form) for its fields, whether it is UNIQUE, its standard object.
    keys: tuple[tuple[KeySpec, tuple[tuple[str, Callable[[str], str]], ...], bool, str | None], ...]
    #: (field name, dotted profile path, accepted values if the field is an enum) for `_profile` targets.
    profile_targets: tuple[tuple[str, str, tuple[str, ...] | None], ...]
    timestamp_format: str | None

    @classmethod
    def compile(cls, otype: ObjectType) -> IngestPlan:
        """The plan of a compiled object type."""
        fields = tuple((f.name, f.source.evaluate, normalizer(f.content_type)) for f in otype.fields.values())
        keys = tuple(
            (key, tuple((n, index_former(otype.fields[n].content_type)) for n in key.field_names), key.unique, key.entity)
            for key in otype.keys
        )
        targets = []
        for spec in otype.fields.values():
            if spec.target is not None and spec.target.root == "_profile":
                path = ".".join(spec.target.path)
                targets.append((spec.name, path, _ENUMS.get(path)))
        return cls(fields, keys, tuple(targets), otype.timestamp_format)


class Rejected(Exception):
    """An object that cannot be ingested; the message is the dead letter's reason."""


def _too_deep(error: json_depth.TooDeep) -> Rejected:
    return Rejected(f"Object is {error}; objects and arrays may nest at most {json_depth.MAX_DEPTH} levels deep")


def _text_of(body: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if isinstance(body, Mapping):
        path = json_depth.depth_beyond(body)
        if path is not None:
            raise _too_deep(json_depth.TooDeep(json_depth.MAX_DEPTH, path))
        return orjson.dumps(body).decode(), dict(body)
    if len(body) > MAX_OBJECT_CHARS:
        raise Rejected(f"Object is {len(body)} characters; the limit is {MAX_OBJECT_CHARS}")
    try:
        parsed = json_depth.loads(body)
    except json_depth.TooDeep as error:
        raise _too_deep(error) from None
    except orjson.JSONDecodeError as error:
        raise Rejected(f"Object is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise Rejected("Object must be a JSON object")
    return body, parsed


#: The plan of an object type in a domain (`ObjectTypeService.plan`: made once per version).
PlanOf = Callable[[int, ObjectType], IngestPlan]


class IngestService:
    def __init__(
        self,
        store: Store,
        envelope: Envelope,
        plan_of: PlanOf,
        on_dead_letters: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.envelope = envelope
        self.plan_of = plan_of
        self.on_dead_letters = on_dead_letters

    # Preparation: pure, per object.

    @staticmethod
    def _prepare(position: int, body: str | Mapping[str, Any], plan: IngestPlan, cipher: DomainCipher) -> _Prepared:
        text, record = _text_of(body)
        values: dict[str, str] = {}
        for name, evaluate, stored_form in plan.fields:
            raw = evaluate(record)
            if raw:
                values[name] = stored_form(raw)
        keys: list[tuple[KeySpec, bytes]] = []
        unique_index = b""
        entity_indexes: dict[str, bytes] = {}
        for key, parts, unique, entity in plan.keys:
            forms = []
            for name, compared_form in parts:
                value = values.get(name)
                if value is None:
                    break
                if value:
                    forms.append(compared_form(value))
            else:
                index = cipher.index("_".join(forms))
                keys.append((key, index))
                if unique:
                    unique_index = index
                if entity:
                    entity_indexes[entity] = index
                continue
            if unique:
                missing = [n for n in key.field_names if n not in values]
                raise Rejected(f"Object has no value for UNIQUE key {key.name} field(s): {', '.join(missing)}")
        timestamp = None
        if plan.timestamp_format and TIMESTAMP_FIELD in values:
            timestamp = parse_source_timestamp(values[TIMESTAMP_FIELD], plan.timestamp_format)
            if timestamp is None:
                raise Rejected(
                    f"{TIMESTAMP_FIELD} {values[TIMESTAMP_FIELD]!r} does not match "
                    f"SourceLastUpdatedTimestampFormat {plan.timestamp_format!r}"
                )
        return _Prepared(position, text, values, keys, unique_index, timestamp, entity_indexes)

    # The batch.

    def ingest(
        self,
        domain: DomainRecord,
        otype: ObjectType,
        bodies: Sequence[str | Mapping[str, Any]],
        *,
        source: str,
        performed_by: str,
        now: datetime,
        dropped: Sequence[tuple[str, str]] = (),
        within: Callable[[UnitOfWork, list[IngestResult]], None] | None = None,
    ) -> list[IngestResult]:
        """Ingest a batch in one transaction. `dropped` (text, reason) are records a flow's tasks
        dropped, kept as dead letters with the batch; `within` runs in the same transaction after
        the batch (a flow commits its checkpoint there)."""
        with collector_paused():
            return self._ingest(domain, otype, bodies, source, performed_by, now, dropped, within)

    def _ingest(
        self,
        domain: DomainRecord,
        otype: ObjectType,
        bodies: Sequence[str | Mapping[str, Any]],
        source: str,
        performed_by: str,
        now: datetime,
        dropped: Sequence[tuple[str, str]],
        within: Callable[[UnitOfWork, list[IngestResult]], None] | None,
    ) -> list[IngestResult]:
        results: list[IngestResult | None] = [None] * len(bodies)
        cipher = DomainCipher(self.envelope, domain.id, domain.default_encryption_key)
        if otype.encryption_key:
            # Load (or create) the object type's data key before the write transaction opens.
            self.envelope.ensure_key(object_type_scope(domain.id, otype.name), kms_key_ref(otype.encryption_key))
        plan = self.plan_of(domain.id, otype)
        prepared: list[_Prepared] = []
        rejected: list[tuple[int, str, str]] = []
        for i, body in enumerate(bodies):
            try:
                prepared.append(self._prepare(i, body, plan, cipher))
            except Rejected as error:
                text = body if isinstance(body, str) else json_depth.dumps(body)
                rejected.append((i, text, str(error)))
        with self.store.write() as uow:
            uow.lock_domain(domain.id)
            batch = _Batch(uow, domain, otype, plan, cipher, now, performed_by)
            batch.load(prepared)
            for item in prepared:
                try:
                    results[item.position] = batch.apply(item)
                except Rejected as error:
                    rejected.append((item.position, item.text, str(error)))
            batch.flush()
            rejected.sort()  # letters in input order
            letters = [
                NewDeadLetter(otype.name, source, reason, cipher.seal(text.encode(), DEAD_LETTER_AAD))
                for _, text, reason in [*rejected, *((-1, text, reason) for text, reason in dropped)]
            ]
            if letters:
                uow.dead_letters.add(domain.id, letters, now, bool(domain.dead_letter_queue_url))
            for position, _, reason in rejected:
                results[position] = IngestResult(rejected=reason)
            done = [r if r is not None else IngestResult(rejected="not processed") for r in results]
            if within is not None:
                within(uow, done)
        if letters and domain.dead_letter_queue_url and self.on_dead_letters:
            self.on_dead_letters()
        return done


class _Batch:
    """The state of one batch inside its transaction: lookups done in bulk, writes buffered."""

    def __init__(
        self,
        uow: UnitOfWork,
        domain: DomainRecord,
        otype: ObjectType,
        plan: IngestPlan,
        cipher: DomainCipher,
        now: datetime,
        performed_by: str,
    ) -> None:
        self.uow = uow
        self.plan = plan
        self.domain = domain
        self.otype = otype
        self.cipher = cipher
        self.now = now
        self.performed_by = performed_by
        self.index: dict[tuple[str, bytes], set[str]] = {}
        index = self.index  # the lambda holds the dict, not the batch: no cycle for the collector to break
        self.writer = ProfileWriter(
            uow, domain, cipher, now,
            indexed=lambda e: e.profile_id in index.get((e.key_name, e.value_index), ()),
        )
        days = otype.expiration_days or domain.default_expiration_days or DEFAULT_EXPIRATION_DAYS
        self.expires_at = now + timedelta(days=days)
        # An object type with its own EncryptionKey seals its payloads under its own data key, which
        # that key wraps when it is a KMS key ARN (free text: the local keyring).
        self.payload_scope = object_type_scope(domain.id, otype.name) if otype.encryption_key else None
        self.payload_key_ref = otype.encryption_key
        self.stored_keys: set[KeyEntry] = set()  # entries known to be in the index already
        self.objects: dict[bytes, ObjectRow] = {}
        self.entities: dict[str, dict[bytes, ObjectRow]] = {}
        self.new_objects: dict[tuple[str, bytes], NewObject] = {}
        self.replaced: dict[tuple[str, bytes], tuple[int, NewObject]] = {}
        self.touched_profiles: set[str] = set()

    def load(self, items: Sequence[_Prepared]) -> None:
        """Bulk lookups for the batch: key index, replaced objects, standard objects, profiles."""
        wanted: dict[str, set[bytes]] = {}
        for item in items:
            for key, index in item.keys:
                # A UNIQUE key finds no profile to match (the object it identifies is read by
                # `by_unique`); unless it is a PROFILE key too, it has no key index entries at all.
                if key.profile or not (key.lookup_only or key.unique):
                    wanted.setdefault(key.name, set()).add(index)
        for name, indexes in wanted.items():
            for index, pid, source in self.uow.keys.lookup(self.domain.id, name, indexes):
                self.index.setdefault((name, index), set()).add(pid)
                self.stored_keys.add(KeyEntry(name, index, pid, source))
        self.objects = self.uow.objects.by_unique(self.domain.id, self.otype.name, {i.unique_index for i in items})
        for root in {r for i in items for r in i.entity_indexes}:
            indexes = {i.entity_indexes[root] for i in items if root in i.entity_indexes}
            self.entities[root] = self.uow.objects.by_unique(self.domain.id, root, indexes)
        candidates = {pid for pids in self.index.values() for pid in pids}
        candidates |= {o.profile_id for o in self.objects.values()}
        candidates |= {o.profile_id for objs in self.entities.values() for o in objs.values()}
        self.writer.load(candidates)

    def _match(self, item: _Prepared) -> str | None:
        for secondary in (False, True):
            for key, index in item.keys:
                if not key.profile or key.secondary != secondary:
                    continue
                found = self.index.get((key.name, index))
                if found and len(found) == 1:
                    return next(iter(found))
        for root, index in item.entity_indexes.items():
            entity = self.entities.get(root, {}).get(index)
            if entity is not None:
                return entity.profile_id
        existing = self.objects.get(item.unique_index)
        return existing.profile_id if existing is not None else None

    def apply(self, item: _Prepared) -> IngestResult:
        """Match, update the profile, index keys and buffer the object; raises Rejected."""
        otype = self.otype
        profile_id = self._match(item)
        created = False
        if profile_id is None or not self.writer.exists(profile_id):
            if not otype.allow_profile_creation:
                raise Rejected(
                    f"No profile matched the object's keys and object type {otype.name} has AllowProfileCreation false"
                )
            profile_id = self.writer.create(self.expires_at)
            created = True
        document = self.writer.document(profile_id)
        self._apply_targets(document, item, created)
        self.writer.changed(profile_id, self.expires_at)
        self.touched_profiles.add(profile_id)
        stored_keys, key_index, type_name = self.stored_keys, self.index, otype.name
        entries = []
        for key, index in item.keys:
            if key.found_by_object or key.lookup_only or (key.new_only and not created):
                continue
            name = key.name
            entry = KeyEntry(name, index, profile_id, type_name)
            if entry not in stored_keys:
                entries.append(entry)
                stored_keys.add(entry)
            found = key_index.get((name, index))
            if found is None:
                key_index[(name, index)] = {profile_id}
            else:
                found.add(profile_id)
        self.writer.add_keys(entries)
        object_key = self._store_object(item, profile_id)
        self._store_standard_objects(item, profile_id)
        if created:
            self.writer.history(profile_id, "CREATED", otype.name, self.performed_by, None, None)
        self.writer.history(profile_id, "INGESTED", otype.name, self.performed_by, object_key, item.text.encode())
        return IngestResult(object_key=object_key, profile_id=profile_id, created_profile=created)

    def _apply_targets(self, document: ProfileDocument, item: _Prepared, created: bool) -> None:
        source = Source(self.otype.name, self.otype.source_priority, item.timestamp.timestamp() if item.timestamp else None)
        values = item.values
        targeted = bool(self.plan.profile_targets)
        offered: list[tuple[str, str]] = []
        for name, path, accepted in self.plan.profile_targets:
            value = values.get(name)
            if value is None:
                continue
            if accepted is not None:
                upper = value.upper()
                if upper in accepted:
                    value = upper
                else:
                    path += "String"  # Gender -> GenderString, PartyType -> PartyTypeString
            offered.append((path, value))
        document.set_all_from_object(offered, source)
        if created and not targeted:
            # An inferred profile: e-mail and phone fields fill the standard profile even untargeted.
            for spec in self.otype.fields.values():
                value = item.values.get(spec.name)
                if value and spec.content_type == "EMAIL_ADDRESS" and not document.get("EmailAddress"):
                    document.set_from_object("EmailAddress", value, source)
                elif value and spec.content_type == "PHONE_NUMBER" and not document.get("PhoneNumber"):
                    document.set_from_object("PhoneNumber", value, source)

    def _new_object(self, type_name: str, object_key: str, unique_index: bytes, payload: bytes, profile_id: str,
                    timestamp: datetime | None) -> NewObject:
        return NewObject(
            profile_id=profile_id,
            object_type_name=type_name,
            object_key=object_key,
            unique_index=unique_index,
            payload=payload,
            size=len(payload),
            source_updated_at=timestamp,
            created_at=self.now,
            expires_at=self.expires_at,
        )

    def _store_object(self, item: _Prepared, profile_id: str) -> str:
        slot = (self.otype.name, item.unique_index)
        existing = self.objects.get(item.unique_index)
        pending = self.new_objects.get(slot) or (self.replaced[slot][1] if slot in self.replaced else None)
        if pending is not None:
            object_key = pending.object_key
        elif existing is not None:
            object_key = existing.object_key
            if existing.source_updated_at and item.timestamp and item.timestamp < existing.source_updated_at:
                return object_key  # an older version never replaces a newer one
        else:
            object_key = new_id()
        previous = pending or existing
        if previous is not None and not self.otype.unique_key.found_by_object:  # its entries move with it
            self._moved(previous.profile_id, profile_id, [(self.otype.unique_key.name, item.unique_index, self.otype.name)])
        payload = self.cipher.seal(item.text.encode(), object_key.encode(), self.payload_scope, self.payload_key_ref)
        obj = self._new_object(self.otype.name, object_key, item.unique_index, payload, profile_id, item.timestamp)
        if existing is not None:
            self.replaced[slot] = (existing.id, obj)
        else:
            self.new_objects[slot] = obj
        return object_key

    def _moved(self, old: str, new: str, keys: Sequence[tuple[str, bytes, str]]) -> None:
        """An object (or standard object) that changes profile takes the key values identifying it
        along: the old profile is no longer found by them."""
        if old == new:
            return
        stale = {KeyEntry(name, index, old, source) for name, index, source in keys}
        self.uow.keys.remove(self.domain.id, list(stale))
        self.writer.keys = [e for e in self.writer.keys if e not in stale]
        self.stored_keys -= stale
        for entry in stale:
            if not any(e.key_name == entry.key_name and e.value_index == entry.value_index and e.profile_id == old
                       for e in self.stored_keys):
                self.index.get((entry.key_name, entry.value_index), set()).discard(old)

    def _store_standard_objects(self, item: _Prepared, profile_id: str) -> None:
        """Create or update the asset, case or order the object's entity key identifies."""
        if not item.entity_indexes:
            return
        by_root: dict[str, dict[str, Any]] = {}
        for spec in self.otype.fields.values():
            if spec.target is None or spec.target.root == "_profile":
                continue
            value = item.values.get(spec.name)
            if value is not None:
                spec.target.set(by_root.setdefault(spec.target.root, {}), value)
        for root, index in item.entity_indexes.items():
            slot = (root, index)
            existing = self.entities.get(root, {}).get(index)
            pending = self.new_objects.get(slot) or (self.replaced[slot][1] if slot in self.replaced else None)
            current: dict[str, Any] = {}
            if pending is not None:
                current = orjson.loads(self.cipher.open(pending.payload, pending.object_key.encode()))
                object_key = pending.object_key
            elif existing is not None:
                current = orjson.loads(self.cipher.open(existing.payload, existing.object_key.encode()))
                object_key = existing.object_key
            else:
                object_key = new_id()
            id_field = STANDARD_OBJECT_IDS[root]
            previous = pending or existing
            if previous is not None:
                stale = [(ENTITY_KEYS[root], index, root)]
                if current.get(id_field):
                    stale.append((ENTITY_KEYS[root], self.cipher.index(index_form("STRING", str(current[id_field]))), root))
                self._moved(previous.profile_id, profile_id, stale)
            current.update(by_root.get(root, {}))
            text = orjson.dumps(current)
            # The entity key's value finds the owner by `_caseId` (etc.) too, as it filters ListProfileObjects.
            self.writer.add_keys([KeyEntry(ENTITY_KEYS[root], index, profile_id, root)])
            if current.get(id_field):
                entity_index = self.cipher.index(index_form("STRING", str(current[id_field])))
                self.writer.add_keys([KeyEntry(ENTITY_KEYS[root], entity_index, profile_id, root)])
            obj = self._new_object(root, object_key, index, self.cipher.seal(text, object_key.encode()), profile_id,
                                   None)
            if existing is not None:
                self.replaced[slot] = (existing.id, obj)
            else:
                self.new_objects[slot] = obj

    def flush(self) -> None:
        self.uow.objects.insert(self.domain.id, list(self.new_objects.values()))
        self.uow.objects.replace(self.domain.id, list(self.replaced.values()))
        self.writer.flush()
        limit = self.otype.max_objects
        if limit:
            evict: list[int] = []
            for profile_id in self.touched_profiles:
                evict += self.uow.objects.oldest_beyond(self.domain.id, profile_id, self.otype.name, limit)
            self.uow.objects.delete_ids(evict)

