"""Reading record files (CSV, JSON Lines, JSON arrays) as streams, shared by the S3 and Files connectors.

Files are read through a buffered binary stream and never held whole in memory: CSV row by row,
JSON value by value. CSV values stay the strings the file holds (as AppFlow delivers them); JSON
values are delivered as parsed. `describe_file` infers field types from the first rows, and
`extract_pages` turns an ordered set of files into pages with resumable checkpoints.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any

from openprofiles.connectors.base import ConnectorError, EntityField, ExtractRequest, Page, UnreadableRecord
from openprofiles.connectors.parquet import PARQUET, describe_parquet, parquet_records
from openprofiles.connectors.times import later, parse_instant, within
from openprofiles.json_depth import MAX_DEPTH

CSV = "csv"
JSON = "json"
#: File name suffixes and the format they hold.
SUFFIXES = {".csv": CSV, ".json": JSON, ".jsonl": JSON, ".ndjson": JSON}
#: Bytes read from a source at a time.
CHUNK = 1 << 16
#: Rows sampled by `describe_file` to infer field types.
SAMPLE_ROWS = 100
#: A JSON value larger than this (or malformed) stops the read instead of buffering the whole file.
MAX_JSON_VALUE = 16 << 20

_INTEGER = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_DOUBLE = re.compile(r"[+-]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")
_NON_SPACE = re.compile(r"\S")
#: A JSON string (or an opening quote with no end in sight) or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]')


def declared_format(declared: str | None) -> str | None:
    """CSV or JSON from a declared file type (s3InputFileType, any case); None when not declared."""
    if not declared:
        return None
    if declared.lower() not in (CSV, JSON):
        raise ConnectorError(f"unsupported file type {declared!r}: expected CSV or JSON")
    return declared.lower()


def suffix_format(name: str) -> str | None:
    """CSV or JSON from a file name's suffix; None for other names."""
    dot = name.rfind(".")
    return SUFFIXES.get(name[dot:].lower()) if dot > name.rfind("/") else None


def _sniff(binary: io.BufferedReader) -> str:
    """JSON if the content starts with `{` or `[`, else CSV (without consuming anything)."""
    head = binary.peek(512)[:512].removeprefix(b"\xef\xbb\xbf").lstrip()
    return JSON if head[:1] in (b"{", b"[") else CSV


# --- reading -------------------------------------------------------------------------------------


def _csv_rows(reader: csv.DictReader[str], name: str) -> Iterator[dict[str, Any]]:
    for row in reader:
        if None in row:
            raise ConnectorError(f"{name}: line {reader.line_num} has more values than the header has columns")
        yield row


class _JsonValues:
    """The JSON values of a text stream, one at a time. A top-level array yields its elements; other
    values (JSON Lines, concatenated or pretty-printed objects) are yielded as they come."""

    def __init__(self, stream: io.TextIOBase, name: str) -> None:
        self._stream = stream
        self._name = name
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        """Append the next chunk (dropping what was consumed); False at the end of the stream. A chunk
        is as long as the unconsumed text, so a large value is decoded again only O(log size) times."""
        if self._eof:
            return False
        chunk = self._stream.read(max(CHUNK, len(self._buf) - self._pos))
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def _peek(self) -> str | None:
        """The next non-blank character, not consumed; None at the end."""
        while True:
            match = _NON_SPACE.search(self._buf, self._pos)
            if match:
                self._pos = match.start()
                return self._buf[self._pos]
            self._pos = len(self._buf)
            if not self._fill():
                return None

    def _value(self) -> Any:
        if self._peek() is None:
            raise ConnectorError(f"{self._name}: invalid JSON: unexpected end of file")
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except RecursionError:
                # Nested deeper than the decoder goes: skipped whole, for the run to keep as a dead letter.
                stop = _value_end(self._buf, self._pos)
                if stop is None:
                    if len(self._buf) - self._pos > MAX_JSON_VALUE:
                        raise ConnectorError(f"{self._name}: a value over {MAX_JSON_VALUE >> 20} MiB") from None
                    if not self._fill():
                        raise ConnectorError(f"{self._name}: invalid JSON: unexpected end of file") from None
                    continue
                text, self._pos = self._buf[self._pos : stop], stop
                return UnreadableRecord(text, f"{self._name}: the record is nested deeper than {MAX_DEPTH} levels; "
                                              f"records may nest objects and arrays at most {MAX_DEPTH} levels deep")
            except json.JSONDecodeError as error:
                if len(self._buf) - self._pos > MAX_JSON_VALUE:
                    raise ConnectorError(f"{self._name}: invalid JSON, or a value over {MAX_JSON_VALUE >> 20} MiB") from None
                if not self._fill():
                    raise ConnectorError(f"{self._name}: invalid JSON: {error.msg}") from None
                continue
            # A value ending with the buffer may go on in the next chunk (a number): decode it again.
            if end < len(self._buf) or not self._fill():
                self._pos = end
                return value

    def __iter__(self) -> Iterator[Any]:
        while (char := self._peek()) is not None:
            if char != "[":
                yield self._value()
                continue
            self._pos += 1
            if self._peek() == "]":
                self._pos += 1
                continue
            while True:
                yield self._value()
                char = self._peek()
                self._pos += 1
                if char == "]":
                    break
                if char != ",":
                    raise ConnectorError(f"{self._name}: invalid JSON: expected ',' or ']' in an array")


