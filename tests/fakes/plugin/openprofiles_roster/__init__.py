"""A plugin connector package for tests: "Roster" reads JSON files from a directory.

It is installed only by putting tests/fakes/plugin on PYTHONPATH: the `*.dist-info` directory
beside it declares the `openprofiles.connectors` entry points, as a wheel would.
Profile properties: `directory`. Credentials: APIKEY, checked against the directory's `.apikey` file.
Each `NAME.json` file (a JSON array of objects) is an entity `NAME`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openprofiles.connectors.base import (
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    Page,
)

_TYPES = {bool: "boolean", int: "integer", float: "double", str: "string"}


class RosterConnector(Connector):
    """Roster, team lists kept as JSON files"""

    connector_type = "CustomConnector"

    @property
    def directory(self) -> Path:
        return Path(str(self.connection.properties.get("directory", "")))

    def check(self) -> None:
        if not self.directory.is_dir():
            raise ConnectorError(f"directory {self.directory} does not exist")
        api_key = (self.connection.credentials.get("apiKey") or {}).get("apiKey")
        if api_key != (self.directory / ".apikey").read_text().strip():
            raise ConnectorAuthError("the API key is not this roster's")

    def _records(self, entity: str) -> list[dict[str, Any]]:
        path = self.directory / f"{entity}.json"
        if not path.is_file():
            raise ConnectorError(f"no entity {entity}")
        records = json.loads(path.read_text())
        assert isinstance(records, list)
        return records

    def entities(self, path: str | None = None) -> list[Entity]:
        return [Entity(p.stem, p.stem.title()) for p in sorted(self.directory.glob("*.json"))]

    def describe(self, entity: str) -> list[EntityField]:
        fields: dict[str, str] = {}
        for record in self._records(entity):
            for name, value in record.items():
                fields.setdefault(name, _TYPES.get(type(value), "string"))
        return [EntityField(name, data_type) for name, data_type in fields.items()]

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        records = self._records(request.entity)
        start = int(request.checkpoint or 0)
        for offset in range(start, len(records), request.page_size):
            end = offset + request.page_size
            yield Page(records[offset:end], min(end, len(records)))


def not_a_connector() -> None:
    """An entry point whose value is not a Connector class."""
