"""services/appflow/pushed_records.py: the records of a push body (a JSON object, an array of objects,
JSON Lines) and its refusals; the sealed batch of an Event execution, and `PushedRecords`, the run's
source, paging it from a checkpoint and discarding it once read; in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Generator, Iterator
from typing import Any

import orjson
import pytest
from cryptography.exceptions import InvalidTag

from openprofiles import json_depth
from openprofiles.app import Runtime
from openprofiles.connectors.base import ExtractRequest
from openprofiles.errors import Invalid
from openprofiles.services.appflow.pushed_records import EVENT, EventBatches, parse_records
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import caller, files_flow, runtime_for


def _nested(levels: int) -> bytes:
    """A JSON object `levels` levels deep."""
    return b'{"a": ' * (levels - 1) + b"{}" + b"}" * (levels - 1)


@pytest.mark.parametrize(("body", "records"), [
    (b'{"id": 1}', [{"id": 1}]),
    (b' [{"id": 1}, {"id": 2, "tags": ["x"]}] ', [{"id": 1}, {"id": 2, "tags": ["x"]}]),
    (b'{"id": 1}\n\n{"id": 2}\r\n  \n{"id": 3}', [{"id": 1}, {"id": 2}, {"id": 3}]),
    (b'{"id": 1}\n', [{"id": 1}]),
    (_nested(json_depth.MAX_DEPTH), [orjson.loads(_nested(json_depth.MAX_DEPTH))]),
    # The limit is a record's own depth: in an array, or on a line, it may nest as deep as alone.
    (b"[" + _nested(json_depth.MAX_DEPTH) + b"]", [orjson.loads(_nested(json_depth.MAX_DEPTH))]),
    (b"{}\n" + _nested(json_depth.MAX_DEPTH), [{}, orjson.loads(_nested(json_depth.MAX_DEPTH))]),
])
def test_parse_records_accepts_each_form(body: bytes, records: list[dict[str, Any]]) -> None:
    assert parse_records(body) == records


@pytest.mark.parametrize(("body", "words"), [
    (b"", "holds no records"),
    (b" \n\t", "holds no records"),
    (b"[]", "The JSON array holds no records"),
    (b'[{"id": 1}, 2]', "Item 2 of the JSON array is not a JSON object"),
    (b'"text"', "not a JSON string"),
    (b"12", "not a JSON number"),
    (b"true", "not a JSON boolean"),
    (b"null", "not a JSON null"),
    (b'{"id": 1}\n{broken\n', "line 2 is not JSON"),
    (b'{"id": 1}\n[1]\n', "Line 2 of the JSON Lines body is not a JSON object"),
    (_nested(json_depth.MAX_DEPTH + 1), "The record is nested deeper than 128 levels"),
    (b'[{"id": 1}, ' + _nested(json_depth.MAX_DEPTH + 1) + b"]", "Item 2 of the JSON array is nested deeper"),
    (b'{"id": 1}\n' + _nested(json_depth.MAX_DEPTH + 1) + b"\n", "Line 2 of the JSON Lines body is nested deeper"),
    (b"[" * 2000 + b"]" * 2000, "nested deeper than 1024 levels"),
])
def test_parse_records_names_what_is_wrong(body: bytes, words: str) -> None:
    with pytest.raises(Invalid, match=words):
        parse_records(body)


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("pushed")) as rt:
        yield rt


def _batch(runtime: Runtime, records: list[dict[str, Any]]) -> tuple[EventBatches, str]:
    """A stored batch of `records` for a new Event execution of a new flow; the batches and the execution id."""
    ctx = caller()
    files_flow(runtime, ctx, "events", [], trigger="Event")
    flow = runtime.flows.get(ctx, "events").record
    batches = EventBatches(runtime.store, runtime.envelope)
    execution_id = secrets.token_hex(16)
    sealed = batches.seal(execution_id, records)
    with runtime.store.write() as uow:
        uow.executions.add(flow.id, execution_id, EVENT, ctx.now, None, None)
        batches.add(uow, execution_id, len(records), sealed, ctx.now)
    return batches, execution_id


def test_a_batch_is_sealed_at_rest_and_bound_to_its_execution(runtime: Runtime) -> None:
    records = [{"email": "secret@example.com"}, {"email": "other@example.com"}]
    batches, execution_id = _batch(runtime, records)
    with runtime.store.read() as uow:
        row = uow.event_batches.get(execution_id)
    assert row is not None and row.record_count == 2 and b"secret@example.com" not in row.payload
    assert batches.records(execution_id) == records
    with pytest.raises(InvalidTag):  # sealed for this execution: another's cannot open it
        runtime.envelope.open(row.payload, b"another-execution")
    assert batches.records("no-such-execution") == []


def test_pushed_records_page_from_the_checkpoint_and_discard_the_batch_once_read(runtime: Runtime) -> None:
    records = [{"id": i} for i in range(5)]
    batches, execution_id = _batch(runtime, records)
    source = batches.source(execution_id)
    source.check()
    assert source.connector_type == EVENT and source.entities() == [] and source.describe("any") == []

    pages = source.extract(ExtractRequest(entity="", page_size=2))
    assert isinstance(pages, Generator)
    first = next(pages)
    assert (first.records, first.checkpoint) == (records[:2], 2)
    pages.close()  # a run that stops mid-batch: it stays, to be resumed
    assert batches.records(execution_id) == records

    resumed = list(source.extract(ExtractRequest(entity="", checkpoint=first.checkpoint, page_size=2)))
    assert [(p.records, p.checkpoint) for p in resumed] == [(records[2:4], 4), (records[4:], 5)]
    assert batches.records(execution_id) == []
    assert list(source.extract(ExtractRequest(entity="", page_size=2))) == []  # read: nothing more


def test_a_batch_goes_with_its_execution(runtime: Runtime) -> None:
    batches, execution_id = _batch(runtime, [{"id": 1}])
    with runtime.store.read() as uow:
        flow_id = uow.executions.get(execution_id).flow_id  # type: ignore[union-attr]
    with runtime.store.write() as uow:
        uow.flows.delete(flow_id)
    assert batches.records(execution_id) == []
