"""PutProfileObject and the ingest rules (matching, keys, mapping, normalisation, precedence)
through boto3 against the live server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from openprofiles.storage.database import Database
from tests.conftest import LiveServer

EMAIL = {"Source": "_source.email", "ContentType": "EMAIL_ADDRESS"}


def _domain(cp: Any, name: str) -> str:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30)
    return name


def _key(*identifiers: str, fields: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"StandardIdentifiers": list(identifiers), "FieldNames": list(fields)}]


def _put_type(cp: Any, domain: str, name: str, fields: dict[str, Any], keys: dict[str, Any], **extra: Any) -> None:
    cp.put_profile_object_type(DomainName=domain, ObjectTypeName=name, Description=name, Fields=fields, Keys=keys,
                               **extra)


def _put(cp: Any, domain: str, type_name: str, obj: dict[str, Any]) -> str:
    return str(cp.put_profile_object(DomainName=domain, ObjectTypeName=type_name, Object=json.dumps(obj))
               ["ProfileObjectUniqueKey"])


def _search(cp: Any, domain: str, key: str, *values: str) -> list[dict[str, Any]]:
    return list(cp.search_profiles(DomainName=domain, KeyName=key, Values=list(values))["Items"])


def _ids(cp: Any, domain: str, key: str, *values: str) -> list[str]:
    return [p["ProfileId"] for p in _search(cp, domain, key, *values)]


def _profile(cp: Any, domain: str, profile_id: str) -> dict[str, Any]:
    (profile,) = cp.batch_get_profile(DomainName=domain, ProfileIds=[profile_id])["Profiles"]
    return dict(profile)


def _objects(cp: Any, domain: str, profile_id: str, type_name: str, **extra: Any) -> list[dict[str, Any]]:
    return list(cp.list_profile_objects(DomainName=domain, ProfileId=profile_id, ObjectTypeName=type_name,
                                        **extra)["Items"])


def _rows(live: LiveServer, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the server's database."""
    db = Database(live.server.database_url or f"sqlite:///{live.server.data_dir / 'openprofiles.db'}")
    try:
        with db.read() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        db.dispose()


def _dead_letters(live: LiveServer, domain: str) -> list[tuple[str, str]]:
    """(object type, reason) of the domain's dead letters."""
    return [(r[0], r[1]) for r in _rows(
        live, "SELECT d.object_type_name, d.reason FROM dead_letters d JOIN domains m ON m.id = d.domain_id "
        "WHERE m.name = :name ORDER BY d.id", name=domain)]


def _key_entries(live: LiveServer, domain: str, key_name: str) -> list[str]:
    """The sources of a key's entries in the key index."""
    return [r[0] for r in _rows(
        live, "SELECT k.source FROM profile_keys k JOIN domains m ON m.id = k.domain_id "
        "WHERE m.name = :name AND k.key_name = :key ORDER BY k.source", name=domain, key=key_name)]


