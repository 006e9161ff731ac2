"""customer_profiles/object_types.py: definitions checked and compiled, keys sorted into roles, templates
completing a definition, implicit object types and the quota."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openprofiles.errors import Invalid, LimitExceeded
from openprofiles.services.customer_profiles import object_types
from openprofiles.services.customer_profiles.object_type_templates import Template, get_template
from openprofiles.services.customer_profiles.object_types import (
    MAX_KEYS,
    TIMESTAMP_FIELD,
    check_quota,
    compile_definition,
    resolve_definition,
    template_object_type,
    template_unique_keys,
)

FIELDS: dict[str, Any] = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "phone": {"Source": "_source.phone", "ContentType": "PHONE_NUMBER"},
    "order": {"Source": "_source.order_id", "Target": "_order.OrderId"},
}


def _definition(**keys: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Description": "d", "Fields": FIELDS,
            "Keys": keys or {"crm": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}}


def _key(*identifiers: str, fields: tuple[str, ...] = ("id",)) -> list[dict[str, Any]]:
    return [{"StandardIdentifiers": list(identifiers), "FieldNames": list(fields)}]


def test_a_definition_compiles_with_its_fields_and_key_roles() -> None:
    otype = compile_definition("crm", _definition(
        crm=_key("UNIQUE", "PROFILE"),
        mail=_key("PROFILE", "SECONDARY", fields=("email",)),
        phone=_key("LOOKUP_ONLY", "NEW_ONLY", fields=("phone",)),
        order=_key("ORDER", fields=("order",)),
    ))
    assert set(otype.fields) == set(FIELDS)
    assert str(otype.fields["email"].target) == "_profile.EmailAddress"
    assert otype.fields["phone"].target is None and otype.fields["id"].content_type == "STRING"
    keys = {k.name: k for k in otype.keys}
    assert otype.unique_key is keys["crm"] and keys["crm"].profile and not keys["crm"].found_by_object
    assert keys["mail"].secondary and keys["mail"].profile and not keys["mail"].unique
    assert keys["phone"].lookup_only and keys["phone"].new_only and not keys["phone"].profile
    assert keys["order"].entity == "_order" and keys["crm"].entity is None
    assert otype.content_types == {"crm": "STRING", "mail": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER",
                                   "order": "STRING"}
    assert otype.key_content_type(keys["phone"]) == "PHONE_NUMBER"


def test_a_unique_key_with_no_other_role_finds_profiles_through_its_objects() -> None:
    otype = compile_definition("crm", _definition(crm=_key("UNIQUE"), mail=_key("PROFILE", fields=("email",))))
    assert otype.unique_key.found_by_object


def test_definition_members_are_read_through_properties() -> None:
    otype = compile_definition("crm", {**_definition(), "AllowProfileCreation": True, "ExpirationDays": 7,
                                       "EncryptionKey": "", "SourcePriority": 2, "MaxProfileObjectCount": 5})
    assert (otype.allow_profile_creation, otype.expiration_days, otype.source_priority, otype.max_objects) == (
        True, 7, 2, 5)
    assert otype.encryption_key is None  # "" is no key
    assert otype.timestamp_format is None and not otype.implicit
    bare = compile_definition("crm", _definition())
    assert not bare.allow_profile_creation and bare.expiration_days is None and bare.max_objects is None


@pytest.mark.parametrize(("keys", "message"), [
    ({}, "at least one key"),
    ({f"k{i}": _key("PROFILE") for i in range(MAX_KEYS + 1)}, f"at most {MAX_KEYS} keys"),
    ({"crm": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": []}]}, "Keys.crm: FieldNames must name"),
    ({"crm": _key("UNIQUE", fields=("nope",))}, "Keys.crm: FieldNames names 'nope'"),
    ({"crm": _key("UNIQUE", "LOOKUP_ONLY")}, "UNIQUE cannot be combined with LOOKUP_ONLY"),
    ({"crm": _key("UNIQUE"), "mail": _key("SECONDARY", fields=("email",))}, "SECONDARY is only meaningful"),
    ({"crm": _key("PROFILE")}, r"exactly one key must have the UNIQUE identifier, found 0 \(\)"),
    ({"a": _key("UNIQUE"), "b": _key("UNIQUE", fields=("email",))}, r"found 2 \(a, b\)"),
])
def test_keys_that_break_a_rule(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        compile_definition("crm", {"Fields": FIELDS, "Keys": keys})


def test_more_keys_when_the_caller_allows_them() -> None:
    keys = {"crm": _key("UNIQUE"), **{f"k{i}": _key("PROFILE") for i in range(MAX_KEYS)}}
    assert len(compile_definition("crm", {"Fields": FIELDS, "Keys": keys}, max_keys=MAX_KEYS + 1).keys) == 11


def test_the_timestamp_field_needs_a_format_and_the_format_must_be_supported() -> None:
    fields = {**FIELDS, TIMESTAMP_FIELD: {"Source": "_source.updated"}}
    with pytest.raises(Invalid, match=f"Fields.{TIMESTAMP_FIELD} needs SourceLastUpdatedTimestampFormat"):
        compile_definition("crm", {**_definition(), "Fields": fields})
    ok = compile_definition("crm", {**_definition(), "Fields": fields, "SourceLastUpdatedTimestampFormat": "yyyy"})
    assert ok.timestamp_format == "yyyy"
    with pytest.raises(Invalid, match="unsupported pattern letters"):
        compile_definition("crm", {**_definition(), "SourceLastUpdatedTimestampFormat": "GGGG"})


def test_a_bad_source_or_target_is_invalid() -> None:
    with pytest.raises(Invalid, match="Source"):
        compile_definition("crm", {**_definition(), "Fields": {**FIELDS, "x": {"Source": "_source.a["}}})
    with pytest.raises(Invalid, match="Target"):
        compile_definition("crm", {**_definition(), "Fields": {**FIELDS, "x": {"Source": "_source.a",
                                                                              "Target": "_profile.Nope"}}})


def test_resolve_keeps_the_callers_members_only() -> None:
    params = {"DomainName": "d", "ObjectTypeName": "crm", "Tags": {"a": "b"}, **_definition()}
    definition = resolve_definition("crm", params)
    assert definition == {**_definition(), "AllowProfileCreation": False}
    assert "AllowProfileCreation" not in params  # the caller's dict is left as it was


def test_resolve_completes_a_definition_from_its_template() -> None:
    template = get_template("Salesforce-Account")
    assert template is not None
    definition = resolve_definition("accounts", {"TemplateId": "Salesforce-Account", "Description": "SF",
                                                 "AllowProfileCreation": not template.allow_profile_creation})
    wire = template.as_response()
    assert definition["Fields"] == wire["Fields"] and definition["Keys"] == wire["Keys"]
    assert definition["AllowProfileCreation"] is not template.allow_profile_creation  # the caller's wins
    assert definition["SourceLastUpdatedTimestampFormat"] == template.source_last_updated_timestamp_format
    compile_definition("accounts", definition, max_keys=len(wire["Keys"]))


@pytest.mark.parametrize(("name", "params", "message"), [
    ("_profile", _definition(), "reserved for standard object types"),
    ("crm", {"TemplateId": "No-Such"}, "is not a known template"),
    ("crm", {"TemplateId": "Salesforce-Account", "Fields": FIELDS}, "cannot be given together with TemplateId"),
    ("crm", {"Description": "d", "Fields": FIELDS}, "Fields and Keys are required"),
    ("crm", {"Description": "d", "Keys": {"k": _key("UNIQUE")}}, "Fields and Keys are required"),
])
def test_resolve_refuses(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        resolve_definition(name, params)


def test_a_template_id_is_an_implicit_object_type() -> None:
    otype = template_object_type("Salesforce-Contact")
    template = get_template("Salesforce-Contact")
    assert otype is not None and template is not None
    assert otype.implicit and otype.name == "Salesforce-Contact"
    assert otype.definition["TemplateId"] == "Salesforce-Contact"
    assert {k.name for k in otype.keys} == set(template.keys)
    assert otype.timestamp_format == template.source_last_updated_timestamp_format
    assert template_object_type("Not-A-Template") is None


@pytest.fixture
def one_template(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped templates replaced by two: one whose UNIQUE key has no other role, one whose has."""
    def made(template_id: str, identifiers: list[str]) -> Template:
        return Template.from_response({
            "TemplateId": template_id, "SourceName": "S", "SourceObject": "o", "AllowProfileCreation": True,
            "SourceLastUpdatedTimestampFormat": "yyyy", "Fields": {"id": {"Source": "_source.id"}},
            "Keys": {f"_{template_id}Id": [{"StandardIdentifiers": identifiers, "FieldNames": ["id"]}]},
        })

    templates = {"A-by-object": made("A-by-object", ["UNIQUE"]), "B-profile": made("B-profile", ["UNIQUE", "PROFILE"])}
    monkeypatch.setattr(object_types, "list_templates", lambda: list(templates.values()))
    monkeypatch.setattr(object_types, "get_template", templates.get)
    template_unique_keys.cache_clear()
    yield
    template_unique_keys.cache_clear()


@pytest.mark.usefixtures("one_template")
def test_template_unique_keys_names_only_keys_found_by_their_objects() -> None:
    assert template_unique_keys() == {"A-by-object": "_A-by-objectId"}


def test_quota() -> None:
    check_quota(99)
    with pytest.raises(LimitExceeded, match="at most 100 object types"):
        check_quota(100)
    with pytest.raises(LimitExceeded, match="at most 3"):
        check_quota(3, limit=3)