def _value_end(text: str, start: int) -> int | None:
    """Just after the object or array that opens at `start`, found by counting brackets outside
    strings (no recursion, whatever the depth); None when `text` ends first."""
    depth = 0
    for match in _TOKENS.finditer(text, start):
        token = match.group()
        if token[0] == '"':
            if len(token) == 1:  # a string that goes on past the end of `text`
                return None
            continue
        depth += 1 if token in "[{" else -1
        if depth == 0:
            return match.end()
    return None


def _json_records(stream: io.TextIOBase, name: str) -> Iterator[dict[str, Any]]:
    for number, value in enumerate(_JsonValues(stream, name), 1):
        if not isinstance(value, dict):
            raise ConnectorError(f"{name}: record {number} is not a JSON object")
        yield value


@contextmanager
def _reading(binary: io.BufferedReader, name: str) -> Iterator[io.TextIOWrapper]:
    """`binary` as UTF-8 text (closed at the end), with decoding and CSV errors as ConnectorError."""
    try:
        with io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as stream:
            yield stream
    except csv.Error as error:
        raise ConnectorError(f"{name}: invalid CSV: {error}") from None
    except UnicodeDecodeError:
        raise ConnectorError(f"{name}: not UTF-8 text") from None


def read_records(binary: io.BufferedReader, fmt: str | None, name: str) -> Iterator[dict[str, Any]]:
    """The records of one file, streamed; `fmt` None sniffs the content. Closes `binary` when done."""
    fmt = fmt or _sniff(binary)
    if fmt == PARQUET:
        yield from parquet_records(binary, name)
        return
    with _reading(binary, name) as stream:
        if fmt == CSV:
            yield from _csv_rows(csv.DictReader(stream), name)
        else:
            yield from _json_records(stream, name)


# --- describing ----------------------------------------------------------------------------------