def _contact_type(cp: Any, domain: str, name: str = "Contact", *, allow: bool = True, **extra: Any) -> None:
    _put_type(
        cp, domain, name,
        {"id": {"Source": "_source.id"}, "email": EMAIL,
         "first": {"Source": "_source.first", "Target": "_profile.FirstName"},
         "last": {"Source": "_source.last", "Target": "_profile.LastName"}},
        {"contactId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
        AllowProfileCreation=allow, **extra,
    )


def test_profile_key_matches(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain)
    _put(cp, domain, "Contact", {"id": "1", "email": "ann@example.com", "first": "Ann"})
    (profile_id,) = _ids(cp, domain, "_email", "ann@example.com")
    _put(cp, domain, "Contact", {"id": "2", "email": " ANN@Example.com ", "last": "Lee"})
    assert _ids(cp, domain, "_email", "ann@example.com") == [profile_id]
    assert len(_objects(cp, domain, profile_id, "Contact")) == 2
    profile = _profile(cp, domain, profile_id)
    assert (profile["FirstName"], profile["LastName"]) == ("Ann", "Lee")
    # Another e-mail, another profile.
    _put(cp, domain, "Contact", {"id": "3", "email": "bob@example.com"})
    (other,) = _ids(cp, domain, "_email", "bob@example.com")
    assert other != profile_id
    # A profile created by hand is matched by its standard e-mail key.
    by_hand = cp.create_profile(DomainName=domain, EmailAddress="cy@example.com")["ProfileId"]
    _put(cp, domain, "Contact", {"id": "4", "email": "CY@example.com", "first": "Cy"})
    assert _ids(cp, domain, "_email", "cy@example.com") == [by_hand]
    assert _profile(cp, domain, by_hand)["FirstName"] == "Cy"


def test_ambiguous_key_is_skipped_and_the_next_key_decides(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Orders",
        {"id": {"Source": "_source.id"}, "acct": {"Source": "_source.acct"}, "email": EMAIL},
        {"orderId": _key("UNIQUE", fields=("id",)), "acct": _key("PROFILE", fields=("acct",)),
         "email": _key("PROFILE", fields=("email",))},
        AllowProfileCreation=True,
    )
    p1 = cp.create_profile(DomainName=domain, FirstName="One")["ProfileId"]
    p2 = cp.create_profile(DomainName=domain, FirstName="Two")["ProfileId"]
    for pid in (p1, p2):
        cp.add_profile_key(DomainName=domain, ProfileId=pid, KeyName="acct", Values=["ACC-1"])
    cp.add_profile_key(DomainName=domain, ProfileId=p2, KeyName="email", Values=["Two@Example.com"])
    _put(cp, domain, "Orders", {"id": "o1", "acct": "ACC-1", "email": "two@example.com"})
    assert len(_objects(cp, domain, p2, "Orders")) == 1
    assert _objects(cp, domain, p1, "Orders") == []
    # Only the ambiguous key: no match, so a new profile.
    _put(cp, domain, "Orders", {"id": "o2", "acct": "ACC-1"})
    assert _objects(cp, domain, p1, "Orders") == [] and len(_objects(cp, domain, p2, "Orders")) == 1
    owners = set(_ids(cp, domain, "acct", "ACC-1"))
    assert len(owners) == 3 and {p1, p2} < owners
    assert cp.get_domain(DomainName=domain)["Stats"]["ProfileCount"] == 3


def test_secondary_keys_only_after_primary_keys_fail(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Leads",
        {"id": {"Source": "_source.id"}, "email": EMAIL, "cust": {"Source": "_source.cust"}},
        {"leadId": _key("UNIQUE", fields=("id",)), "email": _key("PROFILE", "SECONDARY", fields=("email",)),
         "cust": _key("PROFILE", fields=("cust",))},
        AllowProfileCreation=False,
    )
    by_email = cp.create_profile(DomainName=domain, FirstName="ByEmail")["ProfileId"]
    by_cust = cp.create_profile(DomainName=domain, FirstName="ByCust")["ProfileId"]
    cp.add_profile_key(DomainName=domain, ProfileId=by_email, KeyName="email", Values=["e@example.com"])
    cp.add_profile_key(DomainName=domain, ProfileId=by_cust, KeyName="cust", Values=["C-1"])
    # The primary key finds nothing: the secondary key decides.
    _put(cp, domain, "Leads", {"id": "l1", "email": "e@example.com", "cust": "C-unknown"})
    assert len(_objects(cp, domain, by_email, "Leads")) == 1
    # The secondary key is listed first, and matches; the primary key wins all the same.
    _put(cp, domain, "Leads", {"id": "l2", "email": "e@example.com", "cust": "C-1"})
    assert len(_objects(cp, domain, by_cust, "Leads")) == 1
    assert len(_objects(cp, domain, by_email, "Leads")) == 1
    # That object's keys were persisted on its profile: the e-mail is now ambiguous, so no match.
    assert sorted(_ids(cp, domain, "email", "e@example.com")) == sorted([by_email, by_cust])
    with pytest.raises(cp.exceptions.BadRequestException):
        _put(cp, domain, "Leads", {"id": "l3", "email": "e@example.com"})


def test_no_match_without_profile_creation_is_a_dead_letter(live: LiveServer, cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain, allow=False)
    assert _dead_letters(live, domain) == []
    with pytest.raises(cp.exceptions.BadRequestException) as error:
        _put(cp, domain, "Contact", {"id": "1", "email": "nobody@example.com"})
    assert "AllowProfileCreation" in error.value.response["Error"]["Message"]
    letters = _dead_letters(live, domain)
    assert len(letters) == 1 and letters[0][0] == "Contact" and "AllowProfileCreation" in letters[0][1]
    assert _search(cp, domain, "_email", "nobody@example.com") == []
    stats = cp.get_domain(DomainName=domain)["Stats"]
    assert (stats["ProfileCount"], stats["ObjectCount"]) == (0, 0)
    # With a profile to match, the same object is taken.
    profile_id = cp.create_profile(DomainName=domain, EmailAddress="nobody@example.com")["ProfileId"]
    _put(cp, domain, "Contact", {"id": "1", "email": "nobody@example.com"})
    assert len(_objects(cp, domain, profile_id, "Contact")) == 1
    assert len(_dead_letters(live, domain)) == 1


def test_invalid_objects_are_dead_letters(live: LiveServer, cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain)
    bad = {
        "{not json": "JSON",
        "[1, 2]": "JSON object",
        json.dumps({"email": "x@example.com"}): "contactId",  # no value for the UNIQUE key
        json.dumps({"id": "", "email": "x@example.com"}): "contactId",
    }
    for body, words in bad.items():
        with pytest.raises(cp.exceptions.BadRequestException) as error:
            cp.put_profile_object(DomainName=domain, ObjectTypeName="Contact", Object=body)
        assert words in error.value.response["Error"]["Message"]
    letters = _dead_letters(live, domain)
    assert len(letters) == len(bad)
    assert all(type_name == "Contact" for type_name, _ in letters)
    stats = cp.get_domain(DomainName=domain)["Stats"]
    assert (stats["ProfileCount"], stats["ObjectCount"]) == (0, 0)


def test_unique_key_reingest_replaces_the_object(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain)
    first = _put(cp, domain, "Contact", {"id": "7", "email": "r@example.com", "first": "Old"})
    second = _put(cp, domain, "Contact", {"id": "7", "email": "r@example.com", "first": "New", "extra": 1})
    assert first == second
    (profile_id,) = _ids(cp, domain, "_email", "r@example.com")
    (item,) = _objects(cp, domain, profile_id, "Contact")
    assert item["ProfileObjectUniqueKey"] == first
    assert json.loads(item["Object"]) == {"id": "7", "email": "r@example.com", "first": "New", "extra": 1}
    assert _profile(cp, domain, profile_id)["FirstName"] == "New"
    # The re-ingested object needs no profile key: the replaced object's profile is used.
    _put(cp, domain, "Contact", {"id": "7", "first": "Newer"})
    (item,) = _objects(cp, domain, profile_id, "Contact")
    assert json.loads(item["Object"]) == {"id": "7", "first": "Newer"}
    assert cp.get_domain(DomainName=domain)["Stats"]["ObjectCount"] == 1
    # The UNIQUE key still finds the profile, once; after DeleteProfileKey a re-ingest restores it.
    assert _ids(cp, domain, "contactId", "7") == [profile_id]
    cp.delete_profile_key(DomainName=domain, ProfileId=profile_id, KeyName="contactId", Values=["7"])
    assert _ids(cp, domain, "contactId", "7") == []
    _put(cp, domain, "Contact", {"id": "7", "first": "Again"})
    assert _ids(cp, domain, "contactId", "7") == [profile_id]


def test_unique_key_values_follow_their_objects(live: LiveServer, cp: Any, unique: str) -> None:
    """A UNIQUE key finds the profile that holds the object with that value (the key index keeps
    no copy of it): through several values, with other keys (AND/OR), by hand too (AddProfileKey),
    and no longer once the object moves to another profile or is deleted."""
    domain = _domain(cp, unique)
    _contact_type(cp, domain)
    for obj in ({"id": "7", "email": "a@example.com"}, {"id": "8", "email": "b@example.com"},
                {"id": "9", "email": "a@example.com"}):
        _put(cp, domain, "Contact", obj)
    (a,) = _ids(cp, domain, "_email", "a@example.com")
    (b,) = _ids(cp, domain, "_email", "b@example.com")
    found = cp.search_profiles(DomainName=domain, KeyName="contactId", Values=["7", "8", "9", "10"])["Items"]
    assert sorted((p["ProfileId"], tuple(p["FoundByItems"][0]["Values"])) for p in found) == sorted(
        [(a, ("7", "9")), (b, ("8",))])
    page = cp.search_profiles(DomainName=domain, KeyName="contactId", Values=["7", "8"], MaxResults=1)
    rest = cp.search_profiles(DomainName=domain, KeyName="contactId", Values=["7", "8"], NextToken=page["NextToken"])
    assert sorted(p["ProfileId"] for p in page["Items"] + rest["Items"]) == sorted([a, b])

    def both(logical: str, contact: str, email: str) -> list[str]:
        return [p["ProfileId"] for p in cp.search_profiles(
            DomainName=domain, KeyName="contactId", Values=[contact], LogicalOperator=logical,
            AdditionalSearchKeys=[{"KeyName": "_email", "Values": [email]}])["Items"]]

    assert both("AND", "7", "a@example.com") == [a]
    assert both("AND", "8", "a@example.com") == []
    assert sorted(both("OR", "8", "a@example.com")) == sorted([a, b])
    assert _key_entries(live, domain, "contactId") == []
    cp.add_profile_key(DomainName=domain, ProfileId=b, KeyName="contactId", Values=["7"])
    assert sorted(_ids(cp, domain, "contactId", "7")) == sorted([a, b])
    assert _key_entries(live, domain, "contactId") == ["_manual"]
    _put(cp, domain, "Contact", {"id": "8", "email": "a@example.com"})  # object 8 moves to a
    assert _ids(cp, domain, "contactId", "8") == [a]
    (nine,) = [o for o in _objects(cp, domain, a, "Contact") if json.loads(o["Object"])["id"] == "9"]
    cp.delete_profile_object(DomainName=domain, ProfileId=a, ObjectTypeName="Contact",
                             ProfileObjectUniqueKey=nine["ProfileObjectUniqueKey"])
    assert _ids(cp, domain, "contactId", "9") == []
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.delete_profile_key(DomainName=domain, ProfileId=a, KeyName="contactId", Values=["9"])


def test_lookup_only_key_matches_but_is_not_persisted(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Visits",
        {"id": {"Source": "_source.id"}, "lk": {"Source": "_source.lk"}, "email": EMAIL},
        {"visitId": _key("UNIQUE", fields=("id",)), "lk": _key("PROFILE", "LOOKUP_ONLY", fields=("lk",)),
         "_email": _key("PROFILE", fields=("email",))},
        AllowProfileCreation=True,
    )
    known = cp.create_profile(DomainName=domain, FirstName="Known")["ProfileId"]
    cp.add_profile_key(DomainName=domain, ProfileId=known, KeyName="lk", Values=["L1"])
    _put(cp, domain, "Visits", {"id": "v1", "lk": "L1"})
    assert len(_objects(cp, domain, known, "Visits")) == 1  # found by the lookup-only key
    _put(cp, domain, "Visits", {"id": "v2", "lk": "L2", "email": "q@example.com"})
    (created,) = _ids(cp, domain, "_email", "q@example.com")
    assert created != known
    assert _ids(cp, domain, "lk", "L2") == []  # not persisted: not searchable
    _put(cp, domain, "Visits", {"id": "v3", "lk": "L2"})  # ... and matches nothing later
    assert len(_objects(cp, domain, created, "Visits")) == 1
    assert cp.get_domain(DomainName=domain)["Stats"]["ProfileCount"] == 3
    assert _ids(cp, domain, "lk", "L1") == [known]  # the value added by hand stays


def test_new_only_key_persisted_only_when_the_object_created_the_profile(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Signups",
        {"id": {"Source": "_source.id"}, "nk": {"Source": "_source.nk"}, "email": EMAIL},
        {"signupId": _key("UNIQUE", fields=("id",)), "nk": _key("PROFILE", "NEW_ONLY", fields=("nk",)),
         "_email": _key("PROFILE", fields=("email",))},
        AllowProfileCreation=True,
    )
    _put(cp, domain, "Signups", {"id": "s1", "nk": "N1", "email": "n@example.com"})
    (profile_id,) = _ids(cp, domain, "_email", "n@example.com")
    assert _ids(cp, domain, "nk", "N1") == [profile_id]
    _put(cp, domain, "Signups", {"id": "s2", "nk": "N2", "email": "n@example.com"})
    assert len(_objects(cp, domain, profile_id, "Signups")) == 2
    assert _ids(cp, domain, "nk", "N2") == []
    # The persisted NEW_ONLY value matches later objects.
    _put(cp, domain, "Signups", {"id": "s3", "nk": "N1"})
    assert len(_objects(cp, domain, profile_id, "Signups")) == 3


@pytest.mark.parametrize(
    ("identifier", "root", "id_field", "name_field", "filter_key"),
    [("CASE", "_case", "CaseId", "Title", "_caseId"), ("ORDER", "_order", "OrderId", "Name", "_orderId"),
     ("ASSET", "_asset", "AssetId", "AssetName", "_assetId")],
)
def test_entity_keys_attach_standard_objects(
    cp: Any, unique: str, identifier: str, root: str, id_field: str, name_field: str, filter_key: str,
) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Things",
        {"ref": {"Source": "_source.ref", "Target": f"{root}.{id_field}"},
         "name": {"Source": "_source.name", "Target": f"{root}.{name_field}"},
         "status": {"Source": "_source.status", "Target": f"{root}.Attributes.status"},
         "email": EMAIL},
        {"thingRef": _key(identifier, "UNIQUE", fields=("ref",)), "_email": _key("PROFILE", fields=("email",))},
    )
    owner = cp.create_profile(DomainName=domain, EmailAddress="owner@example.com")["ProfileId"]
    other = cp.create_profile(DomainName=domain, EmailAddress="other@example.com")["ProfileId"]
    _put(cp, domain, "Things", {"ref": "R-1", "name": "First", "status": "open", "email": "owner@example.com"})
    _put(cp, domain, "Things", {"ref": "R-2", "name": "Second", "status": "open", "email": "owner@example.com"})
    _put(cp, domain, "Things", {"ref": "R-9", "name": "Other's", "email": "other@example.com"})
    # An update of R-1 without any profile key: the standard object says whose it is.
    _put(cp, domain, "Things", {"ref": "R-1", "status": "closed"})

    items = _objects(cp, domain, owner, root)
    assert sorted(json.loads(i["Object"])[id_field] for i in items) == ["R-1", "R-2"]
    (r1,) = _objects(cp, domain, owner, root, ObjectFilter={"KeyName": filter_key, "Values": ["R-1"]})
    assert r1["ObjectTypeName"] == root
    r1_body = json.loads(r1["Object"])
    assert r1_body[id_field] == "R-1" and r1_body[name_field] == "First"  # merged, not replaced
    assert r1_body["Attributes"] == {"status": "closed"}
    assert _objects(cp, domain, owner, root, ObjectFilter={"KeyName": filter_key, "Values": ["R-9"]}) == []
    if root == "_asset":
        assert _objects(cp, domain, owner, root, ObjectFilter={"KeyName": "_assetName", "Values": ["First"]}) == [r1]
    assert len(_objects(cp, domain, owner, "Things")) == 2
    assert _ids(cp, domain, filter_key, "R-1") == [owner]
    assert _ids(cp, domain, filter_key, "R-9") == [other]
    assert _ids(cp, domain, "thingRef", "R-2") == [owner]
    # An entity key value naming another profile's object does not move it.
    assert len(_objects(cp, domain, other, root)) == 1


