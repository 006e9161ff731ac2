"""Any installed Singer tap as a flow source (an OpenProfiles connector).

A CustomConnector profile labelled "Singer" names the tap's executable (`profileProperties:
{"executable": "tap-postgres", "config": "{...}"}`), with secret configuration values in the custom
credentials. The tap's streams, from `--discover`, are the entities; a flow runs the tap for one
stream (selected in the catalog's metadata) and reads its SCHEMA, RECORD and STATE messages from
stdout line by line. STATE messages are the checkpoints of a run; an incremental run starts the tap
from a bookmark at the flow's last high-water mark. docs/connectors/singer.md has the details.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from openprofiles.connectors.base import (
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    Page,
)
from openprofiles.connectors.times import later, parse_instant, utc

#: Seconds a tap may take to discover its streams.
DISCOVER_TIMEOUT = 300
#: Characters of the tap's stderr quoted in an error.
STDERR_TAIL = 2000
#: Seconds a tap gets to exit after SIGTERM before it is killed.
STOP_GRACE = 5
#: Words in a failed tap's stderr that mean its source refused the credentials.
_AUTH_WORDS = re.compile(r"\b(401|403|unauthori[sz]ed|forbidden|authentication failed|invalid (api key|token|credentials)"
                         r"|access denied|bad credentials)\b", re.IGNORECASE)
_TIME_FORMATS = ("date-time", "date")


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


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - STDERR_TAIL))
        return handle.read().decode("utf-8", "replace").strip()


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
    """Streams of an installed Singer tap."""

    connector_type = "CustomConnector"
    label = "Singer"

    # The tap and its configuration.

    @property
    def executable(self) -> str:
        """The tap's program: an absolute path, or a name looked up on the server's PATH."""
        name = self.connection.properties.get("executable")
        if not name or not isinstance(name, str):
            raise ConnectorError("the connector profile needs an 'executable' property: the Singer tap to run")
        found = shutil.which(name)
        if found is None:
            raise ConnectorError(f"the Singer tap {name!r} is not an executable file or a program on the server's PATH")
        return found

    def config(self) -> dict[str, Any]:
        """The `config` property (a JSON object), with the custom credentials' values over it."""
        raw = self.connection.properties.get("config") or "{}"
        try:
            config = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            config = None
        if not isinstance(config, dict):
            raise ConnectorError("the 'config' property must be a JSON object: the tap's configuration")
        custom = self.connection.credentials.get("custom") or {}
        return {**config, **(custom.get("credentialsMap") or {})}

    @contextmanager
    def _files(self, **documents: Any) -> Iterator[dict[str, Path]]:
        """The config (and other documents) as JSON files only the server's user may read, removed after."""
        with tempfile.TemporaryDirectory(prefix="openprofiles-singer-") as directory:
            paths = {}
            for name, document in {"config": self.config(), **documents}.items():
                path = Path(directory, f"{name}.json")
                with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                    json.dump(document, handle)
                paths[name] = path
            yield paths

    def _failure(self, code: int, stderr: str, when: str) -> ConnectorError:
        message = f"the Singer tap exited with code {code} {when}: {stderr[-STDERR_TAIL:] or '(nothing on stderr)'}"
        return ConnectorAuthError(message) if _AUTH_WORDS.search(stderr) else ConnectorError(message)

    # Discovery.

    def catalog(self) -> list[dict[str, Any]]:
        """The streams of the tap's `--discover` catalog."""
        command = self.executable
        with self._files() as files:
            try:
                done = subprocess.run([command, "--config", str(files["config"]), "--discover"], capture_output=True,
                                      timeout=DISCOVER_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
            except subprocess.TimeoutExpired:
                raise ConnectorError(f"the Singer tap took over {DISCOVER_TIMEOUT}s to discover", transient=True) from None
            except OSError as error:
                raise ConnectorError(f"the Singer tap could not be started: {error.strerror}") from None
        if done.returncode != 0:
            raise self._failure(done.returncode, done.stderr.decode("utf-8", "replace").strip(), "in discovery")
        try:
            streams = json.loads(done.stdout)["streams"]
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
        with self._files(**documents) as files:
            command = [self.executable, "--config", str(files["config"]), "--catalog", str(files["catalog"])]
            if "state" in files:
                command += ["--state", str(files["state"])]
            yield from self._run(command, files["config"].parent / "stderr.log", request, key, position)

    def _run(self, command: list[str], stderr_path: Path, request: ExtractRequest, key: str | None,
             position: _Position) -> Iterator[Page]:
        """The pages of one run of the tap; the tap is stopped if the consumer stops early."""
        with stderr_path.open("wb") as stderr:
            try:
                process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
            except OSError as error:
                raise ConnectorError(f"the Singer tap could not be started: {error.strerror}") from None
        assert process.stdout is not None

        def finished() -> None:
            code = process.wait()
            if code != 0:
                raise self._failure(code, _tail(stderr_path), "during the run")

        try:
            yield from self._pages(process.stdout, request, key, position, finished)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.stdout.close()

    def _pages(self, stdout: IO[bytes], request: ExtractRequest, key: str | None, position: _Position,
               finished: Callable[[], None]) -> Iterator[Page]:
        """The stream's RECORDs in pages; STATE messages move the checkpoint. Records before `since`
        or from `until` on (by `key`) are read but not delivered. `finished` is called at the end of
        the output, before the last page."""
        since = None if request.since is None else utc(request.since)
        until = None if request.until is None else utc(request.until)
        records: list[dict[str, Any]] = []
        high: datetime | None = None
        for number, line in enumerate(stdout, 1):
            if not line.strip():
                continue
            try:
                message = json.loads(line)
                kind = message["type"]
            except (ValueError, KeyError, TypeError):
                raise ConnectorError(f"line {number} of the Singer tap's output is not a Singer message: "
                                     f"{line[:200].decode('utf-8', 'replace')!r}") from None
            if kind == "STATE":
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
        finished()
        if records:
            yield Page(records=records, checkpoint=position.checkpoint(), high_water=high)

    @staticmethod
    def _moment(record: Mapping[str, Any], key: str, number: int) -> datetime | None:
        try:
            return parse_instant(record.get(key))
        except ValueError:
            raise ConnectorError(f"line {number} of the Singer tap's output: {key}={record.get(key)!r} is not a "
                                 "date-time") from None
