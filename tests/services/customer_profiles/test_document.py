"""The stored form of a profile document: sources grouped, and documents stored before still read."""

from __future__ import annotations

import orjson

from openprofiles.services.customer_profiles.document import ProfileDocument, Source


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