def test_object_moving_to_another_profile_takes_its_keys_along(cp: Any, unique: str) -> None:
    """A re-ingested object whose profile key now names another profile moves there with its case,
    and the old profile is no longer found by the object's or the case's id."""
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Tickets",
        {"ref": {"Source": "_source.ref", "Target": "_case.CaseId"}, "email": EMAIL},
        {"ticketRef": _key("CASE", "UNIQUE", fields=("ref",)), "_email": _key("PROFILE", fields=("email",))},
    )
    first = cp.create_profile(DomainName=domain, EmailAddress="first@example.com")["ProfileId"]
    second = cp.create_profile(DomainName=domain, EmailAddress="second@example.com")["ProfileId"]
    _put(cp, domain, "Tickets", {"ref": "T-1", "email": "first@example.com"})
    assert _ids(cp, domain, "_caseId", "T-1") == [first]
    _put(cp, domain, "Tickets", {"ref": "T-1", "email": "second@example.com"})
    for owner, count in ((first, 0), (second, 1)):
        assert len(_objects(cp, domain, owner, "Tickets")) == count
        assert len(_objects(cp, domain, owner, "_case")) == count
    assert _ids(cp, domain, "_caseId", "T-1") == [second]
    assert _ids(cp, domain, "ticketRef", "T-1") == [second]
    assert _ids(cp, domain, "_email", "first@example.com") == [first]
    # Still one owner, so an update naming only the ticket goes to it.
    _put(cp, domain, "Tickets", {"ref": "T-1"})
    assert len(_objects(cp, domain, second, "Tickets")) == 1


