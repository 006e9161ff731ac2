"""connectors/parquet.py: Parquet files as typed fields and JSON-friendly records, a batch at a time."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openprofiles.connectors import parquet
from openprofiles.connectors.base import ConnectorError
from openprofiles.connectors.parquet import describe_parquet, parquet_records

SCHEMA = pa.schema([
    pa.field("flag", pa.bool_()), pa.field("n", pa.int64(), nullable=False), pa.field("x", pa.float64()),
    pa.field("price", pa.decimal128(6, 2)), pa.field("at", pa.timestamp("ns", "UTC")), pa.field("day", pa.date32()),
    pa.field("address", pa.struct([("city", pa.string())])), pa.field("tags", pa.list_(pa.string())),
    pa.field("attrs", pa.map_(pa.string(), pa.int32())), pa.field("blob", pa.binary()), pa.field("name", pa.string()),
])


def write(path: Path, rows: int, row_group_size: int = 3) -> Path:
    table = pa.table({
        "flag": [i % 2 == 0 for i in range(rows)], "n": list(range(rows)), "x": [i / 2 for i in range(rows)],
        "price": [Decimal(f"{i}.05") for i in range(rows)],
        "at": pa.array([1_704_067_200_000_000_123 + i for i in range(rows)], pa.timestamp("ns", "UTC")),
        "day": [date(2024, 1, 1 + i % 28) for i in range(rows)], "address": [{"city": f"c{i}"} for i in range(rows)],
        "tags": [["a", str(i)] for i in range(rows)], "attrs": [[("k", i)] for i in range(rows)],
        "blob": [b"\x00" for _ in range(rows)], "name": [None if i == 1 else f"n{i}" for i in range(rows)],
    }, schema=SCHEMA)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def test_describe_gives_the_schema_types(tmp_path: Path) -> None:
    fields = describe_parquet(write(tmp_path / "f.parquet", 2).open("rb"), "f.parquet")
    assert [(f.name, f.data_type) for f in fields] == [
        ("flag", "boolean"), ("n", "integer"), ("x", "double"), ("price", "decimal"), ("at", "datetime"),
        ("day", "date"), ("address", "struct"), ("tags", "list"), ("attrs", "list"), ("blob", "string"),
        ("name", "string")]
    assert [f.nullable for f in fields][:2] == [True, False]


def test_records_are_json_friendly_and_nanoseconds_truncated(tmp_path: Path) -> None:
    records = list(parquet_records(write(tmp_path / "f.parquet", 2).open("rb"), "f.parquet"))
    assert records[0] == {
        "flag": True, "n": 0, "x": 0.0, "price": "0.05", "at": datetime(2024, 1, 1, tzinfo=UTC).isoformat(),
        "day": "2024-01-01", "address": {"city": "c0"}, "tags": ["a", "0"], "attrs": [["k", 0]], "blob": "AA==",
        "name": "n0"}
    assert records[1]["name"] is None


def test_records_stream_across_row_groups_and_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet, "BATCH_ROWS", 2)
    binary = write(tmp_path / "f.parquet", 11, row_group_size=4).open("rb")
    assert [r["n"] for r in parquet_records(binary, "f.parquet")] == list(range(11))
    assert binary.closed


def test_a_file_that_is_not_parquet_is_a_connector_error(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ConnectorError, match=r"^f\.parquet: not a readable Parquet file"):
        describe_parquet(path.open("rb"), "f.parquet")
    with pytest.raises(ConnectorError, match="not a readable Parquet file"):
        list(parquet_records(io.BufferedReader(io.BytesIO(b"PAR1")), "g.parquet"))  # type: ignore[arg-type]
