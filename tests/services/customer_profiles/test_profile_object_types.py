"""Object types, templates and type detection through boto3 against the live server, on SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import LiveServer

TEMPLATE_IDS = (
    "Salesforce-Account", "Salesforce-Contact", "Salesforce-Case", "Zendesk-users", "Zendesk-tickets",
    "ServiceNow-sys_user", "ServiceNow-incident", "Marketo-leads", "Segment-identify", "Shopify-customers",
    "Shopify-orders",
)

FIELDS = {
    "id": {"Source": "_source.id", "ContentType": "STRING"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "phone": {"Source": "_source.phone", "Target": "_profile.PhoneNumber", "ContentType": "PHONE_NUMBER"},
    "first": {"Source": "_source.first", "Target": "_profile.FirstName", "ContentType": "NAME"},
}
KEYS = {
    "contactId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
}


def _domain(cp: Any, name: str) -> str:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    return name


def _bad_request(cp: Any, **params: Any) -> str:
    with pytest.raises(cp.exceptions.BadRequestException) as error:
        cp.put_profile_object_type(**params)
    return str(error.value.response["Error"]["Message"])


def _list_all(call: Any, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    token = None
    while True:
        page = call(**params, **({"NextToken": token} if token else {}))
        pages += 1
        items += page["Items"]
        token = page.get("NextToken")
        if not token:
            return items, pages


def test_put_get_echo_every_member(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    params: dict[str, Any] = {
        "DomainName": domain,
        "ObjectTypeName": "CrmContact",
        "Description": "Contacts from the CRM",
        "ExpirationDays": 90,
        "EncryptionKey": "contacts-local-key",  # free text: the local keyring wraps its data key
        "SourceLastUpdatedTimestampFormat": "yyyy-MM-dd'T'HH:mm:ssXXX",
        "SourcePriority": 3,
        "MaxProfileObjectCount": 5,
        "Fields": FIELDS,
        "Keys": KEYS,
        "Tags": {"team": "crm"},
    }
    put = cp.put_profile_object_type(**params)
    for member in ("ObjectTypeName", "Description", "ExpirationDays", "EncryptionKey",
                   "SourceLastUpdatedTimestampFormat", "SourcePriority", "MaxProfileObjectCount", "Fields", "Keys",
                   "Tags"):
        assert put[member] == params[member], member
    assert put["AllowProfileCreation"] is False  # the default
    assert put["MaxAvailableProfileObjectCount"] == 5
    assert "TemplateId" not in put
    assert isinstance(put["CreatedAt"], datetime)
    assert isinstance(put["LastUpdatedAt"], datetime)

    got = cp.get_profile_object_type(DomainName=domain, ObjectTypeName="CrmContact")
    for member in (*params.keys() - {"DomainName"}, "AllowProfileCreation", "CreatedAt", "LastUpdatedAt"):
        assert got[member] == put[member], member

    # Replacing keeps the creation time and moves LastUpdatedAt; members not given are gone.
    again = cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="CrmContact", Description="v2", AllowProfileCreation=True,
        Fields=FIELDS, Keys=KEYS,
    )
    assert again["Description"] == "v2"
    assert again["AllowProfileCreation"] is True
    assert again["CreatedAt"] == put["CreatedAt"]
    assert again["LastUpdatedAt"] >= put["LastUpdatedAt"]
    assert "ExpirationDays" not in again and "SourcePriority" not in again
    assert again["Tags"] == {"team": "crm"}  # tags are kept unless changed


def test_list_paginates_to_the_end(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    names = [f"Type{i:02d}" for i in range(7)]
    for i, name in enumerate(names):
        cp.put_profile_object_type(
            DomainName=domain, ObjectTypeName=name, Description=f"type {i}", Fields=FIELDS, Keys=KEYS,
            SourcePriority=i + 1, MaxProfileObjectCount=10, Tags={"n": name},
        )
    items, pages = _list_all(cp.list_profile_object_types, DomainName=domain, MaxResults=3)
    assert [item["ObjectTypeName"] for item in items] == names
    assert pages == 3
    for i, item in enumerate(items):
        assert item["Description"] == f"type {i}"
        assert item["SourcePriority"] == i + 1
        assert item["MaxProfileObjectCount"] == 10
        assert item["Tags"] == {"n": item["ObjectTypeName"]}
        assert isinstance(item["CreatedAt"], datetime) and isinstance(item["LastUpdatedAt"], datetime)
    assert [i["ObjectTypeName"] for i in cp.list_profile_object_types(DomainName=domain)["Items"]] == names


def test_delete_object_type(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    cp.put_profile_object_type(DomainName=domain, ObjectTypeName="Gone", Description="d", Fields=FIELDS, Keys=KEYS)
    assert "Gone" in cp.delete_profile_object_type(DomainName=domain, ObjectTypeName="Gone")["Message"]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_profile_object_type(DomainName=domain, ObjectTypeName="Gone")
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_profile_object_type(DomainName=domain, ObjectTypeName="Gone")
    assert cp.list_profile_object_types(DomainName=domain)["Items"] == []
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_profile_object_type(DomainName=domain, ObjectTypeName="NeverDefined")


def test_validation_errors_name_the_problem(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    base = {"DomainName": domain, "ObjectTypeName": "Checked", "Description": "d"}
    unique_key = {"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}
    cases: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        # No UNIQUE key.
        ({"Fields": FIELDS, "Keys": {"_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]}},
         ("UNIQUE",)),
        # Two UNIQUE keys.
        ({"Fields": FIELDS, "Keys": {"a": [unique_key], "b": [{"StandardIdentifiers": ["UNIQUE"],
                                                                "FieldNames": ["email"]}]}},
         ("UNIQUE", "a", "b")),
        # A key naming a field that is not defined.
        ({"Fields": FIELDS, "Keys": {"a": [unique_key], "b": [{"StandardIdentifiers": ["PROFILE"],
                                                                "FieldNames": ["nosuchfield"]}]}},
         ("nosuchfield",)),
        # More than 10 keys.
        ({"Fields": FIELDS, "Keys": {"a": [unique_key]} | {f"k{i}": [{"StandardIdentifiers": ["PROFILE"],
                                                                       "FieldNames": ["email"]}]
                                                          for i in range(10)}},
         ("10",)),
        # A Target naming no standard field.
        ({"Fields": FIELDS | {"x": {"Source": "_source.x", "Target": "_profile.Nope"}}, "Keys": {"a": [unique_key]}},
         ("_profile.Nope",)),
        # A Target under an unknown standard object.
        ({"Fields": FIELDS | {"x": {"Source": "_source.x", "Target": "_nothing.City"}}, "Keys": {"a": [unique_key]}},
         ("_nothing.City",)),
        # Sources: not rooted at _source, and a broken template.
        ({"Fields": FIELDS | {"x": {"Source": "source.x"}}, "Keys": {"a": [unique_key]}}, ("source.x",)),
        ({"Fields": FIELDS | {"x": {"Source": "{{_source.x"}}, "Keys": {"a": [unique_key]}}, ("{{_source.x",)),
        # UNIQUE with LOOKUP_ONLY; SECONDARY without PROFILE.
        ({"Fields": FIELDS, "Keys": {"a": [{"StandardIdentifiers": ["UNIQUE", "LOOKUP_ONLY"], "FieldNames": ["id"]}]}},
         ("LOOKUP_ONLY",)),
        ({"Fields": FIELDS, "Keys": {"a": [unique_key], "b": [{"StandardIdentifiers": ["SECONDARY"],
                                                                "FieldNames": ["email"]}]}},
         ("SECONDARY",)),
        # Bad content type.
        ({"Fields": FIELDS | {"x": {"Source": "_source.x", "ContentType": "DATE"}}, "Keys": {"a": [unique_key]}},
         ("DATE",)),
        # TemplateId together with Fields / Keys; an unknown TemplateId.
        ({"TemplateId": "Salesforce-Account", "Fields": FIELDS}, ("TemplateId",)),
        ({"TemplateId": "Salesforce-Account", "Keys": KEYS}, ("TemplateId",)),
        ({"TemplateId": "No-Such-Template"}, ("No-Such-Template",)),
        # Neither a template nor Fields/Keys.
        ({}, ("Fields",)),
        # A timestamp field needs a timestamp format, and the format must be one we read.
        ({"Fields": FIELDS | {"sourceLastUpdatedTimestamp": {"Source": "_source.ts"}}, "Keys": {"a": [unique_key]}},
         ("SourceLastUpdatedTimestampFormat",)),
        ({"Fields": FIELDS, "Keys": {"a": [unique_key]}, "SourceLastUpdatedTimestampFormat": "yyyy-QQ"},
         ("SourceLastUpdatedTimestampFormat",)),
    ]
    for extra, words in cases:
        message = _bad_request(cp, **base, **extra)
        for word in words:
            assert word in message, (extra, message)
    # Names starting with '_' are reserved for the standard object types.
    message = _bad_request(cp, **{**base, "ObjectTypeName": "_mine"}, Fields=FIELDS, Keys=KEYS)
    assert "_mine" in message
    # Nothing was stored by the failed calls.
    assert cp.list_profile_object_types(DomainName=domain)["Items"] == []


def test_template_fills_fields_and_keys(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    template = cp.get_profile_object_type_template(TemplateId="Salesforce-Account")
    put = cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="Accounts", Description="SF accounts", TemplateId="Salesforce-Account",
    )
    assert put["TemplateId"] == "Salesforce-Account"
    assert put["Fields"] == template["Fields"]
    assert put["Keys"] == template["Keys"]
    assert put["AllowProfileCreation"] == template["AllowProfileCreation"]
    assert put["SourceLastUpdatedTimestampFormat"] == template["SourceLastUpdatedTimestampFormat"]
    got = cp.get_profile_object_type(DomainName=domain, ObjectTypeName="Accounts")
    assert got["Fields"] == template["Fields"] and got["Keys"] == template["Keys"]
    # AllowProfileCreation given by the caller wins over the template's.
    own = cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="Accounts2", Description="d", TemplateId="Salesforce-Account",
        AllowProfileCreation=False,
    )
    assert own["AllowProfileCreation"] is False


def test_templates_list_and_get(cp: Any) -> None:
    items, pages = _list_all(cp.list_profile_object_type_templates, MaxResults=4)
    ids = [item["TemplateId"] for item in items]
    assert len(ids) == len(set(ids)) and pages >= 3
    assert ids == sorted(ids)
    assert set(TEMPLATE_IDS) <= set(ids)
    for item in items:
        assert item["SourceName"] and item["SourceObject"]
    for template_id in TEMPLATE_IDS:
        template = cp.get_profile_object_type_template(TemplateId=template_id)
        assert template["TemplateId"] == template_id
        assert template["SourceName"] == template_id.split("-")[0]
        assert template["Fields"] and template["Keys"]
        uniques = [k for k, entries in template["Keys"].items() for e in entries if "UNIQUE" in e["StandardIdentifiers"]]
        assert len(uniques) == 1, template_id
        for entries in template["Keys"].values():
            for entry in entries:
                assert set(entry["FieldNames"]) <= set(template["Fields"]), template_id
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_profile_object_type_template(TemplateId="Nope-nothing")


def test_implicit_object_type_from_template(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    user = {"id": "90001", "external_id": "ext-1", "name": "Zed User", "email": "Zed@Example.com",
            "phone": "+1 206 555 0123"}
    key = cp.put_profile_object(DomainName=domain, ObjectTypeName="Zendesk-users", Object=json.dumps(user))
    assert key["ProfileObjectUniqueKey"]
    found = cp.search_profiles(DomainName=domain, KeyName="_zendeskUserId", Values=["90001"])["Items"]
    assert len(found) == 1
    profile = found[0]
    assert profile["EmailAddress"] == "zed@example.com"
    assert profile["PhoneNumber"] == "+12065550123"
    assert profile["Attributes"]["ZendeskUserId"] == "90001"
    assert profile["Attributes"]["ZendeskExternalId"] == "ext-1"
    objects = cp.list_profile_objects(DomainName=domain, ProfileId=profile["ProfileId"],
                                      ObjectTypeName="Zendesk-users")["Items"]
    assert [json.loads(o["Object"]) for o in objects] == [user]
    # Not a defined type of the domain.
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_profile_object_type(DomainName=domain, ObjectTypeName="Zendesk-users")
    # An explicit definition replaces the implicit one.
    cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="Zendesk-users", Description="mine", AllowProfileCreation=True,
        Fields={"uid": {"Source": "_source.id"}, "nm": {"Source": "_source.name", "Target": "_profile.FirstName"}},
        Keys={"_zendeskUserId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["uid"]}]},
    )
    cp.put_profile_object(DomainName=domain, ObjectTypeName="Zendesk-users",
                          Object=json.dumps({"id": "90002", "name": "Mine"}))
    (mine,) = cp.search_profiles(DomainName=domain, KeyName="_zendeskUserId", Values=["90002"])["Items"]
    assert mine["FirstName"] == "Mine"
    assert "Attributes" not in mine
    # An unknown type that is not a template either.
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.put_profile_object(DomainName=domain, ObjectTypeName="NotATemplate", Object="{}")


def test_detect_proposes_keys_and_round_trips(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    samples = [
        {"id": "c-1", "email": "ann@example.com", "phone": "+1 206 555 0100", "firstName": "Ann",
         "address": {"city": "Seattle"}, "updated_at": "2024-05-01T10:00:00Z"},
        {"id": "c-2", "email": "bob@example.com", "phone": "(206) 555-0101", "firstName": "Bob",
         "address": {"city": "Tacoma"}, "updated_at": "2024-05-02T10:00:00Z"},
    ]
    detected = cp.detect_profile_object_type(DomainName=domain, Objects=[json.dumps(s) for s in samples])
    (proposal,) = detected["DetectedProfileObjectTypes"]
    fields, keys = proposal["Fields"], proposal["Keys"]
    by_source = {f["Source"]: (name, f) for name, f in fields.items()}
    email_name, email_field = by_source["_source.email"]
    phone_name, phone_field = by_source["_source.phone"]
    id_name, _ = by_source["_source.id"]
    assert email_field["ContentType"] == "EMAIL_ADDRESS"
    assert phone_field["ContentType"] == "PHONE_NUMBER"
    assert by_source["_source.address.city"][1]["Source"] == "_source.address.city"
    roles = {name: set(e["StandardIdentifiers"]) for name, entries in keys.items() for e in entries}
    fields_of = {name: e["FieldNames"] for name, entries in keys.items() for e in entries}
    (unique_key,) = [name for name, ids in roles.items() if "UNIQUE" in ids]
    assert fields_of[unique_key] == [id_name]
    assert any("PROFILE" in ids and fields_of[n] == [email_name] for n, ids in roles.items())
    assert any("PROFILE" in ids and fields_of[n] == [phone_name] for n, ids in roles.items())
    assert proposal.get("SourceLastUpdatedTimestampFormat")

    # The proposal is a valid definition: define it and ingest the samples with it.
    cp.put_profile_object_type(DomainName=domain, ObjectTypeName="Detected", Description="detected",
                               AllowProfileCreation=True, **proposal)
    for sample in samples:
        cp.put_profile_object(DomainName=domain, ObjectTypeName="Detected", Object=json.dumps(sample))
    (ann,) = cp.search_profiles(DomainName=domain, KeyName="_email", Values=["ANN@example.com"])["Items"]
    assert ann["FirstName"] == "Ann"
    with pytest.raises(cp.exceptions.BadRequestException):
        cp.detect_profile_object_type(DomainName=domain, Objects=["not json"])


def test_list_object_type_attributes(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    put = cp.put_profile_object_type(DomainName=domain, ObjectTypeName="Attrs", Description="d", Fields=FIELDS,
                                     Keys=KEYS)
    items, pages = _list_all(cp.list_object_type_attributes, DomainName=domain, ObjectTypeName="Attrs", MaxResults=3)
    assert [i["AttributeName"] for i in items] == sorted(FIELDS)
    assert pages == 2
    assert all(i["LastUpdatedAt"] == put["LastUpdatedAt"] for i in items)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_object_type_attributes(DomainName=domain, ObjectTypeName="Missing")


def test_delete_scrubs_objects_values_and_keys_from_that_type_only(live: LiveServer, cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    email_key = [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]
    cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="TypeA", Description="a",
        Fields={
            "id": {"Source": "_source.id"},
            "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
            "first": {"Source": "_source.first", "Target": "_profile.FirstName"},
            "city": {"Source": "_source.city", "Target": "_profile.Address.City"},
            "zip": {"Source": "_source.zip", "Target": "_profile.Address.PostalCode"},
            "tier": {"Source": "_source.tier", "Target": "_profile.Attributes.tier"},
            "account": {"Source": "_source.account", "Target": "_profile.AccountNumber"},
            "acode": {"Source": "_source.acode"},
            "loyalty": {"Source": "_source.loyalty"},
        },
        Keys={
            "aId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
            "_email": email_key,
            "aCode": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["acode"]}],
            "loyalty": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["loyalty"]}],
        },
    )
    cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="TypeB", Description="b",
        Fields={
            "id": {"Source": "_source.id"},
            "email": {"Source": "_source.email", "ContentType": "EMAIL_ADDRESS"},
            "last": {"Source": "_source.last", "Target": "_profile.LastName"},
            "city": {"Source": "_source.city", "Target": "_profile.Address.City"},
            "loyalty": {"Source": "_source.loyalty"},
        },
        Keys={
            "bId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
            "_email": email_key,
            "loyalty": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["loyalty"]}],
        },
    )
    profile_id = cp.create_profile(DomainName=domain, FirstName="Manual", EmailAddress="m@example.com")["ProfileId"]
    cp.put_profile_object(DomainName=domain, ObjectTypeName="TypeA", Object=json.dumps({
        "id": "a1", "email": "m@example.com", "first": "FromA", "city": "Oslo", "zip": "0150", "tier": "gold",
        "account": "ACC-A", "acode": "CODE-A", "loyalty": "LOY-1",
    }))
    cp.put_profile_object(DomainName=domain, ObjectTypeName="TypeB", Object=json.dumps({
        "id": "b1", "email": "m@example.com", "last": "FromB", "city": "Bergen", "loyalty": "LOY-1",
    }))
    (before,) = cp.batch_get_profile(DomainName=domain, ProfileIds=[profile_id])["Profiles"]
    assert before["FirstName"] == "Manual"  # set by hand, never overwritten
    assert before["Address"] == {"City": "Bergen", "PostalCode": "0150"}
    assert before["Attributes"] == {"tier": "gold"}
    assert before["AccountNumber"] == "ACC-A"
    assert before["LastName"] == "FromB"
    assert cp.get_domain(DomainName=domain)["Stats"]["ObjectCount"] == 2

    cp.delete_profile_object_type(DomainName=domain, ObjectTypeName="TypeA")

    (after,) = cp.batch_get_profile(DomainName=domain, ProfileIds=[profile_id])["Profiles"]
    assert after["FirstName"] == "Manual"
    assert after["EmailAddress"] == "m@example.com"
    assert after["LastName"] == "FromB"
    assert after["Address"] == {"City": "Bergen"}  # City's current value came from TypeB
    assert "Attributes" not in after
    assert "AccountNumber" not in after
    assert cp.get_domain(DomainName=domain)["Stats"]["ObjectCount"] == 1
    assert cp.list_profile_objects(DomainName=domain, ProfileId=profile_id, ObjectTypeName="TypeA")["Items"] == []
    assert len(cp.list_profile_objects(DomainName=domain, ProfileId=profile_id, ObjectTypeName="TypeB")["Items"]) == 1

    def search(key: str, value: str) -> list[str]:
        items = cp.search_profiles(DomainName=domain, KeyName=key, Values=[value])["Items"]
        return [p["ProfileId"] for p in items]

    assert search("aCode", "CODE-A") == []  # only TypeA had it
    assert search("_account", "ACC-A") == []  # the standard key of a scrubbed field
    assert search("loyalty", "LOY-1") == [profile_id]  # TypeB has it too
    assert search("_email", "m@example.com") == [profile_id]  # set by hand
    # The type's data is gone: ingesting again under the same name starts afresh.
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.put_profile_object(DomainName=domain, ObjectTypeName="TypeA", Object=json.dumps({"id": "a2"}))


def test_delete_keeps_values_another_type_also_gave(cp: Any, unique: str) -> None:
    """A value the deleted type wrote last, but another type also gave, falls back to that type's."""
    domain = _domain(cp, unique)
    for name, priority in (("Primary", 1), ("Backup", 2), ("Low", 9)):
        cp.put_profile_object_type(
            DomainName=domain, ObjectTypeName=name, Description=name, AllowProfileCreation=True,
            SourcePriority=priority,
            Fields={
                "id": {"Source": "_source.id"},
                "email": {"Source": "_source.email", "Target": "_profile.EmailAddress",
                          "ContentType": "EMAIL_ADDRESS"},
                "tier": {"Source": "_source.tier", "Target": "_profile.Attributes.tier"},
                "city": {"Source": "_source.city", "Target": "_profile.Address.City"},
            },
            Keys={f"{name}Id": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
                  "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]},
        )

    def put(type_name: str, body: dict[str, Any]) -> None:
        cp.put_profile_object(DomainName=domain, ObjectTypeName=type_name, Object=json.dumps(body))

    put("Low", {"id": "l1", "email": "both@example.com", "tier": "bronze", "city": "LowCity"})
    put("Backup", {"id": "b1", "email": "both@example.com", "tier": "silver"})
    put("Primary", {"id": "p1", "email": "both@example.com", "tier": "gold", "city": "PrimaryCity"})
    (profile,) = cp.search_profiles(DomainName=domain, KeyName="_email", Values=["both@example.com"])["Items"]
    pid = profile["ProfileId"]
    assert (profile["EmailAddress"], profile["Attributes"]["tier"], profile["Address"]["City"]) == (
        "both@example.com", "gold", "PrimaryCity")

    cp.delete_profile_object_type(DomainName=domain, ObjectTypeName="Primary")
    (profile,) = cp.batch_get_profile(DomainName=domain, ProfileIds=[pid])["Profiles"]
    assert profile["EmailAddress"] == "both@example.com"  # Backup gave the same e-mail
    assert profile["Attributes"] == {"tier": "silver"}  # Backup's own value, over Low's (priority 9)
    assert profile["Address"] == {"City": "LowCity"}  # only Low still gives a city
    found = cp.search_profiles(DomainName=domain, KeyName="_email", Values=["both@example.com"])["Items"]
    assert [p["ProfileId"] for p in found] == [pid]

    cp.delete_profile_object_type(DomainName=domain, ObjectTypeName="Backup")
    (profile,) = cp.batch_get_profile(DomainName=domain, ProfileIds=[pid])["Profiles"]
    assert (profile["EmailAddress"], profile["Attributes"], profile["Address"]) == (
        "both@example.com", {"tier": "bronze"}, {"City": "LowCity"})
    cp.delete_profile_object_type(DomainName=domain, ObjectTypeName="Low")
    (profile,) = cp.batch_get_profile(DomainName=domain, ProfileIds=[pid])["Profiles"]
    assert set(profile) - {"ResponseMetadata"} == {"ProfileId"}
    assert cp.search_profiles(DomainName=domain, KeyName="_email", Values=["both@example.com"])["Items"] == []
