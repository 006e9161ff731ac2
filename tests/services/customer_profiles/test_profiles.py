"""customer_profiles/profiles.py: ProfileService in process, on both backends: profiles set by hand,
deleted with a history record left, keys added and removed, objects listed and filtered, attribute
values, the whole profile, and history records opened."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from openprofiles.app import Runtime
from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.customer_profiles.crypto_scope import DomainCipher
from openprofiles.services.customer_profiles.normalize import index_form
from openprofiles.services.customer_profiles.profiles import (
    MANUAL_SOURCE,
    check_profile_fields,
    deletion_record,
)
from openprofiles.storage.domains import DomainRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ACTOR = "API:000000000000"
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {
    "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "mail": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
}


@pytest.fixture
def domain(runtime: Runtime) -> DomainRecord:
    ctx = RequestContext("000000000000", "us-east-1", "CreateDomain", "r", NOW)
    record = runtime.domains.create(ctx, "d" + uuid.uuid4().hex[:10], default_expiration_days=30,
                                    default_encryption_key=None, dead_letter_queue_url=None, settings={},
                                    tags={}).record
    runtime.object_types.put(record, "crm", {"Description": "CRM", "AllowProfileCreation": True, "Fields": FIELDS,
                                             "Keys": KEYS}, NOW)
    return record


def _ingest(runtime: Runtime, domain: DomainRecord, *objects: dict[str, str], type_name: str = "crm") -> list[str]:
    """The profile id of each object ingested."""
    otype = runtime.object_types.resolve(domain, type_name)
    results = runtime.ingest.ingest(domain, otype, [orjson.dumps(o).decode() for o in objects], source="test",
                                    performed_by="test", now=NOW)
    assert not [r.rejected for r in results if r.rejected]
    return [str(r.profile_id) for r in results]


def test_create_then_update_by_hand(runtime: Runtime, domain: DomainRecord) -> None:
    profiles = runtime.profiles
    pid = profiles.create(domain, {"FirstName": "Ana", "LastName": "Silva", "Address": {"City": "Lyon"}}, ACTOR, NOW)
    assert profiles.update(domain, pid, {"LastName": "", "Address": {"Country": "FR"}}, ACTOR, NOW) == pid
    document = profiles.get_many(domain, [pid, "0" * 32])[pid]
    assert document.fields == {"FirstName": "Ana", "Address": {"City": "Lyon", "Country": "FR"}}
    assert profiles.get_many(domain, ["0" * 32]) == {}
    history = profiles.history(domain, pid, None, 10, {})
    assert [(r.action_type, r.performed_by) for r in history] == [("CREATED", ACTOR), ("UPDATED", ACTOR)]
    updated = profiles.history_record(domain, pid, history[1].record_id)
    assert updated.content is not None and orjson.loads(updated.content)["Address"]["Country"] == "FR"
    with pytest.raises(NotFound, match="does not exist in domain"):
        profiles.update(domain, "0" * 32, {"FirstName": "x"}, ACTOR, NOW)


def test_the_retention_starts_again_on_each_change(runtime: Runtime, domain: DomainRecord) -> None:
    pid = runtime.profiles.create(domain, {"FirstName": "Ana"}, ACTOR, NOW)
    runtime.profiles.update(domain, pid, {"FirstName": "Ann"}, ACTOR, NOW + timedelta(days=10))
    with runtime.store.read() as uow:
        row = uow.profiles.get(domain.id, pid)
    assert row is not None and row.expires_at == NOW + timedelta(days=40)  # the domain keeps 30 days


def test_delete_removes_profile_and_objects_and_records_it(runtime: Runtime, domain: DomainRecord) -> None:
    (pid,) = _ingest(runtime, domain, {"id": "1", "email": "a@x.com"})
    runtime.profiles.delete(domain, pid, ACTOR, NOW)
    assert runtime.profiles.get_many(domain, [pid]) == {}
    with runtime.store.read() as uow:
        assert uow.objects.for_profile(domain.id, pid, "crm", None, 10) == []
        history = uow.history.for_profile(domain.id, pid, None, 10)
    assert history[-1].action_type == "DELETED_BY_CUSTOMER" and history[-1].performed_by == ACTOR
    with pytest.raises(NotFound):
        runtime.profiles.delete(domain, pid, ACTOR, NOW)
    with pytest.raises(NotFound):
        runtime.profiles.history(domain, pid, None, 10, {})


def test_keys_added_by_hand_compare_like_the_keys_fields(runtime: Runtime, domain: DomainRecord) -> None:
    pid = runtime.profiles.create(domain, {"FirstName": "Ana"}, ACTOR, NOW)
    runtime.profiles.add_key(domain, pid, "mail", ["Ana@X.com"], ACTOR, NOW)
    cipher = DomainCipher(runtime.envelope, domain.id)
    index = cipher.index(index_form("EMAIL_ADDRESS", "ana@x.com"))  # the e-mail key compares lower-cased
    with runtime.store.read() as uow:
        assert uow.keys.lookup(domain.id, "mail", [index]) == [(index, pid, MANUAL_SOURCE)]
    with pytest.raises(NotFound, match="has no key mail with those values"):
        runtime.profiles.delete_key(domain, pid, "mail", ["other@x.com"], ACTOR, NOW)
    runtime.profiles.delete_key(domain, pid, "mail", ["ana@x.com"], ACTOR, NOW)
    with runtime.store.read() as uow:
        assert uow.keys.lookup(domain.id, "mail", [index]) == []
    actions = [r.action_type for r in runtime.profiles.history(domain, pid, None, 10, {})]
    assert actions == ["CREATED", "ADDED_PROFILE_KEY", "DELETED_PROFILE_KEY"]
    added = runtime.profiles.history(domain, pid, None, 10, {"action_type": "ADDED_PROFILE_KEY"})
    content = runtime.profiles.history_record(domain, pid, added[0].record_id).content
    assert content is not None and orjson.loads(content) == {"KeyName": "mail", "Values": ["Ana@X.com"]}
    for call in (runtime.profiles.add_key, runtime.profiles.delete_key):
        with pytest.raises(NotFound, match="does not exist"):
            call(domain, "0" * 32, "mail", ["a@x.com"], ACTOR, NOW)


def test_deleting_a_unique_key_that_finds_profiles_by_its_objects(runtime: Runtime, domain: DomainRecord) -> None:
    runtime.object_types.put(domain, "tickets", {
        "Description": "t", "Fields": {"ticket": {"Source": "_source.ticket"}, **FIELDS},
        "Keys": {"ticketId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["ticket"]}],
                 "mail": KEYS["mail"]}}, NOW)
    (pid,) = _ingest(runtime, domain, {"id": "9", "email": "t@x.com"})
    _ingest(runtime, domain, {"ticket": "T-1", "email": "t@x.com"}, type_name="tickets")
    runtime.profiles.delete_key(domain, pid, "ticketId", ["T-1"], ACTOR, NOW)
    with pytest.raises(NotFound):  # already removed
        runtime.profiles.delete_key(domain, pid, "ticketId", ["T-1"], ACTOR, NOW)


def test_objects_page_and_filter_by_a_key(runtime: Runtime, domain: DomainRecord) -> None:
    ids = _ingest(runtime, domain, *({"id": str(n), "email": "Same@x.com" if n % 2 else f"{n}@x.com"}
                                     for n in range(5)))
    pid = ids[1]
    assert len(set(ids)) == 4 and ids[1] == ids[3]  # 1 and 3 share an e-mail; 0, 2 and 4 are their own
    everything = runtime.profiles.objects(domain, pid, "crm", None, None, 10)
    assert [orjson.loads(o.text)["id"] for o in everything] == ["1", "3"]
    first = runtime.profiles.objects(domain, pid, "crm", None, None, 1)
    rest = runtime.profiles.objects(domain, pid, "crm", None, first[-1].row_id, 10)
    assert [o.object_key for o in first + rest] == [o.object_key for o in everything]
    by_mail = runtime.profiles.objects(domain, pid, "crm", ("mail", ["SAME@X.COM"]), None, 10)
    assert len(by_mail) == 2  # compared like the e-mail field
    by_id = runtime.profiles.objects(domain, pid, "crm", ("crmId", ["3"]), None, 10)
    assert [orjson.loads(o.text)["id"] for o in by_id] == ["3"]
    assert runtime.profiles.objects(domain, pid, "crm", ("crmId", ["4"]), None, 10) == []
    with pytest.raises(Invalid, match="is not a key of object type crm"):
        runtime.profiles.objects(domain, pid, "crm", ("nope", ["1"]), None, 10)
    with pytest.raises(Invalid, match="does not filter _order; use one of _orderId"):
        runtime.profiles.objects(domain, pid, "_order", ("_assetId", ["1"]), None, 10)
    with pytest.raises(NotFound):
        runtime.profiles.objects(domain, "0" * 32, "crm", None, None, 10)


def test_delete_object_checks_profile_and_type(runtime: Runtime, domain: DomainRecord) -> None:
    first, other = _ingest(runtime, domain, {"id": "1", "email": "a@x.com"}, {"id": "2", "email": "b@x.com"})
    (obj,) = runtime.profiles.objects(domain, first, "crm", None, None, 10)
    with pytest.raises(NotFound):
        runtime.profiles.delete_object(domain, other, "crm", obj.object_key)
    with pytest.raises(NotFound):
        runtime.profiles.delete_object(domain, first, "tickets", obj.object_key)
    runtime.profiles.delete_object(domain, first, "crm", obj.object_key)
    assert runtime.profiles.objects(domain, first, "crm", None, None, 10) == []


def test_the_whole_profile_newest_first(runtime: Runtime, domain: DomainRecord) -> None:
    (pid, _, _) = _ingest(runtime, domain, *({"id": str(n), "email": "a@x.com"} for n in range(3)))
    runtime.profiles.update(domain, pid, {"FirstName": "Ana"}, ACTOR, NOW)
    whole = runtime.profiles.whole(domain, pid, objects_per_type=2, history_limit=1)
    assert whole.document.fields["FirstName"] == "Ana" and whole.document.fields["EmailAddress"] == "a@x.com"
    assert list(whole.objects) == ["crm"]
    assert [orjson.loads(o.text)["id"] for o in whole.objects["crm"]] == ["2", "1"]
    assert [r.action_type for r in whole.history] == ["UPDATED"]
    with pytest.raises(NotFound):
        runtime.profiles.whole(domain, "0" * 32, 1, 1)


def test_attribute_values_are_distinct_and_sorted(runtime: Runtime, domain: DomainRecord) -> None:
    for city in ("Oslo", "Lyon", "Oslo"):
        runtime.profiles.create(domain, {"Address": {"City": city}, "FirstName": city}, ACTOR, NOW)
    assert runtime.profiles.attribute_values(domain, "Address.City") == ["Lyon", "Oslo"]
    assert runtime.profiles.attribute_values(domain, "LastName") == []


def test_an_unknown_history_record(runtime: Runtime, domain: DomainRecord) -> None:
    pid = runtime.profiles.create(domain, {"FirstName": "Ana"}, ACTOR, NOW)
    with pytest.raises(NotFound, match="History record nope does not exist"):
        runtime.profiles.history_record(domain, pid, "nope")


def test_gender_and_party_type_or_their_free_text_not_both() -> None:
    check_profile_fields({"Gender": "FEMALE", "PartyTypeString": "org"})
    check_profile_fields({"Gender": "", "GenderString": "x"})
    for name in ("Gender", "PartyType"):
        with pytest.raises(Invalid, match=f"either {name} or {name}String"):
            check_profile_fields({name: "X", f"{name}String": "y"})


def test_a_deletion_record_has_no_content() -> None:
    row = deletion_record("p1", "EXPIRED", "system", NOW)
    assert (row.profile_id, row.object_type_name, row.action_type, row.performed_by, row.content) == (
        "p1", "_profile", "EXPIRED", "system", None)
    assert len(row.record_id) == 32 and row.record_id != deletion_record("p1", "EXPIRED", "system", NOW).record_id
