"""customer_profiles/document.py: which source holds a field (priority, timestamp, by hand), the fallback
when a type is deleted, the standard keys, and the stored form (sources grouped, older documents read)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from openprofiles.services.customer_profiles.document import ProfileDocument, Source, flatten


def _document() -> ProfileDocument:
    doc = ProfileDocument("p1")
    crm = Source("crm", None, None)
    doc.set_all_from_object([("FirstName", "Ana"), ("Address.City", "Lyon"), ("Attributes.tier", "gold")], crm)
    doc.set_from_object("FirstName", "Anna", Source("shop", 1, 1700000000.0))  # a second type offers a path
    doc.set_by_hand("LastName", "Silva")
    return doc


def test_round_trip_keeps_fields_sources_offers_and_hand_set_fields() -> None:
    doc = _document()
    again = ProfileDocument.from_bytes("p1", doc.to_bytes())
    assert again == doc
    stored = orjson.loads(doc.to_bytes())
    assert "s" not in stored
    assert sorted(map(tuple, (g[:3] for g in stored["g"]))) == [("crm", None, None), ("shop", 1, 1700000000.0)]


def test_a_document_stored_with_one_source_per_path_still_reads() -> None:
    doc = _document()
    old = orjson.dumps({
        "f": doc.fields,
        "m": sorted(doc.manual),
        "s": {p: [s.object_type, s.priority, s.timestamp] for p, s in doc.sources.items()},
        "o": {p: [[v, s.object_type, s.priority, s.timestamp] for v, s in o.values()] for p, o in doc.offers.items()},
    })
    assert ProfileDocument.from_bytes("p1", old) == doc


def test_sources_decide_after_a_round_trip() -> None:
    doc = ProfileDocument.from_bytes("p1", _document().to_bytes())
    # The lower SourcePriority holds the field; an unprioritised type cannot take it back.
    assert not doc.set_from_object("FirstName", "Ann", Source("crm", None, None))
    assert doc.get("FirstName") == "Anna"
    # A hand-set field is never overwritten by ingestion.
    doc.set_all_from_object([("LastName", "Smith"), ("Address.City", "Oslo")], Source("crm", None, None))
    assert doc.get("LastName") == "Silva"
    assert doc.get("Address.City") == "Oslo"


# Which source may replace which.


def test_the_lower_priority_wins_and_unset_is_lowest() -> None:
    assert Source("a", 1, None).outranks(Source("b", 2, None))
    assert not Source("a", 2, None).outranks(Source("b", 1, None))
    assert Source("a", 5, None).outranks(Source("b", None, None))
    assert not Source("a", None, 9e9).outranks(Source("b", 5, 0.0))  # a newer timestamp does not beat a priority


def test_at_equal_priority_an_older_timestamp_never_replaces_a_newer_one() -> None:
    assert not Source("a", 1, 10.0).outranks(Source("b", 1, 20.0))
    assert Source("a", 1, 20.0).outranks(Source("b", 1, 20.0))  # the same instant: the later object wins
    assert Source("a", None, None).outranks(Source("b", None, 20.0))  # without both timestamps, the later wins
    assert Source("a", None, 10.0).outranks(Source("b", None, None))


def test_ingestion_writes_unless_a_hand_or_a_better_source_holds_the_field() -> None:
    doc = ProfileDocument("p1")
    assert doc.set_from_object("FirstName", "Ana", Source("crm", 2, 100.0))
    assert not doc.set_from_object("FirstName", "Old", Source("crm", 2, 50.0))  # older
    assert doc.set_from_object("FirstName", "New", Source("crm", 2, 150.0))
    assert doc.set_from_object("FirstName", "Best", Source("shop", 1, None))
    assert doc.get("FirstName") == "Best" and doc.sources["FirstName"].object_type == "shop"
    doc.set_by_hand("FirstName", "Mine")
    assert not doc.set_from_object("FirstName", "Any", Source("shop", 0, 999.0))
    assert doc.get("FirstName") == "Mine" and "FirstName" not in doc.sources


def test_by_hand_an_empty_value_clears_and_frees_the_field_for_ingestion() -> None:
    doc = ProfileDocument("p1")
    doc.set_by_hand("Address.City", "Lyon")
    doc.set_by_hand("Address.Country", "FR")
    doc.set_by_hand("Address.City", "")
    assert doc.fields == {"Address": {"Country": "FR"}} and doc.manual == {"Address.Country"}
    doc.set_by_hand("Address.Country", None)
    assert doc.fields == {} and doc.manual == set()  # the emptied nested member goes too
    assert doc.set_from_object("Address.Country", "PT", Source("crm", None, None))
    assert doc.get("Address.Country") == "PT" and doc.get("Address.City") is None and doc.get("Nope.x") is None


def test_deleting_a_type_falls_back_to_the_best_remaining_offer() -> None:
    doc = ProfileDocument("p1")
    doc.set_from_object("FirstName", "FromC", Source("c", 3, None))
    doc.set_from_object("FirstName", "FromB", Source("b", 2, None))
    doc.set_from_object("FirstName", "FromA", Source("a", 1, None))
    doc.set_from_object("LastName", "OnlyA", Source("a", 1, None))
    assert doc.clear_source("a")
    assert doc.get("FirstName") == "FromB" and doc.sources["FirstName"].object_type == "b"
    assert doc.get("LastName") is None and "LastName" not in doc.sources
    assert doc.clear_source("b")
    assert doc.get("FirstName") == "FromC"
    assert doc.clear_source("c")
    assert doc.fields == {} and doc.offers == {}
    assert not doc.clear_source("c")  # nothing left from it


def test_deleting_a_type_keeps_hand_set_fields() -> None:
    doc = ProfileDocument("p1")
    doc.set_from_object("FirstName", "Ana", Source("crm", None, None))
    doc.set_by_hand("FirstName", "Mine")
    assert not doc.clear_source("crm")
    assert doc.get("FirstName") == "Mine"


def test_a_fallback_offer_is_each_types_latest() -> None:
    doc = ProfileDocument("p1")
    doc.set_from_object("FirstName", "A1", Source("a", 1, None))
    doc.set_from_object("FirstName", "B1", Source("b", 2, 10.0))
    doc.set_from_object("FirstName", "B2", Source("b", 2, 20.0))  # b's newer offer replaces its older one
    doc.set_from_object("FirstName", "B0", Source("b", 2, 5.0))  # ... and an older one does not
    doc.clear_source("a")
    assert doc.get("FirstName") == "B2"


# The search keys and the forms a document is read in.


def test_standard_keys_of_every_e_mail_phone_account_and_the_full_name() -> None:
    doc = ProfileDocument("p1")
    for path, value in [("EmailAddress", "a@x.com"), ("BusinessEmailAddress", "b@x.com"), ("MobilePhoneNumber", "+1"),
                        ("AccountNumber", "42"), ("FirstName", "Ana"), ("LastName", "Silva"), ("Address.City", "L")]:
        doc.set_by_hand(path, value)
    assert doc.standard_keys() == [
        ("_email", "EMAIL_ADDRESS", "a@x.com"), ("_email", "EMAIL_ADDRESS", "b@x.com"),
        ("_phone", "PHONE_NUMBER", "+1"), ("_account", "STRING", "42"), ("_fullName", "NAME", "Ana Silva"),
    ]
    assert ProfileDocument("p2").standard_keys() == []


def test_flatten_and_the_read_forms() -> None:
    fields = {"FirstName": "Ana", "Address": {"City": "Lyon", "Country": "FR"}}
    assert list(flatten(fields)) == [("FirstName", "Ana"), ("Address.City", "Lyon"), ("Address.Country", "FR")]
    doc = ProfileDocument("p1")
    for path, value in flatten(fields):
        doc.set_by_hand(path, value)
    assert ProfileDocument.fields_from_bytes(doc.to_bytes()) == fields
    assert orjson.loads(doc.profile_json()) == {"ProfileId": "p1", **fields}


_PATHS = st.sampled_from(["FirstName", "LastName", "Address.City", "Attributes.tier"])
_SOURCES = st.builds(Source, st.sampled_from(["crm", "shop", "web"]), st.none() | st.integers(0, 3),
                     st.none() | st.floats(0, 100, allow_nan=False))
_STEPS = st.lists(st.tuples(st.lists(st.tuples(_PATHS, st.text("ab", min_size=1, max_size=2)), max_size=4),
                            _SOURCES, st.none() | _PATHS), max_size=8)


@settings(max_examples=100, deadline=None)
@given(_STEPS)
def test_the_batch_form_decides_as_one_path_at_a_time_does(steps: list[Any]) -> None:
    """`set_all_from_object` (the short path ingestion takes) and `set_from_object` per path agree,
    hand-set fields (the third member of a step) included."""
    batch, single = ProfileDocument("p"), ProfileDocument("p")
    for values, source, by_hand in steps:
        batch.set_all_from_object(values, source)
        for path, value in values:
            single.set_from_object(path, value, source)
        if by_hand is not None:
            batch.set_by_hand(by_hand, "hand")
            single.set_by_hand(by_hand, "hand")
    assert batch == single
    assert ProfileDocument.from_bytes("p", batch.to_bytes()) == batch
