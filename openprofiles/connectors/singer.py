"""An operator-allowed Singer tap as a flow source (an OpenProfiles connector).

A CustomConnector profile labelled "Singer" names one of the taps the operator allowed, by the name
the operator gave it (`--singer-tap NAME=PATH`; `profileProperties: {"executable": "tap-postgres",
"config": "{...}"}`), with secret configuration values in the custom credentials; the tap runs as
`singer_process` describes (clean environment, temporary directory, time and output limits). The
tap's streams, from `--discover`, are the entities; a flow runs the tap for one stream (selected in
the catalog's metadata) and reads its SCHEMA, RECORD and STATE messages from stdout line by line.
STATE messages are the checkpoints of a run; an incremental run starts the tap from a bookmark at
the flow's last high-water mark. docs/connectors/singer.md has the details.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openprofiles import json_depth
from openprofiles.connectors.base import (
    Connector,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    NotGranted,
    Page,
    UnreadableRecord,
)
from openprofiles.connectors.singer_process import Scrubber, TapProcess
from openprofiles.connectors.times import later, parse_instant, utc

#: Seconds a tap may take to discover its streams (or the operator's --singer-timeout, if shorter).
DISCOVER_TIMEOUT = 300
#: Bytes of catalog a tap's --discover may write (or the operator's --singer-max-output, if fewer).
CATALOG_MAX = 64 << 20
#: Brackets a line may hold to be decoded by Python's json (which recurses, but accepts the NaN and
#: big integers taps write); lines with more go to orjson, which does not recurse.
_PYTHON_JSON_BRACKETS = 400
_ENABLE = "the operator allows taps with --singer-tap NAME=PATH / OPENPROFILES_SINGER_TAPS"


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    alternatives = schema.get("anyOf") or schema.get("oneOf") or []
    return [t for alt in alternatives if isinstance(alt, Mapping) for t in _types(alt)]


def field_type(schema: Mapping[str, Any]) -> str:
    """The AppFlow field type of a JSON schema: date/datetime by format, else by its non-null type."""
    formats = {schema.get("format")} | {alt.get("format") for alt in schema.get("anyOf") or [] if isinstance(alt, Mapping)}
    if "date-time" in formats:
        return "datetime"
    if "date" in formats:
        return "date"
    kinds = [k for k in _types(schema) if k != "null"]
    names = {"integer": "integer", "number": "double", "boolean": "boolean", "object": "struct", "array": "list"}
    return names.get(kinds[0], "string") if len(set(kinds)) == 1 else "string"


def _metadata(stream: Mapping[str, Any], breadcrumb: list[str]) -> dict[str, Any]:
    for entry in stream.get("metadata") or []:
        if isinstance(entry, Mapping) and list(entry.get("breadcrumb") or []) == breadcrumb:
            return dict(entry.get("metadata") or {})
    return {}


def _set_metadata(stream: dict[str, Any], breadcrumb: list[str], **values: Any) -> None:
    entries = stream.setdefault("metadata", [])
    for entry in entries:
        if list(entry.get("breadcrumb") or []) == breadcrumb:
            entry.setdefault("metadata", {}).update(values)
            return
    entries.append({"breadcrumb": breadcrumb, "metadata": dict(values)})


def _stream_id(stream: Mapping[str, Any]) -> str:
    return str(stream.get("tap_stream_id") or stream.get("stream"))


def _decode(line: bytes) -> Any:
    """One line of a tap's output as JSON; json_depth.TooDeep beyond orjson's own depth limit."""
    if json_depth.may_exceed(line, _PYTHON_JSON_BRACKETS):
        return json_depth.loads(line, limit=None)
    return json.loads(line)


def _strings(value: Any) -> Iterator[str]:
    """The string values in a JSON document (iteratively)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack += item.values()
        elif isinstance(item, list):
            stack += item


