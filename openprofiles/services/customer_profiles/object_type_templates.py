"""The predefined object-type templates (ListProfileObjectTypeTemplates / GetProfileObjectTypeTemplate).

Each template is a package data file `object_type_templates/<TemplateId>.json` holding exactly the
GetProfileObjectTypeTemplate response body. The files are read once, on first use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

_PACKAGE = __package__ or "openprofiles.services.customer_profiles"
_FOLDER = "object_type_templates"


@dataclass(frozen=True)
class TemplateKey:
    """One `ObjectTypeKey`: how some fields identify a profile or the object itself."""

    standard_identifiers: tuple[str, ...]
    field_names: tuple[str, ...]

    def as_response(self) -> dict[str, list[str]]:
        return {"StandardIdentifiers": list(self.standard_identifiers), "FieldNames": list(self.field_names)}


@dataclass(frozen=True)
class Template:
    """A predefined ProfileObjectType, such as `Salesforce-Account`; read-only."""

    template_id: str
    source_name: str
    source_object: str
    allow_profile_creation: bool
    source_last_updated_timestamp_format: str
    #: field name -> {"Source", "Target" (optional), "ContentType"}
    fields: Mapping[str, Mapping[str, str]] = field(hash=False, repr=False)
    #: key name -> the key's definitions (one, for every shipped template)
    keys: Mapping[str, tuple[TemplateKey, ...]] = field(hash=False, repr=False)

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> Template:
        """Build a template from a GetProfileObjectTypeTemplate response body."""
        return cls(
            template_id=str(body["TemplateId"]),
            source_name=str(body["SourceName"]),
            source_object=str(body["SourceObject"]),
            allow_profile_creation=bool(body["AllowProfileCreation"]),
            source_last_updated_timestamp_format=str(body["SourceLastUpdatedTimestampFormat"]),
            fields=MappingProxyType(
                {name: MappingProxyType({k: str(v) for k, v in spec.items()}) for name, spec in body["Fields"].items()}
            ),
            keys=MappingProxyType(
                {
                    name: tuple(
                        TemplateKey(
                            standard_identifiers=tuple(item.get("StandardIdentifiers", ())),
                            field_names=tuple(item.get("FieldNames", ())),
                        )
                        for item in items
                    )
                    for name, items in body["Keys"].items()
                }
            ),
        )

    def as_response(self) -> dict[str, Any]:
        """The GetProfileObjectTypeTemplate response body, as a fresh dict the caller may change."""
        return {
            "TemplateId": self.template_id,
            "SourceName": self.source_name,
            "SourceObject": self.source_object,
            "AllowProfileCreation": self.allow_profile_creation,
            "SourceLastUpdatedTimestampFormat": self.source_last_updated_timestamp_format,
            "Fields": {name: dict(spec) for name, spec in self.fields.items()},
            "Keys": {name: [key.as_response() for key in items] for name, items in self.keys.items()},
        }


@cache
def _templates() -> Mapping[str, Template]:
    """Every shipped template by id, read from the package data once."""
    found: dict[str, Template] = {}
    for entry in files(_PACKAGE).joinpath(_FOLDER).iterdir():
        if not entry.name.endswith(".json"):
            continue
        template = Template.from_response(json.loads(entry.read_text(encoding="utf-8")))
        if f"{template.template_id}.json" != entry.name:
            raise ValueError(f"template file {entry.name} declares TemplateId {template.template_id!r}")
        found[template.template_id] = template
    return MappingProxyType(dict(sorted(found.items())))


def list_templates() -> list[Template]:
    """All templates, sorted by TemplateId."""
    return list(_templates().values())


def get_template(template_id: str) -> Template | None:
    """The template with this id, or None when there is none."""
    return _templates().get(template_id)