def test_template_case_keys(cp: Any, unique: str) -> None:
    """Zendesk tickets (implicit type, CASE key) attach to the Zendesk user's profile as `_case`s."""
    domain = _domain(cp, unique)
    _put(cp, domain, "Zendesk-users", {"id": "501", "name": "Req User", "email": "req@example.com"})
    (owner,) = _ids(cp, domain, "_zendeskUserId", "501")
    _put(cp, domain, "Zendesk-tickets", {"id": "9001", "requester_id": "501", "subject": "Broken", "status": "new"})
    (case,) = _objects(cp, domain, owner, "_case")
    body = json.loads(case["Object"])
    assert body["Title"] == "Broken" and body["Status"] == "new"
    assert _objects(cp, domain, owner, "_case", ObjectFilter={"KeyName": "_caseId", "Values": ["9001"]}) == [case]
    assert _ids(cp, domain, "_caseId", "9001") == [owner]
    assert _ids(cp, domain, "_zendeskTicketId", "9001") == [owner]
    (ticket,) = _objects(cp, domain, owner, "Zendesk-tickets",
                         ObjectFilter={"KeyName": "_zendeskTicketId", "Values": ["9001"]})
    assert json.loads(ticket["Object"])["subject"] == "Broken"


def test_inferred_profile_takes_email_and_phone_without_targets(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Raw",
        {"id": {"Source": "_source.id"}, "mail": {"Source": "_source.mail", "ContentType": "EMAIL_ADDRESS"},
         "tel": {"Source": "_source.tel", "ContentType": "PHONE_NUMBER"}, "note": {"Source": "_source.note"}},
        {"rawId": _key("UNIQUE", "PROFILE", fields=("id",))},
        AllowProfileCreation=True,
    )
    _put(cp, domain, "Raw", {"id": "r1", "mail": "Inferred@Example.COM", "tel": "(206) 555-0142", "note": "n"})
    (profile,) = _search(cp, domain, "rawId", "r1")
    assert profile["EmailAddress"] == "inferred@example.com"
    assert profile["PhoneNumber"] == "+12065550142"
    assert set(profile) - {"ResponseMetadata"} == {"ProfileId", "EmailAddress", "PhoneNumber", "FoundByItems"}
    assert _ids(cp, domain, "_email", "inferred@example.com") == [profile["ProfileId"]]
    assert _ids(cp, domain, "_phone", "+1 206 555 0142") == [profile["ProfileId"]]


