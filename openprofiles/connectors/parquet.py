"""Reading Parquet files as record streams (the Files connector), with pyarrow (the `parquet` extra).

A file is read a batch at a time within one row group at a time, so memory holds one row group's
column chunks and one batch of records, whatever the file's size. Field types come from the file's
schema. Values are delivered as JSON-friendly data (`values.plain`): timestamps as ISO 8601
(nanoseconds truncated to microseconds), decimals as strings, binary as base64, maps as [key, value]
pairs, structs as objects.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from openprofiles.connectors.base import ConnectorError, EntityField
from openprofiles.connectors.values import plain

PARQUET = "parquet"
#: Records converted to Python at a time.
BATCH_ROWS = 1024


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ConnectorError("reading Parquet files needs pyarrow: install OpenProfiles with the 'parquet' extra "
                             "(pip install 'openprofiles[parquet]')") from None
    return pyarrow, pyarrow.parquet


def _open(binary: io.BufferedReader, name: str) -> Any:
    pa, pq = _pyarrow()
    try:
        return pq.ParquetFile(binary)
    except (pa.ArrowException, OSError) as error:
        raise ConnectorError(f"{name}: not a readable Parquet file ({error})") from None


def _field_type(pa: Any, kind: Any) -> str:
    types = pa.types
    checks = [(types.is_boolean, "boolean"), (types.is_integer, "integer"), (types.is_floating, "double"),
              (types.is_decimal, "decimal"), (types.is_timestamp, "datetime"), (types.is_date, "date"),
              (types.is_struct, "struct"), (types.is_map, "list"), (types.is_list, "list"),
              (types.is_large_list, "list")]
    return next((name for check, name in checks if check(kind)), "string")


def describe_parquet(binary: io.BufferedReader, name: str) -> list[EntityField]:
    """The fields of the file's schema, with their types."""
    pa, _ = _pyarrow()
    with binary:
        schema = _open(binary, name).schema_arrow
        return [EntityField(field.name, _field_type(pa, field.type), label=field.name, nullable=field.nullable)
                for field in schema]


def parquet_records(binary: io.BufferedReader, name: str) -> Iterator[dict[str, Any]]:
    """The file's records in order, a batch at a time. Closes `binary` when done."""
    pa, _ = _pyarrow()
    with binary:
        parquet = _open(binary, name)
        schema = parquet.schema_arrow
        # Python datetimes hold microseconds: nanosecond timestamps are truncated to them.
        readable = pa.schema([field.with_type(pa.timestamp("us", field.type.tz))
                              if pa.types.is_timestamp(field.type) and field.type.unit == "ns" else field
                              for field in schema])
        try:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                if readable != schema:
                    batch = batch.cast(readable, safe=False)
                for row in batch.to_pylist():
                    yield {key: plain(value) for key, value in row.items()}
        except (pa.ArrowException, OSError) as error:
            raise ConnectorError(f"{name}: unreadable Parquet data ({error})") from None
