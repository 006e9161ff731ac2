"""customer_profiles/search.py: SearchProfiles in process, on both backends: values compared like the
key's fields, one key or several combined with AND or OR, pages by profile id, which keys found each
profile, `_profileId`, and UNIQUE keys whose objects find their profile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from openprofiles.app import Runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.search import SearchKey
from openprofiles.storage.domains import DomainRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "first": {"Source": "_source.first", "Target": "_profile.FirstName"},
    "last": {"Source": "_source.last", "Target": "_profile.LastName"},
    "ticket": {"Source": "_source.ticket"},
}
CRM_KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}
TICKET_KEYS = {
    "ticketId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["ticket"]}],
    "crmId": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["id"]}],
}
#: Two profiles share a full name (a standard key that does not match objects to profiles).
PEOPLE = [
    {"id": "1", "email": "Ana@X.com", "first": "Ana", "last": "Silva"},
    {"id": "2", "email": "bo@x.com", "first": "Ana", "last": "Silva"},
    {"id": "3", "email": "cy@x.com", "first": "Cy", "last": "Berg"},
]


@pytest.fixture(scope="module")
def people(runtime: Runtime) -> tuple[DomainRecord, dict[str, str]]:
    """A domain of three profiles, and each one's id by its crmId; profile 3 has a ticket T-9."""
    ctx = RequestContext("000000000000", "us-east-1", "CreateDomain", "r", NOW)
    domain = runtime.domains.create(ctx, "d" + uuid.uuid4().hex[:10], default_expiration_days=30,
                                    default_encryption_key=None, dead_letter_queue_url=None, settings={},
                                    tags={}).record
    crm = runtime.object_types.put(domain, "crm", {"Description": "c", "AllowProfileCreation": True,
                                                   "Fields": FIELDS, "Keys": CRM_KEYS}, NOW).object_type
    tickets = runtime.object_types.put(domain, "tickets", {"Description": "t", "Fields": FIELDS,
                                                           "Keys": TICKET_KEYS}, NOW).object_type
    results = runtime.ingest.ingest(domain, crm, [orjson.dumps(p).decode() for p in PEOPLE], source="t",
                                    performed_by="t", now=NOW)
    (ticket,) = runtime.ingest.ingest(domain, tickets, ['{"ticket": "T-9", "id": "3"}'], source="t",
                                      performed_by="t", now=NOW)
    assert ticket.rejected is None
    return domain, {p["id"]: str(r.profile_id) for p, r in zip(PEOPLE, results, strict=True)}


def _search(runtime: Runtime, domain: DomainRecord, *keys: tuple[str, tuple[str, ...]], logical_and: bool = False,
            after: str | None = None, limit: int = 20) -> list[tuple[str, list[tuple[str, tuple[str, ...]]]]]:
    found = runtime.search.search(domain, [SearchKey(n, v) for n, v in keys], logical_and, after, limit)
    return [(f.profile_id, [(k.name, k.values) for k in f.found_by]) for f in found]


def test_one_key_compared_like_its_field(runtime: Runtime, people: tuple[DomainRecord, dict[str, str]]) -> None:
    domain, ids = people
    found = runtime.search.search(domain, [SearchKey("_email", ("ANA@x.COM",))], False, None, 20)
    assert [f.profile_id for f in found] == [ids["1"]]
    assert found[0].fields == {"EmailAddress": "ana@x.com", "AccountNumber": "1", "FirstName": "Ana",
                               "LastName": "Silva"}
    assert found[0].found_by == [SearchKey("_email", ("ANA@x.COM",))]
    assert _search(runtime, domain, ("crmId", ("2",))) == [(ids["2"], [("crmId", ("2",))])]
    assert _search(runtime, domain, ("crmId", ("99",))) == []
    assert _search(runtime, domain, ("noSuchKey", ("1",))) == []