def test_field_mapping_nested_sources_templates_and_targets(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Mapped",
        {
            "id": {"Source": "_source.id"},
            "first": {"Source": "_source.name.first", "Target": "_profile.FirstName", "ContentType": "NAME"},
            "full": {"Source": "{{_source.name.first}} {{_source.name.last}}",
                     "Target": "_profile.AdditionalInformation"},
            "city": {"Source": "_source.address.shipping.city", "Target": "_profile.ShippingAddress.City"},
            "zip": {"Source": "_source.address.shipping.zip", "Target": "_profile.ShippingAddress.PostalCode"},
            "tier": {"Source": "_source.loyalty.tier", "Target": "_profile.Attributes.tier"},
            "gender": {"Source": "_source.gender", "Target": "_profile.Gender"},
        },
        {"mappedId": _key("UNIQUE", "PROFILE", fields=("id",))},
        AllowProfileCreation=True,
    )
    _put(cp, domain, "Mapped", {
        "id": "m1", "name": {"first": "Grace", "last": "Hopper"},
        "address": {"shipping": {"city": "Arlington", "zip": "22201"}}, "loyalty": {"tier": "gold"},
        "gender": "female",
    })
    (profile,) = _search(cp, domain, "mappedId", "m1")
    assert profile["FirstName"] == "Grace"
    assert profile["AdditionalInformation"] == "Grace Hopper"
    assert profile["ShippingAddress"] == {"City": "Arlington", "PostalCode": "22201"}
    assert profile["Attributes"] == {"tier": "gold"}
    assert profile["Gender"] == "FEMALE"
    # A missing nested value sets nothing and keeps what is there.
    _put(cp, domain, "Mapped", {"id": "m1", "name": {"first": "Grace"}, "gender": "nonbinary"})
    (profile,) = _search(cp, domain, "mappedId", "m1")
    assert profile["ShippingAddress"] == {"City": "Arlington", "PostalCode": "22201"}
    assert profile["GenderString"] == "nonbinary"


