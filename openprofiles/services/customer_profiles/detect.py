"""DetectProfileObjectType: propose Fields and Keys for sample objects.

Every leaf of the samples becomes a field (`_source.a.b`); its content type is guessed from the
values (e-mail, phone, number, name) and well-known names are targeted at the standard profile.
An id-like field becomes the UNIQUE key, e-mail and phone fields PROFILE keys; a field whose
values look like timestamps named like a modification time proposes a timestamp format.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from openprofiles import json_depth
from openprofiles.errors import Invalid
from openprofiles.services.customer_profiles.object_types import TIMESTAMP_FIELD

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_TARGETS = {
    "firstname": ("_profile.FirstName", "NAME"), "first_name": ("_profile.FirstName", "NAME"),
    "lastname": ("_profile.LastName", "NAME"), "last_name": ("_profile.LastName", "NAME"),
    "middlename": ("_profile.MiddleName", "NAME"), "email": ("_profile.EmailAddress", "EMAIL_ADDRESS"),
    "emailaddress": ("_profile.EmailAddress", "EMAIL_ADDRESS"), "phone": ("_profile.PhoneNumber", "PHONE_NUMBER"),
    "phonenumber": ("_profile.PhoneNumber", "PHONE_NUMBER"), "mobile": ("_profile.MobilePhoneNumber", "PHONE_NUMBER"),
    "mobilephone": ("_profile.MobilePhoneNumber", "PHONE_NUMBER"), "birthdate": ("_profile.BirthDate", "STRING"),
    "city": ("_profile.Address.City", "STRING"), "country": ("_profile.Address.Country", "STRING"),
    "postalcode": ("_profile.Address.PostalCode", "STRING"), "zip": ("_profile.Address.PostalCode", "STRING"),
    "state": ("_profile.Address.State", "STRING"), "accountnumber": ("_profile.AccountNumber", "STRING"),
    "company": ("_profile.BusinessName", "STRING"), "businessname": ("_profile.BusinessName", "STRING"),
}
_ID_NAMES = ("id", "uuid", "userid", "user_id", "customerid", "customer_id", "externalid", "external_id")
_MODIFIED = ("updatedat", "updated_at", "lastmodifieddate", "modified", "lastupdated", "systemmodstamp")


def _leaves(value: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, inner in value.items():
        if isinstance(inner, Mapping):
            yield from _leaves(inner, (*prefix, key))
        elif not isinstance(inner, list) and inner is not None:
            yield (*prefix, key), inner


def _field_name(path: tuple[str, ...]) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", "_".join(path))[:64]


def _content_type(values: Sequence[str]) -> str:
    if all(_EMAIL.match(v) for v in values):
        return "EMAIL_ADDRESS"
    if all(_NUMBER.match(v) for v in values):
        return "NUMBER"
    if all(_PHONE.match(v) and sum(c.isdigit() for c in v) >= 7 for v in values):
        return "PHONE_NUMBER"
    return "STRING"


def detect(objects: Sequence[str]) -> dict[str, Any]:
    samples = []
    for i, text in enumerate(objects):
        try:
            parsed = json_depth.loads(text)
        except json_depth.TooDeep as error:
            raise Invalid(f"Objects.{i + 1} is {error}; objects and arrays may nest at most "
                          f"{json_depth.MAX_DEPTH} levels deep") from None
        except orjson.JSONDecodeError:
            raise Invalid(f"Objects.{i + 1} is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise Invalid(f"Objects.{i + 1} must be a JSON object")
        samples.append(parsed)
    seen: dict[tuple[str, ...], list[str]] = {}
    for sample in samples:
        for path, value in _leaves(sample):
            seen.setdefault(path, []).append(value if isinstance(value, str) else orjson.dumps(value).decode())
    fields: dict[str, Any] = {}
    keys: dict[str, Any] = {}
    timestamp_format = None
    for path, values in seen.items():
        name = _field_name(path)
        lowered = path[-1].lower()
        guessed = _content_type(values)
        target, content_type = _TARGETS.get(lowered, (None, guessed))
        if content_type == "STRING" and guessed != "STRING" and target is None:
            content_type = guessed
        field: dict[str, Any] = {"Source": "_source." + ".".join(path), "ContentType": content_type}
        if target:
            field["Target"] = target
        fields[name] = field
        if lowered in _MODIFIED and all(_ISO.match(v) for v in values) and timestamp_format is None:
            timestamp_format = "yyyy-MM-dd'T'HH:mm:ss" + (".SSS" if "." in values[0] else "") + "XXX"
            fields[TIMESTAMP_FIELD] = {"Source": field["Source"], "ContentType": "STRING"}
        has_unique = any("UNIQUE" in e["StandardIdentifiers"] for entries in keys.values() for e in entries)
        if lowered in _ID_NAMES and not has_unique and len(set(values)) == len(values):
            keys[f"_{name}"] = [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": [name]}]
        elif content_type == "EMAIL_ADDRESS":
            keys.setdefault("_email", [{"StandardIdentifiers": ["PROFILE"], "FieldNames": [name]}])
        elif content_type == "PHONE_NUMBER":
            keys.setdefault("_phone", [{"StandardIdentifiers": ["PROFILE"], "FieldNames": [name]}])
    if not any("UNIQUE" in e["StandardIdentifiers"] for entries in keys.values() for e in entries) and keys:
        first = next(iter(keys))
        keys[first][0]["StandardIdentifiers"] = ["UNIQUE", *keys[first][0]["StandardIdentifiers"]]
    result: dict[str, Any] = {"Fields": fields, "Keys": keys}
    if timestamp_format:
        result["SourceLastUpdatedTimestampFormat"] = timestamp_format
    return result