def test_one_key_many_values(runtime: Runtime, people: tuple[DomainRecord, dict[str, str]]) -> None:
    domain, ids = people
    found = _search(runtime, domain, ("_fullName", ("Ana Silva", "Cy Berg", "Di Nobody")))
    assert [pid for pid, _ in found] == sorted(ids.values())  # ordered by profile id
    assert dict(found)[ids["1"]] == [("_fullName", ("Ana Silva",))]  # the values that found it
    twice = _search(runtime, domain, ("_fullName", ("ana silva", "ANA SILVA")))
    assert twice == [(pid, [("_fullName", ("ANA SILVA", "ana silva"))]) for pid in sorted([ids["1"], ids["2"]])]
    crm = _search(runtime, domain, ("crmId", ("1", "3")))
    assert [pid for pid, _ in crm] == sorted([ids["1"], ids["3"]])


def test_pages_by_profile_id(runtime: Runtime, people: tuple[DomainRecord, dict[str, str]]) -> None:
    domain, ids = people
    everyone = sorted(ids.values())
    one_key = (("_fullName", ("Ana Silva", "Cy Berg")),)
    two_keys = (("_fullName", ("Ana Silva",)), ("_fullName", ("Cy Berg",)))
    for keys in (one_key, two_keys):
        first = _search(runtime, domain, *keys, limit=2)
        rest = _search(runtime, domain, *keys, after=first[-1][0], limit=2)
        assert [pid for pid, _ in first + rest] == everyone, keys


def test_several_keys_with_or_and_and(runtime: Runtime, people: tuple[DomainRecord, dict[str, str]]) -> None:
    domain, ids = people
    either = _search(runtime, domain, ("_fullName", ("Cy Berg",)), ("_email", ("bo@x.com", "ana@x.com")))
    assert sorted(pid for pid, _ in either) == sorted(ids.values())
    assert dict(either)[ids["1"]] == [("_email", ("ana@x.com",))]
    assert dict(either)[ids["3"]] == [("_fullName", ("Cy Berg",))]
    both = _search(runtime, domain, ("_fullName", ("Ana Silva",)), ("_email", ("BO@x.com",)), logical_and=True)
    assert both == [(ids["2"], [("_fullName", ("Ana Silva",)), ("_email", ("BO@x.com",))])]  # AND: the keys as sent
    assert _search(runtime, domain, ("_fullName", ("Cy Berg",)), ("crmId", ("1",)), logical_and=True) == []


def test_by_profile_id(runtime: Runtime, people: tuple[DomainRecord, dict[str, str]]) -> None:
    domain, ids = people
    assert _search(runtime, domain, ("_profileId", (ids["2"], "0" * 32))) == [(ids["2"], [("_profileId", (ids["2"],))])]
    assert _search(runtime, domain, ("_profileId", (ids["1"], ids["2"])), ("_fullName", ("Ana Silva",)),
                   logical_and=True) == sorted(
        (pid, [("_profileId", (ids["1"], ids["2"])), ("_fullName", ("Ana Silva",))]) for pid in (ids["1"], ids["2"]))


def test_a_unique_key_finds_profiles_through_its_objects(runtime: Runtime,
                                                          people: tuple[DomainRecord, dict[str, str]]) -> None:
    domain, ids = people
    assert _search(runtime, domain, ("ticketId", ("T-9",))) == [(ids["3"], [("ticketId", ("T-9",))])]
    assert _search(runtime, domain, ("ticketId", ("T-9",)), ("_fullName", ("Cy Berg",)), logical_and=True) == [
        (ids["3"], [("ticketId", ("T-9",)), ("_fullName", ("Cy Berg",))])]
    assert _search(runtime, domain, ("ticketId", ("T-1",))) == []


@pytest.mark.usefixtures("people")
def test_profiles_of_another_domain_are_not_found(runtime: Runtime) -> None:
    ctx = RequestContext("000000000000", "us-east-1", "CreateDomain", "r", NOW)
    other = runtime.domains.create(ctx, "o" + uuid.uuid4().hex[:10], default_expiration_days=30,
                                   default_encryption_key=None, dead_letter_queue_url=None, settings={},
                                   tags={}).record
    assert _search(runtime, other, ("_fullName", ("Ana Silva",))) == []
    assert _search(runtime, other, ("_email", ("bo@x.com",)), ("_fullName", ("Ana Silva",))) == []