def test_phone_and_email_normalisation(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _put_type(
        cp, domain, "Callers",
        {"id": {"Source": "_source.id"},
         "phone": {"Source": "_source.phone", "Target": "_profile.PhoneNumber", "ContentType": "PHONE_NUMBER"},
         "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"}},
        {"callerId": _key("UNIQUE", fields=("id",)), "phone": _key("PROFILE", fields=("phone",)),
         "mail": _key("PROFILE", fields=("email",))},
        AllowProfileCreation=True,
    )
    _put(cp, domain, "Callers", {"id": "c1", "phone": "(206) 555-0100", "email": "Mixed.Case@Example.COM"})
    (profile,) = _search(cp, domain, "phone", "+12065550100")
    assert profile["PhoneNumber"] == "+12065550100"
    assert profile["EmailAddress"] == "mixed.case@example.com"
    pid = profile["ProfileId"]
    for value in ("+1 206-555-0100", "206.555.0100", "+1 (206) 555 0100"):
        assert _ids(cp, domain, "phone", value) == [pid], value
        assert _ids(cp, domain, "_phone", value) == [pid], value
    for value in ("mixed.case@example.com", "MIXED.CASE@EXAMPLE.COM"):
        assert _ids(cp, domain, "mail", value) == [pid]
        assert _ids(cp, domain, "_email", value) == [pid]
    # Another format of the same number matches the same profile at ingestion.
    _put(cp, domain, "Callers", {"id": "c2", "phone": "+1 206 555 0100"})
    assert len(_objects(cp, domain, pid, "Callers")) == 2


