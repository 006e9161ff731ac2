"""Object types (data mappings): how an incoming object becomes part of a unified profile.

A definition is checked and compiled once: its Sources and Targets parsed, its keys sorted into
the roles the ingest engine needs (UNIQUE, PROFILE, SECONDARY, LOOKUP_ONLY, NEW_ONLY and the
standard-object identifiers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from openprofiles.errors import Invalid, LimitExceeded
from openprofiles.services.customer_profiles.field_expressions import (
    SourceExpression,
    Target,
    compile_source,
    compile_target,
)
from openprofiles.services.customer_profiles.object_type_templates import get_template, list_templates
from openprofiles.services.customer_profiles.timestamps import to_strptime

#: The field whose value is the object's source timestamp (parsed with SourceLastUpdatedTimestampFormat).
TIMESTAMP_FIELD = "sourceLastUpdatedTimestamp"

#: Identifiers that attach an object to a standard object, and the standard object they name.
ENTITY_IDENTIFIERS = {"ASSET": "_asset", "CASE": "_case", "ORDER": "_order"}
STANDARD_OBJECTS = ("_asset", "_case", "_order")
#: The built-in search key of each standard object.
ENTITY_KEYS = {"_asset": "_assetId", "_case": "_caseId", "_order": "_orderId"}
#: The id field of each standard object.
STANDARD_OBJECT_IDS = {"_asset": "AssetId", "_case": "CaseId", "_order": "OrderId"}
#: ObjectFilter key names of the standard objects -> the field they compare.
STANDARD_OBJECT_FILTERS = {
    "_asset": {"_assetId": "AssetId", "_assetName": "AssetName", "_serialNumber": "SerialNumber"},
    "_case": {"_caseId": "CaseId"},
    "_order": {"_orderId": "OrderId"},
}

MAX_KEYS = 10
MAX_OBJECT_TYPES = 100


@dataclass(frozen=True)
class FieldSpec:
    name: str
    source: SourceExpression
    target: Target | None
    content_type: str


@dataclass(frozen=True)
class KeySpec:
    name: str
    identifiers: frozenset[str]
    field_names: tuple[str, ...]

    @cached_property
    def unique(self) -> bool:
        return "UNIQUE" in self.identifiers

    @cached_property
    def found_by_object(self) -> bool:
        """A UNIQUE key with no other role: its values find profiles through the objects that hold
        them (`profile_objects.unique_index`), with no key index entries of their own."""
        return self.identifiers == {"UNIQUE"}

    @cached_property
    def profile(self) -> bool:
        return "PROFILE" in self.identifiers

    @cached_property
    def secondary(self) -> bool:
        return "SECONDARY" in self.identifiers

    @cached_property
    def lookup_only(self) -> bool:
        return "LOOKUP_ONLY" in self.identifiers

    @cached_property
    def new_only(self) -> bool:
        return "NEW_ONLY" in self.identifiers

    @cached_property
    def entity(self) -> str | None:
        """The standard object this key identifies (`_asset`, `_case`, `_order`), if any."""
        return next((ENTITY_IDENTIFIERS[i] for i in self.identifiers if i in ENTITY_IDENTIFIERS), None)


@dataclass(frozen=True)
class ObjectType:
    """A compiled object type; `definition` is what the caller sent (or the template's)."""

    name: str
    definition: dict[str, Any]
    fields: dict[str, FieldSpec]
    keys: tuple[KeySpec, ...]
    created_at: datetime | None = None
    last_updated_at: datetime | None = None
    implicit: bool = False
    content_types: dict[str, str] = field(default_factory=dict)

    @property
    def unique_key(self) -> KeySpec:
        return next(k for k in self.keys if k.unique)

    @property
    def allow_profile_creation(self) -> bool:
        return bool(self.definition.get("AllowProfileCreation", False))

    @property
    def expiration_days(self) -> int | None:
        return self.definition.get("ExpirationDays")

    @property
    def encryption_key(self) -> str | None:
        return self.definition.get("EncryptionKey") or None

    @property
    def source_priority(self) -> int | None:
        return self.definition.get("SourcePriority")

    @property
    def max_objects(self) -> int | None:
        return self.definition.get("MaxProfileObjectCount")

    @property
    def timestamp_format(self) -> str | None:
        return self.definition.get("SourceLastUpdatedTimestampFormat")

    def key_content_type(self, key: KeySpec) -> str:
        """A key compares like its first field (a phone key by E.164 number, and so on)."""
        return self.fields[key.field_names[0]].content_type if key.field_names else "STRING"


def _fields(raw: Mapping[str, Any]) -> dict[str, FieldSpec]:
    out = {}
    for name, spec in raw.items():
        target = spec.get("Target")
        out[name] = FieldSpec(
            name=name,
            source=compile_source(spec["Source"]),
            target=compile_target(target) if target else None,
            content_type=spec.get("ContentType") or "STRING",
        )
    return out


def _keys(raw: Mapping[str, Any], fields: Mapping[str, FieldSpec], max_keys: int) -> tuple[KeySpec, ...]:
    if not raw:
        raise Invalid("Keys: an object type needs at least one key")
    if len(raw) > max_keys:
        raise Invalid(f"Keys: at most {max_keys} keys per object type, got {len(raw)}")
    keys = []
    for name, entries in raw.items():
        for entry in entries:
            identifiers = frozenset(entry.get("StandardIdentifiers") or ())
            names = tuple(entry.get("FieldNames") or ())
            if not names:
                raise Invalid(f"Keys.{name}: FieldNames must name at least one field")
            for field_name in names:
                if field_name not in fields:
                    raise Invalid(f"Keys.{name}: FieldNames names {field_name!r}, which is not in Fields")
            if "UNIQUE" in identifiers and "LOOKUP_ONLY" in identifiers:
                raise Invalid(f"Keys.{name}: UNIQUE cannot be combined with LOOKUP_ONLY")
            if "SECONDARY" in identifiers and "PROFILE" not in identifiers:
                raise Invalid(f"Keys.{name}: SECONDARY is only meaningful together with PROFILE")
            keys.append(KeySpec(name, identifiers, names))
    uniques = [k.name for k in keys if k.unique]
    if len(uniques) != 1:
        raise Invalid(f"Keys: exactly one key must have the UNIQUE identifier, found {len(uniques)} ({', '.join(uniques)})")
    return tuple(keys)


def compile_definition(name: str, definition: Mapping[str, Any], *, max_keys: int = MAX_KEYS, implicit: bool = False,
                       created_at: datetime | None = None, last_updated_at: datetime | None = None) -> ObjectType:
    """Check and compile a definition; raises Invalid naming the member at fault."""
    fmt = definition.get("SourceLastUpdatedTimestampFormat")
    if fmt:
        to_strptime(fmt)
    fields = _fields(definition.get("Fields") or {})
    keys = _keys(definition.get("Keys") or {}, fields, max_keys)
    if TIMESTAMP_FIELD in fields and not fmt:
        raise Invalid(f"Fields.{TIMESTAMP_FIELD} needs SourceLastUpdatedTimestampFormat")
    content_types = {k.name: fields[k.field_names[0]].content_type for k in keys}
    return ObjectType(name, dict(definition), fields, keys, created_at, last_updated_at, implicit, content_types)


def resolve_definition(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The definition PutProfileObjectType stores: the caller's members, completed from the
    template when TemplateId is given (Fields and Keys then come only from the template)."""
    if name.startswith("_"):
        raise Invalid(f"ObjectTypeName {name!r}: names starting with '_' are reserved for standard object types")
    definition = {k: v for k, v in params.items() if k not in ("DomainName", "ObjectTypeName", "Tags")}
    template_id = definition.get("TemplateId")
    if template_id:
        template = get_template(template_id)
        if template is None:
            raise Invalid(f"TemplateId {template_id!r} is not a known template")
        if "Fields" in definition or "Keys" in definition:
            raise Invalid("Fields and Keys cannot be given together with TemplateId: they come from the template")
        wire = template.as_response()
        definition["Fields"] = wire["Fields"]
        definition["Keys"] = wire["Keys"]
        definition.setdefault("AllowProfileCreation", wire.get("AllowProfileCreation", False))
        if wire.get("SourceLastUpdatedTimestampFormat"):
            definition.setdefault("SourceLastUpdatedTimestampFormat", wire["SourceLastUpdatedTimestampFormat"])
    elif not definition.get("Fields") or not definition.get("Keys"):
        raise Invalid("Fields and Keys are required unless TemplateId names a template")
    definition.setdefault("AllowProfileCreation", False)
    return definition


def template_object_type(name: str) -> ObjectType | None:
    """An implicit object type: a name equal to a template id works without being defined."""
    template = get_template(name)
    if template is None:
        return None
    wire = template.as_response()
    definition = {
        "Description": f"Implicit object type from template {name}",
        "TemplateId": name,
        "AllowProfileCreation": wire.get("AllowProfileCreation", False),
        "Fields": wire["Fields"],
        "Keys": wire["Keys"],
    }
    if wire.get("SourceLastUpdatedTimestampFormat"):
        definition["SourceLastUpdatedTimestampFormat"] = wire["SourceLastUpdatedTimestampFormat"]
    return compile_definition(name, definition, max_keys=max(MAX_KEYS, len(wire["Keys"])), implicit=True)


@cache
def template_unique_keys() -> dict[str, str]:
    """Template id -> the name of its UNIQUE key when that key is `found_by_object` (what an
    implicit object type's objects are found by)."""
    found: dict[str, str] = {}
    for template in list_templates():
        otype = template_object_type(template.template_id)
        if otype is not None and otype.unique_key.found_by_object:
            found[template.template_id] = otype.unique_key.name
    return found


def check_quota(count: int, limit: int = MAX_OBJECT_TYPES) -> None:
    if count >= limit:
        raise LimitExceeded(f"A domain can have at most {limit} object types")
