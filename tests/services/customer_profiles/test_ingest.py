"""IngestService in-process, on SQLite and PostgreSQL: the matching rules (by key, a new profile,
ambiguous values, SECONDARY keys, replaced and standard objects), which keys persist, the priority
rules (manual fields, SourcePriority), the timestamp rules (an older object or value never replaces
a newer one), and dead letters with their reasons. The boto3 tests of the same rules through a live
server are the contract tests (test_profile_ingest.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.ingest import MAX_OBJECT_CHARS, IngestResult
from openprofiles.services.customer_profiles.object_types import ObjectType
from openprofiles.services.customer_profiles.search import SearchKey
from openprofiles.settings import Settings
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import UnitOfWork

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EMAIL = {"Source": "_source.email", "ContentType": "EMAIL_ADDRESS"}
PHONE = {"Source": "_source.phone", "ContentType": "PHONE_NUMBER"}
ID = {"Source": "_source.id"}
FIRST = {"Source": "_source.first", "Target": "_profile.FirstName"}


def _key(*identifiers: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"StandardIdentifiers": list(identifiers), "FieldNames": list(fields)}]


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url))
    yield rt
    rt.close()


@pytest.fixture
def domain(runtime: Runtime) -> DomainRecord:
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", NOW)
    runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    return runtime.domains.record(ctx, "d")


def _type(rt: Runtime, domain: DomainRecord, name: str, fields: Mapping[str, Any], keys: Mapping[str, Any],
          **extra: Any) -> ObjectType:
    params = {"Description": name, "Fields": fields, "Keys": keys, **extra}
    return rt.object_types.put(domain, name, params, NOW).object_type


def _ingest(rt: Runtime, domain: DomainRecord, otype: ObjectType, *objects: Mapping[str, Any] | str,
            now: datetime = NOW) -> list[IngestResult]:
    bodies = [o if isinstance(o, str) else orjson.dumps(o).decode() for o in objects]
    return rt.ingest.ingest(domain, otype, bodies, source="test", performed_by="tester", now=now)


def _one(rt: Runtime, domain: DomainRecord, otype: ObjectType, obj: Mapping[str, Any] | str) -> IngestResult:
    (result,) = _ingest(rt, domain, otype, obj)
    return result


def _found(rt: Runtime, domain: DomainRecord, key: str, value: str) -> list[str]:
    return [f.profile_id for f in rt.search.search(domain, [SearchKey(key, (value,))], False, None, 20)]


def _fields(rt: Runtime, domain: DomainRecord, profile_id: str) -> dict[str, Any]:
    return rt.profiles.get_many(domain, [profile_id])[profile_id].fields


def _objects(rt: Runtime, domain: DomainRecord, profile_id: str, type_name: str) -> list[dict[str, Any]]:
    return [orjson.loads(o.text) for o in rt.profiles.objects(domain, profile_id, type_name, None, None, 100)]


def _profile_ids(results: Sequence[IngestResult]) -> list[str | None]:
    return [r.profile_id for r in results]


# Matching.


def test_a_profile_key_value_attaches_the_object_to_the_profile_it_finds(runtime: Runtime,
                                                                         domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Contact", {"id": ID, "email": EMAIL, "first": FIRST},
                  {"contactId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
                  AllowProfileCreation=True)
    first = _one(runtime, domain, otype, {"id": "1", "email": "A@Example.com", "first": "Ann"})
    assert first.created_profile and first.profile_id and first.object_key and first.rejected is None
    second = _one(runtime, domain, otype, {"id": "2", "email": "a@example.com "})  # compared normalised
    assert (second.profile_id, second.created_profile) == (first.profile_id, False)
    assert second.object_key != first.object_key
    assert [o["id"] for o in _objects(runtime, domain, first.profile_id, "Contact")] == ["1", "2"]
    assert _found(runtime, domain, "_email", "a@example.com") == [first.profile_id]


def test_no_match_creates_a_profile_only_with_allow_profile_creation(runtime: Runtime, domain: DomainRecord) -> None:
    keys = {"_email": _key("PROFILE", fields=("email",))}
    creating = _type(runtime, domain, "Lead", {"email": EMAIL}, keys | {"leadId": _key("UNIQUE", fields=("email",))},
                     AllowProfileCreation=True)
    closed = _type(runtime, domain, "Order", {"id": ID, "email": EMAIL}, keys | {"orderNo": _key("UNIQUE", fields=("id",))})
    a, b = _ingest(runtime, domain, creating, {"email": "a@example.com"}, {"email": "b@example.com"})
    assert a.created_profile and b.created_profile and a.profile_id != b.profile_id
    attached = _one(runtime, domain, closed, {"id": "o1", "email": "a@example.com"})
    assert attached.profile_id == a.profile_id and not attached.created_profile
    refused = _one(runtime, domain, closed, {"id": "o2", "email": "nobody@example.com"})
    assert refused.profile_id is None
    assert refused.rejected == ("No profile matched the object's keys and object type Order has "
                                "AllowProfileCreation false")


def test_one_batch_sees_its_own_profiles(runtime: Runtime, domain: DomainRecord) -> None:
    """Two objects of one batch with the same new value make one profile, not two."""
    otype = _type(runtime, domain, "Lead", {"id": ID, "email": EMAIL},
                  {"leadId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
                  AllowProfileCreation=True)
    a, b = _ingest(runtime, domain, otype, {"id": "1", "email": "x@example.com"}, {"id": "2", "email": "x@example.com"})
    assert a.created_profile and not b.created_profile and a.profile_id == b.profile_id
    with runtime.store.read() as uow:
        assert uow.domains.counts(domain.id).profiles == 1


def test_an_ambiguous_value_is_skipped_and_the_next_key_decides(runtime: Runtime, domain: DomainRecord) -> None:
    """Several keys matching several profiles: keys are tried in order; a value that finds more
    than one profile decides nothing."""
    otype = _type(runtime, domain, "Contact", {"id": ID, "email": EMAIL, "phone": PHONE},
                  {"contactId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",)),
                   "_phone": _key("PROFILE", fields=("phone",))},
                  AllowProfileCreation=True)
    p1 = _one(runtime, domain, otype, {"id": "1", "email": "one@example.com", "phone": "+1 206 555 0101"}).profile_id
    p2 = _one(runtime, domain, otype, {"id": "2", "email": "two@example.com", "phone": "+1 206 555 0102"}).profile_id
    runtime.profiles.add_key(domain, p2, "_email", ["shared@example.com"], "tester", NOW)
    runtime.profiles.add_key(domain, p1, "_email", ["shared@example.com"], "tester", NOW)
    # The shared e-mail finds two profiles: skipped; the phone decides.
    assert _one(runtime, domain, otype, {"id": "3", "email": "shared@example.com",
                                         "phone": "+1 206 555 0101"}).profile_id == p1
    # The first key in order that finds exactly one profile wins, even when a later key finds another.
    assert _one(runtime, domain, otype, {"id": "4", "email": "two@example.com",
                                         "phone": "+1 206 555 0101"}).profile_id == p2
    # Only an ambiguous value: a new profile.
    alone = _one(runtime, domain, otype, {"id": "5", "email": "shared@example.com"})
    assert alone.created_profile and alone.profile_id not in (p1, p2)


def test_secondary_keys_are_tried_only_after_every_primary_key(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Contact", {"id": ID, "email": EMAIL, "phone": PHONE},
                  {"contactId": _key("UNIQUE", fields=("id",)),
                   "_phone": _key("PROFILE", "SECONDARY", fields=("phone",)),
                   "_email": _key("PROFILE", fields=("email",))},
                  AllowProfileCreation=True)
    by_phone = _one(runtime, domain, otype, {"id": "1", "phone": "+1 206 555 0111"}).profile_id
    by_email = _one(runtime, domain, otype, {"id": "2", "email": "e@example.com"}).profile_id
    # No primary key finds anything: the secondary one does.
    assert _one(runtime, domain, otype, {"id": "3", "phone": "+1 206 555 0111",
                                         "email": "new@example.com"}).profile_id == by_phone
    # The phone key comes first but is SECONDARY: the e-mail decides.
    assert _one(runtime, domain, otype, {"id": "4", "phone": "+1 206 555 0111",
                                         "email": "e@example.com"}).profile_id == by_email


def test_a_unique_value_seen_before_replaces_its_object_on_its_profile(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Ticket", {"id": ID, "subject": {"Source": "_source.subject"}},
                  {"ticketId": _key("UNIQUE", fields=("id",))}, AllowProfileCreation=True)
    first = _one(runtime, domain, otype, {"id": "t1", "subject": "first"})
    again = _one(runtime, domain, otype, {"id": "t1", "subject": "second"})
    assert (again.profile_id, again.object_key, again.created_profile) == (first.profile_id, first.object_key, False)
    assert _objects(runtime, domain, first.profile_id, "Ticket") == [{"id": "t1", "subject": "second"}]
    # Its value finds the profile through the object (a UNIQUE-only key has no key index entry).
    assert _found(runtime, domain, "ticketId", "t1") == [first.profile_id]


def test_a_missing_unique_field_rejects_the_object(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Ticket", {"id": ID, "email": EMAIL},
                  {"ticketId": _key("UNIQUE", fields=("id",))}, AllowProfileCreation=True)
    assert _one(runtime, domain, otype, {"email": "x@example.com"}).rejected == (
        "Object has no value for UNIQUE key ticketId field(s): id")


def test_an_entity_key_attaches_to_the_profile_owning_the_standard_object(runtime: Runtime,
                                                                         domain: DomainRecord) -> None:
    case_id = {"Source": "_source.case", "Target": "_case.CaseId"}
    opened = _type(runtime, domain, "CaseOpened", {"id": ID, "email": EMAIL, "case": case_id,
                                                   "title": {"Source": "_source.title", "Target": "_case.Title"}},
                   {"openedId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",)),
                    "caseRef": _key("CASE", fields=("case",))}, AllowProfileCreation=True)
    comment = _type(runtime, domain, "CaseComment", {"id": ID, "case": case_id,
                                                     "status": {"Source": "_source.status", "Target": "_case.Status"}},
                    {"commentId": _key("UNIQUE", fields=("id",)), "caseRef": _key("CASE", fields=("case",))})
    owner = _one(runtime, domain, opened, {"id": "o1", "email": "c@example.com", "case": "C-1", "title": "Broken"})
    attached = _one(runtime, domain, comment, {"id": "m1", "case": "C-1", "status": "Open"})
    assert attached.profile_id == owner.profile_id and not attached.created_profile
    (case,) = _objects(runtime, domain, owner.profile_id, "_case")
    assert case == {"CaseId": "C-1", "Title": "Broken", "Status": "Open"}  # merged, not replaced
    assert _found(runtime, domain, "_caseId", "C-1") == [owner.profile_id]


def test_which_keys_become_searchable(runtime: Runtime, domain: DomainRecord) -> None:
    """LOOKUP_ONLY values match but are never stored; NEW_ONLY ones only when the object created
    the profile; other keys (index-only ones too) always."""
    otype = _type(runtime, domain, "Contact", {"id": ID, "email": EMAIL, "phone": PHONE,
                                               "ref": {"Source": "_source.ref"}, "crm": {"Source": "_source.crm"}},
                  {"contactId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",)),
                   "mobileNo": _key("PROFILE", "LOOKUP_ONLY", fields=("phone",)),
                   "refNo": _key("NEW_ONLY", fields=("ref",)), "crmNo": _key(fields=("crm",))},
                  AllowProfileCreation=True)
    created = _one(runtime, domain, otype, {"id": "1", "email": "k@example.com", "phone": "+1 206 555 0121",
                                            "ref": "R1", "crm": "K1"}).profile_id
    later = _one(runtime, domain, otype, {"id": "2", "email": "k@example.com", "ref": "R2", "crm": "K2"})
    assert later.profile_id == created
    assert _found(runtime, domain, "mobileNo", "+1 206 555 0121") == []
    assert _found(runtime, domain, "refNo", "R1") == [created]
    assert _found(runtime, domain, "refNo", "R2") == []
    assert _found(runtime, domain, "crmNo", "K2") == [created]
    # A LOOKUP_ONLY key matches the values stored otherwise (here by hand).
    runtime.profiles.add_key(domain, created, "mobileNo", ["+12065550122"], "tester", NOW)
    assert _found(runtime, domain, "mobileNo", "+1 206 555 0122") == [created]
    assert _one(runtime, domain, otype, {"id": "3", "phone": "+1 206 555 0122"}).profile_id == created


# Priorities.


def test_fields_set_by_hand_are_never_overwritten(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Contact", {"email": EMAIL, "first": FIRST},
                  {"_email": _key("PROFILE", "UNIQUE", fields=("email",))}, AllowProfileCreation=True)
    profile_id = runtime.profiles.create(domain, {"FirstName": "Manual", "EmailAddress": "m@example.com"}, "tester", NOW)
    assert _one(runtime, domain, otype, {"email": "m@example.com", "first": "Ingested"}).profile_id == profile_id
    assert _fields(runtime, domain, profile_id)["FirstName"] == "Manual"


def test_the_lower_source_priority_wins_and_unset_is_lowest(runtime: Runtime, domain: DomainRecord) -> None:
    fields = {"id": ID, "email": EMAIL, "first": FIRST,
              "city": {"Source": "_source.city", "Target": "_profile.Address.City"}}
    keys = {"_email": _key("PROFILE", fields=("email",))}
    gold = _type(runtime, domain, "Gold", fields, keys | {"goldId": _key("UNIQUE", fields=("id",))},
                 AllowProfileCreation=True, SourcePriority=1)
    silver = _type(runtime, domain, "Silver", fields, keys | {"silverId": _key("UNIQUE", fields=("id",))},
                   AllowProfileCreation=True, SourcePriority=2)
    plain = _type(runtime, domain, "Plain", fields, keys | {"plainId": _key("UNIQUE", fields=("id",))},
                  AllowProfileCreation=True)
    pid = _one(runtime, domain, silver, {"id": "s1", "email": "p@example.com", "first": "Silver", "city": "S"}).profile_id
    _one(runtime, domain, plain, {"id": "n1", "email": "p@example.com", "first": "Plain"})
    assert _fields(runtime, domain, pid)["FirstName"] == "Silver"
    _one(runtime, domain, gold, {"id": "g1", "email": "p@example.com", "first": "Gold"})
    assert _fields(runtime, domain, pid)["FirstName"] == "Gold"
    assert _fields(runtime, domain, pid)["Address"] == {"City": "S"}  # Gold gave no city
    _one(runtime, domain, silver, {"id": "s2", "email": "p@example.com", "first": "Silver2", "city": "S2"})
    assert _fields(runtime, domain, pid)["FirstName"] == "Gold"
    assert _fields(runtime, domain, pid)["Address"] == {"City": "S2"}  # a source updates its own value


def test_at_equal_priority_without_timestamps_the_latest_object_wins(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Contact", {"id": ID, "email": EMAIL, "first": FIRST},
                  {"contactId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
                  AllowProfileCreation=True)
    pid = _one(runtime, domain, otype, {"id": "1", "email": "l@example.com", "first": "One"}).profile_id
    _one(runtime, domain, otype, {"id": "2", "email": "l@example.com", "first": "Two"})
    assert _fields(runtime, domain, pid)["FirstName"] == "Two"


def test_enum_values_outside_the_enum_go_to_their_string_field(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Contact",
                  {"email": EMAIL, "gender": {"Source": "_source.g", "Target": "_profile.Gender"},
                   "party": {"Source": "_source.p", "Target": "_profile.PartyType"}},
                  {"_email": _key("PROFILE", "UNIQUE", fields=("email",))}, AllowProfileCreation=True)
    a = _one(runtime, domain, otype, {"email": "a@example.com", "g": "female", "p": "Business"}).profile_id
    b = _one(runtime, domain, otype, {"email": "b@example.com", "g": "nonbinary", "p": "household"}).profile_id
    assert (_fields(runtime, domain, a)["Gender"], _fields(runtime, domain, a)["PartyType"]) == ("FEMALE", "BUSINESS")
    fields = _fields(runtime, domain, b)
    assert (fields["GenderString"], fields["PartyTypeString"]) == ("nonbinary", "household")
    assert "Gender" not in fields and "PartyType" not in fields


def test_an_inferred_profile_takes_email_and_phone_without_targets(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Signup", {"email": EMAIL, "phone": PHONE},
                  {"signupEmail": _key("UNIQUE", "PROFILE", fields=("email",))}, AllowProfileCreation=True)
    pid = _one(runtime, domain, otype, {"email": "I@Example.com", "phone": "(206) 555-0131"}).profile_id
    assert _fields(runtime, domain, pid) == {"EmailAddress": "i@example.com", "PhoneNumber": "+12065550131"}


# Timestamps.


def _stamped(rt: Runtime, domain: DomainRecord) -> ObjectType:
    return _type(rt, domain, "Stamped", {"id": ID, "email": EMAIL, "first": FIRST,
                                         "sourceLastUpdatedTimestamp": {"Source": "_source.updated"}},
                 {"stampedId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
                 AllowProfileCreation=True, SourceLastUpdatedTimestampFormat="yyyy-MM-dd'T'HH:mm:ssXXX")


def test_an_older_version_of_an_object_never_replaces_the_newer_one(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _stamped(runtime, domain)
    newer = {"id": "1", "email": "ts@example.com", "first": "Newer", "updated": "2024-05-02T00:00:00Z"}
    stored = _one(runtime, domain, otype, newer)
    older = _one(runtime, domain, otype, {**newer, "first": "Older", "updated": "2024-05-01T23:59:59Z"})
    assert older.object_key == stored.object_key and older.rejected is None
    assert _objects(runtime, domain, stored.profile_id, "Stamped") == [newer]
    assert _fields(runtime, domain, stored.profile_id)["FirstName"] == "Newer"
    newest = {**newer, "first": "Newest", "updated": "2024-05-03T00:00:00+02:00"}
    _one(runtime, domain, otype, newest)
    assert _objects(runtime, domain, stored.profile_id, "Stamped") == [newest]


def test_an_older_value_never_overwrites_a_newer_one_of_equal_priority(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _stamped(runtime, domain)
    pid = _one(runtime, domain, otype, {"id": "1", "email": "v@example.com", "first": "Newer",
                                        "updated": "2024-05-02T00:00:00Z"}).profile_id
    # Another object, older (in another zone): the value stays.
    _one(runtime, domain, otype, {"id": "2", "email": "v@example.com", "first": "Older",
                                  "updated": "2024-05-02T01:00:00+02:00"})
    assert _fields(runtime, domain, pid)["FirstName"] == "Newer"
    # A newer one, in epoch milliseconds (always accepted), does overwrite it.
    _one(runtime, domain, otype, {"id": "3", "email": "v@example.com", "first": "Newest", "updated": "1717200000000"})
    assert _fields(runtime, domain, pid)["FirstName"] == "Newest"
    assert len(_objects(runtime, domain, pid, "Stamped")) == 3


def test_a_timestamp_outside_the_format_is_rejected(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _stamped(runtime, domain)
    result = _one(runtime, domain, otype, {"id": "1", "email": "x@example.com", "updated": "yesterday"})
    assert result.rejected == ("sourceLastUpdatedTimestamp 'yesterday' does not match "
                               "SourceLastUpdatedTimestampFormat \"yyyy-MM-dd'T'HH:mm:ssXXX\"")


# Dead letters.


def test_rejected_objects_are_dead_letters_with_their_reasons_in_input_order(runtime: Runtime,
                                                                             domain: DomainRecord) -> None:
    """One batch: the good objects are stored, each bad one is a dead letter with its reason (and
    the records a flow dropped are kept with the batch), all in one transaction."""
    otype = _type(runtime, domain, "Contact", {"id": ID, "email": EMAIL},
                  {"contactId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
                  AllowProfileCreation=True)
    deep = "[" * 200 + "]" * 200
    bodies = ["not json", '["a list"]', orjson.dumps({"email": "no-id@example.com"}).decode(),
              orjson.dumps({"id": "ok", "email": "ok@example.com"}).decode(), "x" * (MAX_OBJECT_CHARS + 1),
              f'{{"id": "deep", "nested": {deep}}}']
    results = runtime.ingest.ingest(domain, otype, bodies, source="upload:1", performed_by="tester", now=NOW,
                                    dropped=[('{"id": "dropped"}', "Dropped by a Filter task")])
    reasons = [r.rejected for r in results]
    assert reasons[3] is None and results[3].profile_id
    assert reasons[0] is not None and reasons[0].startswith("Object is not valid JSON")
    assert reasons[1] == "Object must be a JSON object"
    assert reasons[2] == "Object has no value for UNIQUE key contactId field(s): id"
    assert reasons[4] == f"Object is {MAX_OBJECT_CHARS + 1} characters; the limit is {MAX_OBJECT_CHARS}"
    assert reasons[5] is not None and "nest at most" in reasons[5]
    letters = sorted(runtime.dead_letters.page(domain.id, None, 20), key=lambda letter: letter.id)
    assert [letter.reason for letter in letters] == [*[r for r in reasons if r], "Dropped by a Filter task"]
    assert {(letter.source, letter.object_type_name) for letter in letters} == {("upload:1", "Contact")}
    payloads = [runtime.dead_letters.get(letter.id).payload for letter in letters]
    assert payloads == [b for b, r in zip(bodies, reasons, strict=True) if r] + ['{"id": "dropped"}']


def test_the_within_hook_shares_the_batch_transaction(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Contact", {"id": ID}, {"contactId": _key("UNIQUE", "PROFILE", fields=("id",))},
                  AllowProfileCreation=True)
    seen: list[list[IngestResult]] = []

    def fail(uow: UnitOfWork, results: list[IngestResult]) -> None:
        seen.append(results)
        raise RuntimeError("checkpoint refused")

    with pytest.raises(RuntimeError):
        runtime.ingest.ingest(domain, otype, ['{"id": "1"}', "bad"], source="flow", performed_by="AppFlow", now=NOW,
                              within=fail)
    assert [r.rejected is None for r in seen[0]] == [True, False]
    assert _found(runtime, domain, "contactId", "1") == []  # the batch was rolled back with it
    assert runtime.dead_letters.page(domain.id, None, 10) == []


def test_max_profile_object_count_evicts_the_oldest(runtime: Runtime, domain: DomainRecord) -> None:
    otype = _type(runtime, domain, "Visit", {"id": ID, "email": EMAIL},
                  {"visitId": _key("UNIQUE", fields=("id",)), "_email": _key("PROFILE", fields=("email",))},
                  AllowProfileCreation=True, MaxProfileObjectCount=2)
    results = [_one(runtime, domain, otype, {"id": str(i), "email": "v@example.com"}) for i in range(4)]
    pid = results[0].profile_id
    assert pid is not None
    assert [o["id"] for o in _objects(runtime, domain, pid, "Visit")] == ["2", "3"]


def test_an_object_type_change_is_ingested_with_at_once(runtime: Runtime, domain: DomainRecord) -> None:
    """The plan cache follows the object type: a redefined type's next batch uses its new fields."""
    keys = {"contactId": _key("UNIQUE", "PROFILE", fields=("id",))}
    old = _type(runtime, domain, "Contact", {"id": ID, "first": FIRST}, keys, AllowProfileCreation=True)
    pid = _one(runtime, domain, old, {"id": "1", "first": "Ann", "last": "Lee"}).profile_id
    later = NOW + timedelta(seconds=1)
    new = runtime.object_types.put(domain, "Contact", {
        "Description": "x", "AllowProfileCreation": True, "Keys": keys,
        "Fields": {"id": ID, "last": {"Source": "_source.last", "Target": "_profile.LastName"}}}, later).object_type
    _one(runtime, domain, runtime.object_types.resolve(domain, "Contact"), {"id": "1", "first": "Bo", "last": "Lee"})
    assert new.last_updated_at == later
    assert _fields(runtime, domain, pid) == {"FirstName": "Ann", "LastName": "Lee"}
