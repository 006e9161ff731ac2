"""Records pushed to an Event-triggered flow, and the source an Event run reads them from.

A push is parsed here (a JSON object, a JSON array of objects, or JSON Lines), sealed under the
`system:flow-events` data key and stored beside its execution (storage/event_batches.py). The
run's source is then `PushedRecords` in place of the flow's connector: it yields the batch in
pages whose checkpoint is the number of records read, so a resumed run goes on where it stopped,
and it deletes the batch once the run has read it all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from openprofiles import json_depth
from openprofiles.connectors.base import Connection, Connector, Entity, EntityField, ExtractRequest, Page
from openprofiles.crypto.envelope import Envelope
from openprofiles.errors import Invalid
from openprofiles.storage.store import Store, UnitOfWork

#: The trigger of an execution made from pushed records (flow_executions.trigger).
EVENT = "Event"
EVENTS_SCOPE = "system:flow-events"
_FORMS = "a JSON object, a JSON array of objects, or JSON Lines (one object per line)"


def parse_records(body: bytes) -> list[dict[str, Any]]:
    """The records of a push body; Invalid naming the first thing that is wrong."""
    if not body.strip():
        raise Invalid(f"The request body holds no records: send {_FORMS}")
    try:
        document = json_depth.loads(body, limit=None)
    except json_depth.TooDeep:
        raise Invalid(f"The request body is nested deeper than {json_depth.ORJSON_MAX_DEPTH} levels; "
                      f"a record may nest objects and arrays at most {json_depth.MAX_DEPTH} levels deep") from None
    except orjson.JSONDecodeError:
        return _json_lines(body)
    deep = json_depth.may_exceed(body, json_depth.MAX_DEPTH)
    if isinstance(document, dict):
        return [_bounded(document, "The record") if deep else document]
    if isinstance(document, list):
        if not document:
            raise Invalid("The JSON array holds no records")
        for number, record in enumerate(document, 1):
            if not isinstance(record, dict):
                raise Invalid(f"Item {number} of the JSON array is not a JSON object")
            if deep:
                _bounded(record, f"Item {number} of the JSON array")
        return document
    kind = {str: "string", bool: "boolean", int: "number", float: "number"}.get(type(document), "null")
    raise Invalid(f"The request body must be {_FORMS}, not a JSON {kind}")


def _json_lines(body: bytes) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json_depth.loads(line)
        except json_depth.TooDeep as error:
            raise Invalid(f"Line {number} of the JSON Lines body is {error}: a record may nest objects and "
                          f"arrays at most {json_depth.MAX_DEPTH} levels deep") from None
        except orjson.JSONDecodeError as error:
            raise Invalid(f"The request body is not {_FORMS}: line {number} is not JSON ({error})") from None
        if not isinstance(record, dict):
            raise Invalid(f"Line {number} of the JSON Lines body is not a JSON object")
        records.append(record)
    return records


def _bounded(record: dict[str, Any], what: str) -> dict[str, Any]:
    """The record, or Invalid when it nests deeper than `json_depth.MAX_DEPTH`."""
    try:
        json_depth.check(record)
    except json_depth.TooDeep as error:
        raise Invalid(f"{what} is {error}: a record may nest objects and arrays at most "
                      f"{json_depth.MAX_DEPTH} levels deep") from None
    return record


class EventBatches:
    """The sealed records of each Event execution."""

    def __init__(self, store: Store, envelope: Envelope) -> None:
        self.store = store
        self.envelope = envelope

    def seal(self, execution_id: str, records: list[dict[str, Any]]) -> bytes:
        """The records sealed for the execution (before its write transaction: the first seal makes a data key)."""
        return self.envelope.seal(EVENTS_SCOPE, orjson.dumps(records), execution_id.encode())

    @staticmethod
    def add(uow: UnitOfWork, execution_id: str, record_count: int, sealed: bytes, now: datetime) -> None:
        uow.event_batches.add(execution_id, record_count, sealed, now)

    def records(self, execution_id: str) -> list[dict[str, Any]]:
        """The execution's records; none once its run has read them all."""
        with self.store.read() as uow:
            row = uow.event_batches.get(execution_id)
        if row is None:
            return []
        records = orjson.loads(self.envelope.open(row.payload, execution_id.encode()))
        assert isinstance(records, list)
        return records

    def discard(self, execution_id: str) -> None:
        with self.store.write() as uow:
            uow.event_batches.delete(execution_id)

    def source(self, execution_id: str) -> PushedRecords:
        return PushedRecords(self, execution_id)


class PushedRecords(Connector):
    """The source of an Event run: the records pushed for its execution."""

    connector_type = EVENT

    def __init__(self, batches: EventBatches, execution_id: str) -> None:
        super().__init__(Connection(execution_id, EVENT, {}, {}))
        self.batches = batches
        self.execution_id = execution_id

    def check(self) -> None:
        """Pushed records need no connection."""

    def entities(self, path: str | None = None) -> list[Entity]:
        return []

    def describe(self, entity: str) -> list[EntityField]:
        return []

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        records = self.batches.records(self.execution_id)
        start = int(request.checkpoint or 0)
        for offset in range(start, len(records), request.page_size):
            end = min(offset + request.page_size, len(records))
            yield Page(records[offset:end], end)
        self.batches.discard(self.execution_id)
