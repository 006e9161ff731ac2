"""The JSON column type: values in, values out, stored as the JSON text `dump_json` writes (the
form rows written before the type existed have), SQL NULL for None; the raw-driver paths agree."""

from __future__ import annotations

from sqlalchemy import text

from openprofiles.storage.bulk import insert_rows
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.json_column import dump_json, load_json
from openprofiles.storage.store import Store
from openprofiles.storage.tables import object_types
from tests.storage.conftest import NOW

VALUE = {"Keys": {"k": [{"FieldNames": ["é", "x"]}]}, "n": 1.5, "list": [None, True, "s"]}


def test_dump_and_load_are_inverse_and_compact() -> None:
    assert dump_json(VALUE) == '{"Keys":{"k":[{"FieldNames":["é","x"]}]},"n":1.5,"list":[null,true,"s"]}'
    assert load_json(dump_json(VALUE)) == VALUE
    assert load_json(b"[1]") == [1]


def test_values_round_trip_and_are_stored_as_json_text(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        uow.object_types.put(domain.id, "t", VALUE, NOW)
        flow = uow.flows.add("111111111111", "us-east-1", "f", definition={"a": 1}, status="Active",
                             client_token=None, created_by=None, now=NOW)
    with store.read() as uow:
        stored = uow.conn.execute(text("SELECT definition FROM object_types WHERE name = 't'")).scalar_one()
        cursor = uow.conn.execute(text("SELECT cursor FROM flows WHERE id = :i"), {"i": flow.id}).scalar_one()
        record = uow.object_types.get(domain.id, "t")
    assert stored == dump_json(VALUE) and cursor is None  # None is SQL NULL, not 'null'
    assert record is not None and record.definition == VALUE


def test_text_written_by_hand_reads_back_parsed(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        uow.conn.execute(text("UPDATE domains SET settings = :s WHERE id = :i"),
                         {"s": '{"Matching": {"Enabled": true}}', "i": domain.id})
    with store.read() as uow:
        found = uow.domains.get_by_id(domain.id)
    assert found is not None and found.settings == {"Matching": {"Enabled": True}}


def test_bulk_inserts_store_json_columns_as_the_type_does(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        insert_rows(uow.conn, object_types, ("name", "definition", "created_at", "last_updated_at"),
                    [("bulk", VALUE, NOW, NOW)], domain_id=domain.id)
    with store.read() as uow:
        record = uow.object_types.get(domain.id, "bulk")
        listed = uow.object_types.list(domain.id)
    assert record is not None and record.definition == VALUE and record.created_at == NOW
    assert [r.definition for r in listed] == [VALUE]
