"""The connector interface: what a flow needs from a source application.

A connector is built for one connector profile (its properties and decrypted credentials). It
checks the credentials, lists the source's entities and their fields, and extracts records as
a stream of pages, each carrying a checkpoint from which a crashed or cancelled run resumes and
the highest modification time it saw (the next incremental pull starts there).
Built-in connectors and plugins (the `openprofiles.connectors` entry point group) implement it
alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from openprofiles.connectors.grants import Grants


class ConnectorError(Exception):
    """A failure talking to the source. `transient` ones (timeouts, 429, 5xx) may be retried."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class ConnectorAuthError(ConnectorError):
    """The source refused the credentials."""


class NotGranted(ConnectorError):
    """The profile asks for something tenants may not reach (ValidationException): what the operator has
    not granted (the message names the setting that would), or what no setting grants."""


@dataclass(frozen=True)
class Connection:
    """A connector profile as a connector sees it."""

    name: str
    connector_type: str
    properties: Mapping[str, Any]
    credentials: Mapping[str, Any]
    label: str | None = None
    #: The account the profile belongs to, and what the operator enabled for tenants.
    account_id: str = ""
    grants: Grants = field(default_factory=Grants)


@dataclass(frozen=True)
class Entity:
    name: str
    label: str
    has_nested_entities: bool = False
    description: str | None = None


@dataclass(frozen=True)
class EntityField:
    name: str
    data_type: str  # string, integer, double, boolean, date, datetime, ...
    label: str | None = None
    description: str | None = None
    nullable: bool = True


class RecordFilter(NamedTuple):
    """A flow's record filter (a Filter task with a comparison operator), for push-down to a source query.

    `operator` is AppFlow's (EQUAL_TO, NOT_EQUAL_TO, LESS_THAN, LESS_THAN_OR_EQUAL_TO, GREATER_THAN,
    GREATER_THAN_OR_EQUAL_TO, BETWEEN, CONTAINS); `values` holds VALUE, the VALUES items (trimmed) or,
    for BETWEEN, (LOWER_BOUND, UPPER_BOUND); `data_type` is the task's DATA_TYPE. The flow applies every
    filter to what the connector returns anyway, so a connector pushes down what its source's query
    language expresses exactly and may ignore the rest.
    """

    field: str
    operator: str
    values: tuple[str, ...]
    data_type: str


@dataclass(frozen=True)
class ExtractRequest:
    """What a flow run asks of its source."""

    entity: str
    source_properties: Mapping[str, Any] = field(default_factory=dict)
    #: The projected fields, or None for all.
    fields: Sequence[str] | None = None
    #: The flow's record filters (all must hold), for the connector to push down where it can.
    filters: Sequence[RecordFilter] = ()
    #: Only records modified at or after this instant (incremental pulls), and before `until`.
    since: datetime | None = None
    until: datetime | None = None
    #: The field holding each record's modification time (incrementalPullConfig.datetimeTypeFieldName).
    modified_field: str | None = None
    #: Where a resumed run starts again: a page's checkpoint from an earlier attempt.
    checkpoint: Any = None
    page_size: int = 1000


class UnreadableRecord(dict[str, Any]):
    """In a page, in place of a record the source holds but a connector cannot deliver as data
    (JSON nested too deep to decode): its source text and why. A flow run keeps it as a dead
    letter with that reason, like a record the tasks drop, and goes on; the tasks never see it."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__()
        self.text = text
        self.reason = reason


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    #: The position after this page (opaque to everything but the connector; JSON-serialisable).
    checkpoint: Any
    #: The highest modification time among the page's records, if known.
    high_water: datetime | None = None


class Connector(ABC):
    """One source application, for one connector profile."""

    #: AppFlow's connectorType (CustomConnector for OpenProfiles' own kinds, named by `label`).
    connector_type: ClassVar[str]
    label: ClassVar[str | None] = None
    #: The field that holds a record's modification time, when the source has one.
    default_modified_field: ClassVar[str | None] = None

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @abstractmethod
    def check(self) -> None:
        """Reach the source with the credentials; ConnectorAuthError if it refuses them."""

    @abstractmethod
    def entities(self, path: str | None = None) -> list[Entity]:
        """The objects the source offers (under `path` for nested sources)."""

    @abstractmethod
    def describe(self, entity: str) -> list[EntityField]:
        """The fields of an entity."""

    @abstractmethod
    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """The entity's records, page by page, in a stable order, from `request.checkpoint` on."""