@dataclass
class _Position:
    """Where a run is in its stream, and which records a resumed run passes over.

    With a replication key the tap emits records in ascending key order and, started from a STATE,
    emits again those at its bookmark: the checkpoint is {"state": the last STATE, "after": the key
    of the last record read, "ties": records read with that key}, and a resumed run skips the records
    before `after` and the first `ties` at it. Without one it is {"state": ..., "skip": records read
    since that STATE}, and a resumed run skips that many.
    """

    keyed: bool
    state: Any = None
    after: datetime | None = None
    ties: int = 0
    read: int = 0
    to_skip: int = 0
    skipping: bool = False

    @classmethod
    def resumed(cls, value: Any, keyed: bool) -> _Position:
        if value is None:
            return cls(keyed)
        if isinstance(value, dict) and "state" in value:
            if keyed and isinstance(value.get("ties"), int) and value["ties"] >= 0 and "after" in value:
                try:
                    after = parse_instant(value["after"])
                except ValueError:
                    after = None
                if after is not None or value["after"] is None:
                    return cls(True, value["state"], after, value["ties"], to_skip=value["ties"], skipping=True)
            if not keyed and isinstance(value.get("skip"), int) and value["skip"] >= 0:
                return cls(False, value["state"], to_skip=value["skip"])
        shape = "'after': the last key, 'ties': int" if keyed else "'skip': int"
        raise ConnectorError(f"invalid checkpoint {value!r}: expected {{'state': the tap's last STATE, {shape}}}")

    def on_state(self, value: Any) -> None:
        self.state = value
        if not self.keyed:
            self.read = self.to_skip = 0

    def _passed(self, moment: datetime | None) -> bool:
        """Whether a resumed run delivered this record before (resuming with a replication key)."""
        if self.after is None:
            before = moment is None
        elif moment is None or moment < self.after:
            return True
        else:
            before = moment == self.after
        if before and self.to_skip > 0:
            self.to_skip -= 1
            return True
        self.skipping = False
        return False

    def take(self, moment: datetime | None) -> bool:
        """Count a record read; False when it is one a resumed run passes over."""
        if not self.keyed:
            self.read += 1
            if self.to_skip:
                self.to_skip -= 1
                return False
            return True
        if self.skipping and self._passed(moment):
            return False
        self.after, self.ties = moment, (self.ties + 1 if moment == self.after else 1)
        return True

    def checkpoint(self) -> dict[str, Any]:
        if self.keyed:
            return {"state": self.state, "after": self.after.isoformat() if self.after else None, "ties": self.ties}
        return {"state": self.state, "skip": self.read}