def test_manual_fields_are_never_overwritten(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain)
    pid = cp.create_profile(DomainName=domain, EmailAddress="hand@example.com", FirstName="Hand")["ProfileId"]
    _put(cp, domain, "Contact", {"id": "1", "email": "hand@example.com", "first": "Obj", "last": "ObjLast"})
    profile = _profile(cp, domain, pid)
    assert (profile["FirstName"], profile["LastName"]) == ("Hand", "ObjLast")
    cp.update_profile(DomainName=domain, ProfileId=pid, LastName="HandLast")
    _put(cp, domain, "Contact", {"id": "2", "email": "hand@example.com", "first": "Obj2", "last": "ObjLast2"})
    profile = _profile(cp, domain, pid)
    assert (profile["FirstName"], profile["LastName"]) == ("Hand", "HandLast")
    # Clearing a field by hand gives it back to ingestion.
    cp.update_profile(DomainName=domain, ProfileId=pid, FirstName="")
    assert "FirstName" not in _profile(cp, domain, pid)
    _put(cp, domain, "Contact", {"id": "3", "email": "hand@example.com", "first": "Obj3"})
    assert _profile(cp, domain, pid)["FirstName"] == "Obj3"


def test_older_source_timestamp_never_overwrites(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain)  # matches by e-mail, no timestamps
    _put_type(
        cp, domain, "Stamped",
        {"id": {"Source": "_source.id"}, "email": EMAIL,
         "first": {"Source": "_source.first", "Target": "_profile.FirstName"},
         "sourceLastUpdatedTimestamp": {"Source": "_source.updated"}},
        {"stampedId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
        AllowProfileCreation=True, SourceLastUpdatedTimestampFormat="yyyy-MM-dd'T'HH:mm:ssXXX",
    )
    newer = {"id": "1", "email": "ts@example.com", "first": "Newer", "updated": "2024-05-02T00:00:00Z"}
    key = _put(cp, domain, "Stamped", newer)
    (pid,) = _ids(cp, domain, "_email", "ts@example.com")
    # The same object, older: neither the object nor the profile change.
    assert _put(cp, domain, "Stamped", {**newer, "first": "Older", "updated": "2024-05-01T23:59:59Z"}) == key
    (item,) = _objects(cp, domain, pid, "Stamped")
    assert json.loads(item["Object"]) == newer
    assert _profile(cp, domain, pid)["FirstName"] == "Newer"
    # Another object of the type with an older timestamp does not overwrite the value either.
    _put(cp, domain, "Stamped", {"id": "2", "email": "ts@example.com", "first": "Older2",
                                 "updated": "2024-04-01T00:00:00+02:00"})
    assert _profile(cp, domain, pid)["FirstName"] == "Newer"
    # A newer one does; epoch milliseconds are read too.
    _put(cp, domain, "Stamped", {"id": "3", "email": "ts@example.com", "first": "Newest", "updated": "1717200000000"})
    assert _profile(cp, domain, pid)["FirstName"] == "Newest"
    assert len(_objects(cp, domain, pid, "Stamped")) == 3
    # A timestamp that does not fit the format is a bad request.
    with pytest.raises(cp.exceptions.BadRequestException) as error:
        _put(cp, domain, "Stamped", {"id": "4", "email": "ts@example.com", "updated": "yesterday"})
    assert "SourceLastUpdatedTimestampFormat" in error.value.response["Error"]["Message"]


def test_source_priority_lower_number_wins(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    fields = {"id": {"Source": "_source.id"}, "email": EMAIL,
              "first": {"Source": "_source.first", "Target": "_profile.FirstName"},
              "city": {"Source": "_source.city", "Target": "_profile.Address.City"}}
    keys = {"_email": _key("PROFILE", fields=("email",))}
    _put_type(cp, domain, "Gold", fields, keys | {"goldId": _key("UNIQUE", fields=("id",))},
              AllowProfileCreation=True, SourcePriority=1)
    _put_type(cp, domain, "Silver", fields, keys | {"silverId": _key("UNIQUE", fields=("id",))},
              AllowProfileCreation=True, SourcePriority=2)
    _put_type(cp, domain, "Plain", fields, keys | {"plainId": _key("UNIQUE", fields=("id",))},
              AllowProfileCreation=True)
    _put(cp, domain, "Silver", {"id": "s1", "email": "p@example.com", "first": "Silver", "city": "SilverCity"})
    (pid,) = _ids(cp, domain, "_email", "p@example.com")
    assert _profile(cp, domain, pid)["FirstName"] == "Silver"
    _put(cp, domain, "Plain", {"id": "n1", "email": "p@example.com", "first": "Plain"})  # unset = lowest
    assert _profile(cp, domain, pid)["FirstName"] == "Silver"
    _put(cp, domain, "Gold", {"id": "g1", "email": "p@example.com", "first": "Gold"})
    profile = _profile(cp, domain, pid)
    assert profile["FirstName"] == "Gold"
    assert profile["Address"]["City"] == "SilverCity"  # Gold gave no city
    _put(cp, domain, "Silver", {"id": "s2", "email": "p@example.com", "first": "Silver2", "city": "SilverCity2"})
    profile = _profile(cp, domain, pid)
    assert profile["FirstName"] == "Gold"
    assert profile["Address"]["City"] == "SilverCity2"  # same source may update its own value


def test_max_profile_object_count_evicts_the_oldest(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain, MaxProfileObjectCount=2)
    _contact_type(cp, domain, "Other")
    for i in range(1, 5):
        _put(cp, domain, "Contact", {"id": str(i), "email": "max@example.com"})
        _put(cp, domain, "Other", {"id": str(i), "email": "max@example.com"})
    (pid,) = _ids(cp, domain, "_email", "max@example.com")
    kept = [json.loads(i["Object"])["id"] for i in _objects(cp, domain, pid, "Contact")]
    assert sorted(kept) == ["3", "4"]
    assert len(_objects(cp, domain, pid, "Other")) == 4  # other types are not counted
    # Re-ingesting a kept object makes it the newest.
    _put(cp, domain, "Contact", {"id": "3", "email": "max@example.com", "first": "again"})
    _put(cp, domain, "Contact", {"id": "5", "email": "max@example.com"})
    kept = [json.loads(i["Object"])["id"] for i in _objects(cp, domain, pid, "Contact")]
    assert sorted(kept) == ["3", "5"]
    assert cp.get_domain(DomainName=domain)["Stats"]["ObjectCount"] == 6


def test_read_your_writes(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain)
    for i in range(15):
        key = _put(cp, domain, "Contact", {"id": str(i), "email": f"ryw{i}@example.com", "first": f"N{i}"})
        (profile,) = _search(cp, domain, "_email", f"ryw{i}@example.com")
        assert profile["FirstName"] == f"N{i}"
        (obj,) = _objects(cp, domain, profile["ProfileId"], "Contact")
        assert obj["ProfileObjectUniqueKey"] == key
        assert _ids(cp, domain, "contactId", str(i)) == [profile["ProfileId"]]


def test_domain_stats_count_profiles_and_objects(cp: Any, unique: str) -> None:
    domain = _domain(cp, unique)
    _contact_type(cp, domain)
    _put(cp, domain, "Contact", {"id": "1", "email": "s1@example.com"})
    _put(cp, domain, "Contact", {"id": "2", "email": "s1@example.com"})
    _put(cp, domain, "Contact", {"id": "3", "email": "s2@example.com"})
    cp.create_profile(DomainName=domain, FirstName="NoObjects")
    stats = cp.get_domain(DomainName=domain)["Stats"]
    assert stats["ProfileCount"] == 3
    assert stats["MeteringProfileCount"] == 3
    assert stats["ObjectCount"] == 3
    assert stats["TotalSize"] > 0