def _kind(value: Any, textual: bool) -> str | None:
    """The type one value suggests (None for no value). `textual` values (CSV) may hold numbers and booleans."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "struct"
    if isinstance(value, list):
        return "list"
    text = str(value).strip()
    if textual:
        if _INTEGER.fullmatch(text):
            return "integer"
        if _DOUBLE.fullmatch(text):
            return "double"
        if text.lower() in ("true", "false"):
            return "boolean"
    try:
        if _DATE.fullmatch(text):
            date.fromisoformat(text)
            return "date"
        if _DATETIME.fullmatch(text):
            datetime.fromisoformat(text)
            return "datetime"
    except ValueError:
        pass
    return "string"


def _merge(kinds: set[str]) -> str:
    if len(kinds) == 1:
        return kinds.pop()
    if kinds == {"integer", "double"}:
        return "double"
    if kinds == {"date", "datetime"}:
        return "datetime"
    return "string"


def infer_fields(names: Sequence[str], rows: Sequence[dict[str, Any]], textual: bool) -> list[EntityField]:
    """One field per name, typed from the rows' values: integer, double, boolean, date, datetime,
    struct, list, or string when the values disagree or none is present."""
    fields = []
    for name in names:
        kinds = {kind for row in rows if (kind := _kind(row.get(name), textual)) is not None}
        fields.append(EntityField(name=name, data_type=_merge(kinds) if kinds else "string", label=name))
    return fields


def describe_file(binary: io.BufferedReader, fmt: str | None, name: str) -> list[EntityField]:
    """The fields of a file: the CSV header or the JSON keys (first seen first), typed from the first rows;
    a Parquet file's schema."""
    fmt = fmt or _sniff(binary)
    if fmt == PARQUET:
        return describe_parquet(binary, name)
    with _reading(binary, name) as stream:
        if fmt == CSV:
            reader = csv.DictReader(stream)
            rows = list(islice(_csv_rows(reader, name), SAMPLE_ROWS))
            return infer_fields(reader.fieldnames or [], rows, textual=True)
        rows = list(islice(_json_records(stream, name), SAMPLE_ROWS))
    names = list(dict.fromkeys(key for row in rows for key in row))
    return infer_fields(names, rows, textual=False)


# --- extracting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One file to extract: its key (the sort order and checkpoint name), modification time, format."""

    key: str
    modified: datetime
    format: str | None = None


Opener = Callable[[SourceFile], AbstractContextManager[io.BufferedReader]]


def _checkpoint(value: Any) -> tuple[str, int] | None:
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("key"), str) and isinstance(value.get("line"), int):
        return value["key"], value["line"]
    raise ConnectorError(f"invalid checkpoint {value!r}: expected {{'key': str, 'line': int}}")


def _within(moment: datetime | None, request: ExtractRequest) -> bool:
    """Whether a modification time is in [since, until); an unknown one only when there is no `since`."""
    return within(moment, request.since, request.until, unknown=request.since is None)


def _record_time(record: dict[str, Any], field: str, name: str, number: int) -> datetime | None:
    try:
        return parse_instant(record.get(field))
    except ValueError:
        raise ConnectorError(
            f"{name}: record {number} has {field}={record.get(field)!r}, not an ISO 8601 date or epoch time"
        ) from None


def extract_pages(files: Iterable[SourceFile], open_file: Opener, request: ExtractRequest) -> Iterator[Page]:
    """The records of `files` in key order, in pages of `request.page_size`.

    Incremental windows (`since` ≤ t < `until`) apply to each file's modification time, or, when
    `request.modified_field` is set, to that field of each record. A page's checkpoint is
    {"key": file key, "line": records of that file read so far}; a request carrying it skips them.
    """
    start = _checkpoint(request.checkpoint)
    by_record = request.modified_field
    records: list[dict[str, Any]] = []
    high: datetime | None = None
    position: dict[str, Any] = {}
    for file in sorted(files, key=lambda f: f.key):
        if start and file.key < start[0]:
            continue
        if not by_record and not _within(file.modified, request):
            continue
        skip = start[1] if start and file.key == start[0] else 0
        with open_file(file) as binary:
            for number, record in enumerate(read_records(binary, file.format, file.key), 1):
                if number <= skip:
                    continue
                position = {"key": file.key, "line": number}
                if isinstance(record, UnreadableRecord):  # its time is unknown: delivered, to be a dead letter
                    moment = None if by_record else file.modified
                else:
                    moment = _record_time(record, by_record, file.key, number) if by_record else file.modified
                    if by_record and not _within(moment, request):
                        continue
                records.append(record)
                high = later(high, moment)
                if len(records) >= request.page_size:
                    yield Page(records=records, checkpoint=position, high_water=high)
                    records, high = [], None
    if records:
        yield Page(records=records, checkpoint=position, high_water=high)