class SingerConnector(Connector):
    """Streams of a Singer tap the operator allowed."""

    connector_type = "CustomConnector"
    label = "Singer"

    # The tap and its configuration.

    @property
    def executable(self) -> Path:
        """The tap's program: the one the operator allowed under the name the profile gives."""
        taps = self.connection.grants.singer_taps
        if not taps:
            raise NotGranted(f"the Singer connector is off: {_ENABLE}")
        name = self.connection.properties.get("executable")
        if not name or not isinstance(name, str):
            raise NotGranted(f"the connector profile needs an 'executable' property: the name of a Singer tap the "
                             f"operator allowed ({', '.join(sorted(taps))})")
        path = taps.get(name)
        if path is None:
            raise NotGranted(f"'executable' {name[:100]!r} is not a Singer tap the operator allowed (a name among "
                             f"{', '.join(sorted(taps))}, not a program or a path): {_ENABLE}")
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConnectorError(f"the Singer tap {name!r} the operator allowed is not an executable file on the server")
        return path

    def config(self) -> dict[str, Any]:
        """The `config` property (a JSON object), with the custom credentials' values over it."""
        raw = self.connection.properties.get("config") or "{}"
        try:
            config = json_depth.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            config = None
        if not isinstance(config, dict):
            raise ConnectorError("the 'config' property must be a JSON object: the tap's configuration")
        custom = self.connection.credentials.get("custom") or {}
        return {**config, **(custom.get("credentialsMap") or {})}

    @contextmanager
    def _tap(self, *arguments: str, discover: bool = False, **documents: Any) -> Iterator[TapProcess]:
        """The tap running with `--config CONFIG` and `arguments`, and `--NAME FILE` for each
        document, in a fresh directory holding those files (0600), removed afterwards."""
        executable, config, grants = self.executable, self.config(), self.connection.grants
        timeout, output = grants.singer_timeout, grants.singer_max_output
        if discover:
            timeout, output = min(timeout, DISCOVER_TIMEOUT), min(output, CATALOG_MAX)
        with tempfile.TemporaryDirectory(prefix="openprofiles-singer-") as directory:
            command: list[str] = []
            for name, document in {"config": config, **documents}.items():
                path = Path(directory, f"{name}.json")
                with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                    json.dump(document, handle)
                command += [f"--{name}", str(path)]
            with TapProcess(executable, [*command, *arguments], Path(directory), timeout=timeout, max_output=output,
                            scrub=Scrubber(_strings(config))) as tap:
                yield tap

    # Discovery.

    def catalog(self) -> list[dict[str, Any]]:
        """The streams of the tap's `--discover` catalog."""
        with self._tap("--discover", discover=True) as tap:
            output = tap.output("in discovery")
        try:
            streams = json_depth.loads(output)["streams"]
        except json_depth.TooDeep as error:
            raise ConnectorError(f"the Singer tap's catalog is {error}") from None
        except (ValueError, KeyError, TypeError):
            raise ConnectorError("the Singer tap's --discover output is not a catalog ({\"streams\": [...]})") from None
        if not isinstance(streams, list) or not all(isinstance(s, dict) and _stream_id(s) != "None" for s in streams):
            raise ConnectorError("the Singer tap's catalog has a stream without tap_stream_id")
        return streams

    def check(self) -> None:
        self.catalog()

    def entities(self, path: str | None = None) -> list[Entity]:
        if path:
            return []
        return [Entity(_stream_id(s), str(s.get("stream") or _stream_id(s))) for s in self.catalog()]

    def _stream(self, entity: str) -> dict[str, Any]:
        for stream in self.catalog():
            if _stream_id(stream) == entity:
                return stream
        raise ConnectorError(f"the Singer tap has no stream {entity!r}")

    def describe(self, entity: str) -> list[EntityField]:
        stream = self._stream(entity)
        properties = (stream.get("schema") or {}).get("properties") or {}
        return [EntityField(name, field_type(schema), label=name, description=schema.get("description"),
                            nullable="null" in _types(schema) or not _types(schema))
                for name, schema in properties.items() if isinstance(schema, Mapping)]

    # Records.

    @staticmethod
    def _replication_key(stream: Mapping[str, Any], request: ExtractRequest) -> str | None:
        """The record field an incremental run goes by: the flow's, or the stream's date-time one."""
        if request.modified_field:
            return request.modified_field
        top = _metadata(stream, [])
        keys = [top.get("replication-key"), *(top.get("valid-replication-keys") or []), stream.get("replication_key")]
        properties = (stream.get("schema") or {}).get("properties") or {}
        return next((k for k in keys if isinstance(k, str) and field_type(properties.get(k) or {}) in ("datetime", "date")),
                    None)

    @staticmethod
    def _selected(stream: Mapping[str, Any], key: str | None, fields: list[str] | None) -> dict[str, Any]:
        """The catalog that selects this stream (and the projected fields), incremental by `key`."""
        chosen = copy.deepcopy(dict(stream))
        chosen.setdefault("schema", {})["selected"] = True
        _set_metadata(chosen, [], selected=True, **(
            {"replication-method": "INCREMENTAL", "replication-key": key} if key else {"replication-method": "FULL_TABLE"}))
        for name in (chosen["schema"].get("properties") or {}):
            wanted = fields is None or name in fields or name == key
            if _metadata(chosen, ["properties", name]).get("inclusion") != "unsupported":
                _set_metadata(chosen, ["properties", name], selected=wanted)
        return {"streams": [chosen]}

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """Runs the tap for the entity's stream; a page's checkpoint is {"state": the last STATE value,
        "skip": the stream's records read since it}, and a resumed run starts the tap from that state."""
        stream = self._stream(request.entity)
        key = self._replication_key(stream, request)
        position = _Position.resumed(request.checkpoint, key is not None)
        if position.state is None and key and request.since is not None:
            since = request.since.astimezone(UTC).isoformat().replace("+00:00", "Z")
            position.state = {"bookmarks": {request.entity: {key: since}}}
        documents: dict[str, Any] = {"catalog": self._selected(stream, key, list(request.fields) if request.fields else None)}
        if position.state is not None:
            documents["state"] = position.state
        with self._tap(**documents) as tap:
            yield from self._pages(tap, request, key, position)

    def _pages(self, tap: TapProcess, request: ExtractRequest, key: str | None, position: _Position) -> Iterator[Page]:
        """The stream's RECORDs in pages; STATE messages move the checkpoint. Records before `since`
        or from `until` on (by `key`) are read but not delivered. The tap's exit is checked at the
        end of its output, before the last page."""
        since = None if request.since is None else utc(request.since)
        until = None if request.until is None else utc(request.until)
        records: list[dict[str, Any]] = []
        high: datetime | None = None
        for number, line in enumerate(tap.lines("during the run"), 1):
            if not line.strip():
                continue
            try:
                message = _decode(line)
                kind = message["type"]
            except json_depth.TooDeep as error:
                # Not decodable at all: a dead letter, counted where the record before it was.
                if position.take(position.after):
                    records.append(UnreadableRecord(line.decode("utf-8", "replace"),
                                                    f"line {number} of the Singer tap's output is {error}"))
                continue
            except (ValueError, KeyError, TypeError):
                raise ConnectorError(f"line {number} of the Singer tap's output is not a Singer message: "
                                     f"{tap.quote(line)!r}") from None
            if kind == "STATE":
                if json_depth.depth_beyond(message.get("value")) is not None:
                    raise ConnectorError(f"line {number} of the Singer tap's output: a STATE nested deeper than "
                                         f"{json_depth.MAX_DEPTH} levels")
                position.on_state(message.get("value"))
                continue
            if kind != "RECORD" or message.get("stream") != request.entity:
                continue
            record = message.get("record")
            if not isinstance(record, dict):
                raise ConnectorError(f"line {number} of the Singer tap's output: RECORD without a record object")
            moment = self._moment(record, key, number) if key else None
            if not position.take(moment):
                continue
            outside = key is not None and ((since is not None and (moment is None or moment < since)) or (
                until is not None and moment is not None and moment >= until))
            if not outside:
                records.append(record)
                high = later(high, moment)
            if len(records) >= request.page_size:
                yield Page(records=records, checkpoint=position.checkpoint(), high_water=high)
                records, high = [], None
        if records:
            yield Page(records=records, checkpoint=position.checkpoint(), high_water=high)

    @staticmethod
    def _moment(record: Mapping[str, Any], key: str, number: int) -> datetime | None:
        try:
            return parse_instant(record.get(key))
        except ValueError:
            raise ConnectorError(f"line {number} of the Singer tap's output: {key}={record.get(key)!r} is not a "
                                 "date-time") from None
