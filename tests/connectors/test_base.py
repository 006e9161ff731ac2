"""connectors/base.py: the connector contract's errors, requests, pages and the abstract Connector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openprofiles.connectors.base import (
    Connection,
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    NotGranted,
    Page,
    RecordFilter,
    UnreadableRecord,
)
from openprofiles.connectors.grants import Grants


def test_errors_carry_their_message_and_transience() -> None:
    error = ConnectorError("HTTP 503", transient=True)
    assert (str(error), error.message, error.transient) == ("HTTP 503", "HTTP 503", True)
    assert ConnectorError("bad").transient is False
    assert isinstance(ConnectorAuthError("no"), ConnectorError) and isinstance(NotGranted("no"), ConnectorError)
    assert NotGranted("no").transient is False


def test_a_connection_grants_nothing_by_default() -> None:
    connection = Connection("p", "S3", {}, {})
    assert connection.grants == Grants() and connection.account_id == "" and connection.label is None


def test_extract_request_defaults() -> None:
    request = ExtractRequest("Contact")
    assert (request.fields, tuple(request.filters), request.since, request.until, request.checkpoint) == (
        None, (), None, None, None)
    assert request.page_size == 1000 and dict(request.source_properties) == {}


def test_record_filter_is_a_plain_tuple() -> None:
    spec = RecordFilter("Age", "BETWEEN", ("1", "5"), "integer")
    assert (spec.field, spec.operator, spec.values, spec.data_type) == ("Age", "BETWEEN", ("1", "5"), "integer")
    assert spec == ("Age", "BETWEEN", ("1", "5"), "integer")


def test_an_unreadable_record_is_an_empty_record_with_its_text_and_reason() -> None:
    record = UnreadableRecord("[[[[", "nested too deep")
    assert record == {} and isinstance(record, dict)
    assert (record.text, record.reason) == ("[[[[", "nested too deep")


class _Listing(Connector):
    connector_type = "CustomConnector"

    def check(self) -> None:
        if not self.connection.credentials.get("token"):
            raise ConnectorAuthError("no token")

    def entities(self, path: str | None = None) -> list[Entity]:
        return [Entity("things", "Things")]

    def describe(self, entity: str) -> list[EntityField]:
        return [EntityField("id", "integer", nullable=False)]

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        start = request.checkpoint or 0
        for first in range(start, 5, request.page_size):
            records = [{"id": n} for n in range(first, min(first + request.page_size, 5))]
            yield Page(records, first + len(records))


def test_connector_is_abstract_and_a_subclass_sees_its_connection() -> None:
    with pytest.raises(TypeError):
        Connector(Connection("p", "X", {}, {}))  # type: ignore[abstract]
    connector = _Listing(Connection("p", "CustomConnector", {}, {"token": "t"}))
    connector.check()
    with pytest.raises(ConnectorAuthError):
        _Listing(Connection("p", "CustomConnector", {}, {})).check()
    pages = list(connector.extract(ExtractRequest("things", page_size=2)))
    assert [p.checkpoint for p in pages] == [2, 4, 5] and pages[0].high_water is None
    assert [r["id"] for p in connector.extract(ExtractRequest("things", page_size=2, checkpoint=4)) for r in p.records] == [4]
    assert _Listing.default_modified_field is None and _Listing.label is None
