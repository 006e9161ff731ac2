"""The profile API (create, update, delete, read, keys, objects, history) and SearchProfiles
through boto3 against the live server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import LiveServer


def _domain(cp: Any, name: str) -> str:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    return name


def _profile(cp: Any, domain: str, profile_id: str) -> dict[str, Any]:
    (profile,) = cp.batch_get_profile(DomainName=domain, ProfileIds=[profile_id])["Profiles"]
    return dict(profile)


def _ids(cp: Any, domain: str, key: str, *values: str) -> list[str]:
    return [p["ProfileId"] for p in cp.search_profiles(DomainName=domain, KeyName=key, Values=list(values))["Items"]]


def _orders_type(cp: Any, domain: str) -> None:
    cp.put_profile_object_type(
        DomainName=domain, ObjectTypeName="Orders", Description="orders", AllowProfileCreation=True,
        Fields={"id": {"Source": "_source.id"}, "ref": {"Source": "_source.ref"},
                "email": {"Source": "_source.email", "ContentType": "EMAIL_ADDRESS"},
                "total": {"Source": "_source.total", "ContentType": "NUMBER"}},
        Keys={"orderId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
              "orderRef": [{"StandardIdentifiers": [], "FieldNames": ["ref"]}],
              "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]},
    )


def _put(cp: Any, domain: str, type_name: str, obj: dict[str, Any]) -> str:
    return str(cp.put_profile_object(DomainName=domain, ObjectTypeName=type_name, Object=json.dumps(obj))
               ["ProfileObjectUniqueKey"])


FULL_PROFILE: dict[str, Any] = {
    "AccountNumber": "ACC-100", "AdditionalInformation": "VIP", "PartyType": "INDIVIDUAL", "BusinessName": "Acme",
    "FirstName": "Ada", "MiddleName": "K", "LastName": "Lovelace", "BirthDate": "1815-12-10", "Gender": "FEMALE",
    "PhoneNumber": "+442071234567", "MobilePhoneNumber": "+447700900123", "HomePhoneNumber": "+442079460000",
    "BusinessPhoneNumber": "+442079460001", "EmailAddress": "ada@example.com",
    "PersonalEmailAddress": "ada.home@example.com", "BusinessEmailAddress": "ada@acme.example",
    "Address": {"Address1": "12 St James's Sq", "City": "London", "PostalCode": "SW1Y 4LB", "Country": "UK"},
    "ShippingAddress": {"City": "Cambridge"}, "MailingAddress": {"City": "Oxford"}, "BillingAddress": {"City": "Bath"},
    "Attributes": {"tier": "gold", "segment": "science"},
}


# --- Profiles -------------------------------------------------------------------------------------


def test_create_read_update_profile(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    pid = cp.create_profile(DomainName=domain, **FULL_PROFILE)["ProfileId"]
    assert len(pid) == 32 and all(c in "0123456789abcdef" for c in pid)
    profile = _profile(cp, domain, pid)
    assert profile == {"ProfileId": pid, **FULL_PROFILE}

    cp.update_profile(
        DomainName=domain, ProfileId=pid,
        FirstName="Augusta",  # changed
        MiddleName="",  # cleared
        Address={"City": "Marylebone", "PostalCode": ""},  # one sub-field changed, one cleared, others kept
        Attributes={"tier": "", "since": "1833"},  # cleared and added; segment kept
        ShippingAddress={"City": ""},  # the only sub-field cleared: the address goes
    )
    profile = _profile(cp, domain, pid)
    assert profile["FirstName"] == "Augusta"
    assert "MiddleName" not in profile
    assert profile["LastName"] == "Lovelace"  # omitted: kept
    assert profile["Address"] == {"Address1": "12 St James's Sq", "City": "Marylebone", "Country": "UK"}
    assert profile["Attributes"] == {"segment": "science", "since": "1833"}
    assert "ShippingAddress" not in profile
    assert profile["MailingAddress"] == {"City": "Oxford"}
    # The standard keys follow the changes.
    assert _ids(cp, domain, "_fullName", "Augusta Lovelace") == [pid]
    assert _ids(cp, domain, "_fullName", "Ada K Lovelace") == []

    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.update_profile(DomainName=domain, ProfileId="0" * 32, FirstName="x")
    with pytest.raises(cp.exceptions.BadRequestException):
        cp.create_profile(DomainName=domain, Gender="MALE", GenderString="male")


def test_batch_get_profile_reports_unknown_ids(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    a = cp.create_profile(DomainName=domain, FirstName="A")["ProfileId"]
    b = cp.create_profile(DomainName=domain, FirstName="B")["ProfileId"]
    missing = "f" * 32
    result = cp.batch_get_profile(DomainName=domain, ProfileIds=[b, missing, a])
    assert [(p["ProfileId"], p["FirstName"]) for p in result["Profiles"]] == [(b, "B"), (a, "A")]
    (error,) = result["Errors"]
    assert error["ProfileId"] == missing
    assert error["Code"] and error["Message"]


def test_delete_profile(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _orders_type(cp, domain)
    _put(cp, domain, "Orders", {"id": "o1", "email": "del@example.com"})
    _put(cp, domain, "Orders", {"id": "o2", "email": "del@example.com"})
    (pid,) = _ids(cp, domain, "_email", "del@example.com")
    keep = cp.create_profile(DomainName=domain, EmailAddress="keep@example.com")["ProfileId"]
    assert cp.get_domain(DomainName=domain)["Stats"]["ObjectCount"] == 2
    assert pid in cp.delete_profile(DomainName=domain, ProfileId=pid)["Message"]
    assert _ids(cp, domain, "_email", "del@example.com") == []
    assert _ids(cp, domain, "orderId", "o1") == []
    assert _ids(cp, domain, "_profileId", pid) == []
    stats = cp.get_domain(DomainName=domain)["Stats"]
    assert (stats["ProfileCount"], stats["ObjectCount"]) == (1, 0)
    assert cp.batch_get_profile(DomainName=domain, ProfileIds=[pid])["Profiles"] == []
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_profile_objects(DomainName=domain, ProfileId=pid, ObjectTypeName="Orders")
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_profile(DomainName=domain, ProfileId=pid)
    assert _ids(cp, domain, "_email", "keep@example.com") == [keep]
    # The e-mail is free again: a new object makes a new profile.
    _put(cp, domain, "Orders", {"id": "o1", "email": "del@example.com"})
    (again,) = _ids(cp, domain, "_email", "del@example.com")
    assert again != pid


def test_add_and_delete_profile_keys(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    pid = cp.create_profile(DomainName=domain, FirstName="Keyed")["ProfileId"]
    added = cp.add_profile_key(DomainName=domain, ProfileId=pid, KeyName="loyaltyId", Values=["L-1", "L-2"])
    assert (added["KeyName"], added["Values"]) == ("loyaltyId", ["L-1", "L-2"])
    assert _ids(cp, domain, "loyaltyId", "L-1") == [pid]
    assert _ids(cp, domain, "loyaltyId", "L-2") == [pid]
    assert _ids(cp, domain, "loyaltyId", "L-3") == []
    cp.delete_profile_key(DomainName=domain, ProfileId=pid, KeyName="loyaltyId", Values=["L-1"])
    assert _ids(cp, domain, "loyaltyId", "L-1") == []
    assert _ids(cp, domain, "loyaltyId", "L-2") == [pid]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_profile_key(DomainName=domain, ProfileId=pid, KeyName="loyaltyId", Values=["L-1"])
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.add_profile_key(DomainName=domain, ProfileId="a" * 32, KeyName="loyaltyId", Values=["L-9"])
    # A key of an object type compares like its fields: an e-mail key is case-insensitive.
    _orders_type(cp, domain)
    cp.add_profile_key(DomainName=domain, ProfileId=pid, KeyName="_email", Values=["Keyed@Example.com"])
    assert _ids(cp, domain, "_email", "keyed@example.COM") == [pid]
    _put(cp, domain, "Orders", {"id": "k1", "email": "keyed@example.com"})
    assert len(cp.list_profile_objects(DomainName=domain, ProfileId=pid, ObjectTypeName="Orders")["Items"]) == 1


def test_list_profile_objects_filter_pages_and_delete(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _orders_type(cp, domain)
    bodies = [{"id": f"o{i}", "ref": "R-even" if i % 2 == 0 else f"R-{i}", "email": "obj@example.com", "total": i}
              for i in range(6)]
    keys = [_put(cp, domain, "Orders", body) for body in bodies]
    (pid,) = _ids(cp, domain, "_email", "obj@example.com")

    seen: list[dict[str, Any]] = []
    token = None
    while True:
        page = cp.list_profile_objects(DomainName=domain, ProfileId=pid, ObjectTypeName="Orders", MaxResults=4,
                                       **({"NextToken": token} if token else {}))
        seen += page["Items"]
        token = page.get("NextToken")
        if not token:
            break
    assert [i["ProfileObjectUniqueKey"] for i in seen] == keys
    assert [json.loads(i["Object"]) for i in seen] == bodies
    assert all(i["ObjectTypeName"] == "Orders" for i in seen)

    def filtered(key: str, *values: str) -> list[str]:
        items = cp.list_profile_objects(DomainName=domain, ProfileId=pid, ObjectTypeName="Orders",
                                        ObjectFilter={"KeyName": key, "Values": list(values)})["Items"]
        return [json.loads(i["Object"])["id"] for i in items]

    assert filtered("orderRef", "R-even") == ["o0", "o2", "o4"]
    assert filtered("orderRef", "R-1", "R-5") == ["o1", "o5"]
    assert filtered("orderId", "o3") == ["o3"]
    assert filtered("orderId", "nope") == []
    with pytest.raises(cp.exceptions.BadRequestException) as error:
        filtered("unknownKey", "o3")
    assert "unknownKey" in error.value.response["Error"]["Message"]

    assert keys[2] in cp.delete_profile_object(DomainName=domain, ProfileId=pid, ObjectTypeName="Orders",
                                               ProfileObjectUniqueKey=keys[2])["Message"]
    assert filtered("orderRef", "R-even") == ["o0", "o4"]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_profile_object(DomainName=domain, ProfileId=pid, ObjectTypeName="Orders",
                                 ProfileObjectUniqueKey=keys[2])
    with pytest.raises(cp.exceptions.ResourceNotFoundException):  # the wrong type for that object
        cp.delete_profile_object(DomainName=domain, ProfileId=pid, ObjectTypeName="Other",
                                 ProfileObjectUniqueKey=keys[3])
    assert cp.get_domain(DomainName=domain)["Stats"]["ObjectCount"] == 5
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_profile_objects(DomainName=domain, ProfileId="b" * 32, ObjectTypeName="Orders")


def test_list_profile_attribute_values(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    for first, city in (("Ann", "Oslo"), ("Bob", "Bergen"), ("Ann", "Bergen"), ("Cy", None)):
        cp.create_profile(DomainName=domain, FirstName=first, **({"Address": {"City": city}} if city else {}),
                          Attributes={"tier": first.lower()})
    result = cp.list_profile_attribute_values(DomainName=domain, AttributeName="FirstName")
    assert result["AttributeName"] == "FirstName"
    assert [i["Value"] for i in result["Items"]] == ["Ann", "Bob", "Cy"]
    cities = cp.list_profile_attribute_values(DomainName=domain, AttributeName="Address.City")["Items"]
    assert [i["Value"] for i in cities] == ["Bergen", "Oslo"]
    tiers = cp.list_profile_attribute_values(DomainName=domain, AttributeName="Attributes.tier")["Items"]
    assert [i["Value"] for i in tiers] == ["ann", "bob", "cy"]
    assert cp.list_profile_attribute_values(DomainName=domain, AttributeName="LastName")["Items"] == []


def test_profile_history(live: LiveServer, cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _orders_type(cp, domain)
    pid = cp.create_profile(DomainName=domain, EmailAddress="hist@example.com", FirstName="H")["ProfileId"]
    cp.update_profile(DomainName=domain, ProfileId=pid, LastName="Story")
    cp.add_profile_key(DomainName=domain, ProfileId=pid, KeyName="hk", Values=["v1"])
    cp.delete_profile_key(DomainName=domain, ProfileId=pid, KeyName="hk", Values=["v1"])
    body = {"id": "h1", "email": "hist@example.com", "total": 12}
    object_key = _put(cp, domain, "Orders", body)

    records: list[dict[str, Any]] = []
    token = None
    while True:
        page = cp.list_profile_history_records(DomainName=domain, ProfileId=pid, MaxResults=2,
                                               **({"NextToken": token} if token else {}))
        records += page["ProfileHistoryRecords"]
        token = page.get("NextToken")
        if not token:
            break
    assert [r["ActionType"] for r in records] == [
        "CREATED", "UPDATED", "ADDED_PROFILE_KEY", "DELETED_PROFILE_KEY", "INGESTED",
    ]
    assert len({r["Id"] for r in records}) == 5
    for record in records:
        assert live.creds.account_id in record["PerformedBy"]
        assert isinstance(record["CreatedAt"], datetime)
    ingested = records[-1]
    assert ingested["ObjectTypeName"] == "Orders"
    assert ingested["ProfileObjectUniqueKey"] == object_key

    got = cp.get_profile_history_record(DomainName=domain, ProfileId=pid, Id=ingested["Id"])
    assert got["ActionType"] == "INGESTED"
    assert json.loads(got["Content"]) == body
    assert got["ProfileObjectUniqueKey"] == object_key
    # CREATED and UPDATED hold the profile as it then was.
    created = cp.get_profile_history_record(DomainName=domain, ProfileId=pid, Id=records[0]["Id"])
    assert json.loads(created["Content"]) == {"ProfileId": pid, "EmailAddress": "hist@example.com", "FirstName": "H"}
    updated = cp.get_profile_history_record(DomainName=domain, ProfileId=pid, Id=records[1]["Id"])
    assert json.loads(updated["Content"]) == {"ProfileId": pid, "EmailAddress": "hist@example.com", "FirstName": "H",
                                              "LastName": "Story"}
    added = cp.get_profile_history_record(DomainName=domain, ProfileId=pid, Id=records[2]["Id"])
    assert json.loads(added["Content"]) == {"KeyName": "hk", "Values": ["v1"]}

    updates = cp.list_profile_history_records(DomainName=domain, ProfileId=pid, ActionType="UPDATED")
    assert [r["ActionType"] for r in updates["ProfileHistoryRecords"]] == ["UPDATED"]
    by_type = cp.list_profile_history_records(DomainName=domain, ProfileId=pid, ObjectTypeName="Orders")
    assert [r["Id"] for r in by_type["ProfileHistoryRecords"]] == [ingested["Id"]]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_profile_history_record(DomainName=domain, ProfileId=pid, Id="0" * 32)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_profile_history_records(DomainName=domain, ProfileId="c" * 32)

    # A profile created by ingestion starts with CREATED then INGESTED.
    _put(cp, domain, "Orders", {"id": "h2", "email": "new-hist@example.com"})
    (other,) = _ids(cp, domain, "_email", "new-hist@example.com")
    actions = cp.list_profile_history_records(DomainName=domain, ProfileId=other)["ProfileHistoryRecords"]
    assert [r["ActionType"] for r in actions] == ["CREATED", "INGESTED"]


# --- SearchProfiles -------------------------------------------------------------------------------


def test_search_values_and_found_by(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    a = cp.create_profile(DomainName=domain, EmailAddress="a@example.com", AccountNumber="ACC-1",
                          FirstName="Ann", LastName="Lee")["ProfileId"]
    b = cp.create_profile(DomainName=domain, EmailAddress="b@example.com", AccountNumber="ACC-1",
                          PersonalEmailAddress="b.home@example.com")["ProfileId"]
    c = cp.create_profile(DomainName=domain, EmailAddress="c@example.com", AccountNumber="ACC-2",
                          PhoneNumber="+12065550177")["ProfileId"]

    def search(**params: Any) -> dict[str, list[dict[str, Any]]]:
        items = cp.search_profiles(DomainName=domain, **params)["Items"]
        return {p["ProfileId"]: sorted(p["FoundByItems"], key=lambda f: f["KeyName"]) for p in items}

    # Several values of one key.
    found = search(KeyName="_email", Values=["a@example.com", "B.HOME@example.com", "zz@example.com"])
    assert found == {a: [{"KeyName": "_email", "Values": ["a@example.com"]}],
                     b: [{"KeyName": "_email", "Values": ["B.HOME@example.com"]}]}
    # OR (the default): each profile says which pairs found it.
    found = search(KeyName="_account", Values=["ACC-1"],
                   AdditionalSearchKeys=[{"KeyName": "_email", "Values": ["c@example.com", "a@example.com"]}])
    assert found == {
        a: [{"KeyName": "_account", "Values": ["ACC-1"]}, {"KeyName": "_email", "Values": ["a@example.com"]}],
        b: [{"KeyName": "_account", "Values": ["ACC-1"]}],
        c: [{"KeyName": "_email", "Values": ["c@example.com"]}],
    }
    assert search(KeyName="_account", Values=["ACC-1"], LogicalOperator="OR",
                  AdditionalSearchKeys=[{"KeyName": "_email", "Values": ["c@example.com"]}]).keys() == {a, b, c}
    # AND: all pairs, and every pair is reported.
    pairs: list[dict[str, Any]] = [{"KeyName": "_email", "Values": ["a@example.com"]},
                                   {"KeyName": "_fullName", "Values": ["ann lee"]}]
    found = search(KeyName="_account", Values=["ACC-1"], LogicalOperator="AND", AdditionalSearchKeys=pairs)
    assert found == {a: [{"KeyName": "_account", "Values": ["ACC-1"]}, *pairs]}
    assert search(KeyName="_account", Values=["ACC-2"], LogicalOperator="AND",
                  AdditionalSearchKeys=[{"KeyName": "_email", "Values": ["a@example.com"]}]) == {}
    # Up to four additional keys (five pairs); AND over all of them.
    five = [{"KeyName": "_email", "Values": ["c@example.com"]}, {"KeyName": "_phone", "Values": ["(206) 555-0177"]},
            {"KeyName": "_profileId", "Values": [c]}, {"KeyName": "_account", "Values": ["ACC-2"]}]
    assert search(KeyName="_account", Values=["ACC-2"], LogicalOperator="AND", AdditionalSearchKeys=five).keys() == {c}
    with pytest.raises(cp.exceptions.BadRequestException):
        search(KeyName="_account", Values=["ACC-2"], AdditionalSearchKeys=[*five, five[0]])
    # An unknown key, or no match: no items, not an error.
    assert search(KeyName="noSuchKey", Values=["x"]) == {}
    assert search(KeyName="_email", Values=["nobody@example.com"]) == {}


def test_search_one_key_with_values_finding_the_same_profiles_pages(cp: Any, unique: str) -> None:
    """Each profile is found by two of the values: it comes once per page, with both values."""
    domain = _domain(cp, unique)
    ids = {cp.create_profile(DomainName=domain, EmailAddress=f"e{i}@example.com",
                             PersonalEmailAddress=f"p{i}@example.com")["ProfileId"]: i for i in range(9)}
    values = [f"{kind}{i}@example.com" for i in range(9) for kind in "pe"] + ["none@example.com"]
    seen: dict[str, list[str]] = {}
    token = None
    sizes = []
    while True:
        page = cp.search_profiles(DomainName=domain, KeyName="_email", Values=values, MaxResults=4,
                                  **({"NextToken": token} if token else {}))
        sizes.append(len(page["Items"]))
        for item in page["Items"]:
            assert item["ProfileId"] not in seen
            seen[item["ProfileId"]] = item["FoundByItems"][0]["Values"]
        token = page.get("NextToken")
        if not token:
            break
    assert sizes == [4, 4, 1]
    assert seen == {pid: [f"e{i}@example.com", f"p{i}@example.com"] for pid, i in ids.items()}
    # AND over one key reports the pair as asked.
    items = cp.search_profiles(DomainName=domain, KeyName="_email", Values=["e1@example.com", "x@example.com"],
                               LogicalOperator="AND")["Items"]
    assert [(i["ProfileId"], i["FoundByItems"]) for i in items] == [
        (pid, [{"KeyName": "_email", "Values": ["e1@example.com", "x@example.com"]}]) for pid, i in ids.items() if i == 1
    ]


def test_search_built_in_keys(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    pid = cp.create_profile(
        DomainName=domain, FirstName="Mary", MiddleName="Ann", LastName="Evans", AccountNumber="ACC-77",
        EmailAddress="m.evans@example.com", BusinessEmailAddress="work@evans.example",
        MobilePhoneNumber="+1 425 555 0111", BusinessPhoneNumber="+442071234000",
    )["ProfileId"]
    cp.create_profile(DomainName=domain, FirstName="Other", EmailAddress="o@example.com")
    for key, value in (
        ("_profileId", pid),
        ("_email", "M.Evans@Example.com"), ("_email", "work@evans.example"),
        ("_phone", "4255550111"), ("_phone", "+14255550111"), ("_phone", "+44 20 7123 4000"),
        ("_account", "ACC-77"),
        ("_fullName", "Mary Ann Evans"), ("_fullName", "mary  ann EVANS"),
    ):
        assert _ids(cp, domain, key, value) == [pid], (key, value)
    assert _ids(cp, domain, "_fullName", "Mary Evans") == []
    assert _ids(cp, domain, "_account", "acc-77") == []  # strings compare exactly
    assert _ids(cp, domain, "_profileId", "0" * 32) == []


def test_search_paginates_to_the_end(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    created = {cp.create_profile(DomainName=domain, AccountNumber="SHARED", FirstName=f"P{i}")["ProfileId"]
               for i in range(25)}
    cp.create_profile(DomainName=domain, AccountNumber="OTHER")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = cp.search_profiles(DomainName=domain, KeyName="_account", Values=["SHARED"], MaxResults=7,
                                  **({"NextToken": token} if token else {}))
        pages += 1
        assert len(page["Items"]) == (7 if pages < 4 else 4)
        seen += [p["ProfileId"] for p in page["Items"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 4
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == created
    first = cp.search_profiles(DomainName=domain, KeyName="_account", Values=["SHARED"])
    assert len(first["Items"]) == 20 and first["NextToken"]  # MaxResults defaults to 20
    rest = cp.search_profiles(DomainName=domain, KeyName="_account", Values=["SHARED"], NextToken=first["NextToken"])
    assert len(rest["Items"]) == 5 and not rest.get("NextToken")
    # A token belongs to its search.
    with pytest.raises(cp.exceptions.BadRequestException):
        cp.search_profiles(DomainName=domain, KeyName="_account", Values=["OTHER"], NextToken=first["NextToken"])
