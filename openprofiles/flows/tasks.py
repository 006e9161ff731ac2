"""AppFlow tasks compiled into a per-record pipeline.

`compile_tasks(tasks, connector_type)` validates the wire `tasks` of a CreateFlow request and
returns a `TaskPipeline`; `TaskPipeline.apply(record)` gives `Output`, `Filtered`, `Dropped` or
`Terminated`.
AWS documents the task shapes but little of their behaviour; where it is silent this module follows
the AWS-authored cdk-appflow constructs. docs/flows.md is the long form of what follows.

Validation: errors name the task by its 1-based position, as AWS validation messages do
(`tasks.3.taskProperties.MASK_LENGTH must be a positive integer`). The connectorOperator member must
be the source connector's (`ServiceNow` for `Servicenow`), its operator one of that member's model
enum and fit for the task type. A missing connectorOperator means NO_OP.

One record goes through four stages:

1. Record filters (Filter with a comparison operator) test the raw source record; a connector may
   push `record_filters` down to its query and the result is the same. A null or unparsable value
   fails every filter. VALUES (comma-joined) match when any value does; NOT_EQUAL_TO with VALUES
   means "none of"; BETWEEN is inclusive; CONTAINS is a case-insensitive substring test.
2. Projection: the union of the PROJECTION filters' sourceFields, or every field without one.
3. Source checks and edits: Validate, and Mask/Truncate whose destinationField is absent or its own
   source field, on a field that no task derives, run here in listed order, so every Map of that
   field sees the edited value (cdk-appflow lists them after the Maps). A field is derived when a
   Merge or Arithmetic writes it, or a Map, Passthrough, Mask or Truncate writes it from another field.
4. Every other task, in listed order, over a working record: the projected source plus the fields
   written so far. A field neither projected nor written earlier cannot be read (checked when the
   flow has a projection).

The output holds the fields written by Map, Map_all, Passthrough, Merge and Arithmetic, and by Mask
and Truncate that name a destinationField, except temporaries: derived fields written only by Merge,
Arithmetic, Mask or Truncate that a later task reads to write another field (cdk-appflow's `"a,b"`
fields). Partition is accepted and ignored.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache, partial
from typing import Any, Protocol, TypeAlias

import botocore.session

from openprofiles import json_depth
from openprofiles.connectors.base import RecordFilter
from openprofiles.errors import Invalid

Record: TypeAlias = dict[str, Any]

# --- the model -----------------------------------------------------------------------------------


@cache
def _model() -> Any:
    return botocore.session.get_session().get_service_model("appflow")


@cache
def _enum(shape: str) -> frozenset[str]:
    return frozenset(_model().shape_for(shape).enum)


@cache
def connector_operators() -> dict[str, frozenset[str]]:
    """Each ConnectorOperator member (`Salesforce`, `ServiceNow`, …) with its operator enum."""
    return {name: frozenset(member.enum) for name, member in _model().shape_for("ConnectorOperator").members.items()}


def connector_key(connector_type: str) -> str:
    """The ConnectorOperator member of a source connector type (`Servicenow` → `ServiceNow`)."""
    for key in connector_operators():
        if key.lower() == connector_type.lower():
            return key
    raise Invalid(f"Connector type {connector_type!r} cannot be a flow source: it has no task operators")


# --- values --------------------------------------------------------------------------------------


class DataType(StrEnum):
    """The value families behind AppFlow's data type names."""

    STRING = "string"
    INTEGER = "integer"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIMESTAMP = "timestamp"


_DATA_TYPES: dict[str, DataType] = {
    **dict.fromkeys(("string", "str", "text", "varchar", "char"), DataType.STRING),
    **dict.fromkeys(("integer", "int", "long", "short", "byte", "bigint"), DataType.INTEGER),
    **dict.fromkeys(("double", "float", "decimal", "number", "currency", "percent"), DataType.DOUBLE),
    **dict.fromkeys(("boolean", "bool"), DataType.BOOLEAN),
    "date": DataType.DATE,
    "datetime": DataType.DATETIME,
    "timestamp": DataType.TIMESTAMP,
}
_TEMPORAL = frozenset({DataType.DATE, DataType.DATETIME, DataType.TIMESTAMP})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = re.compile(r"[+-]?\d+(\.\d*)?")


def _data_type(name: str | None) -> DataType | None:
    """The family of a data type name (case-insensitive); None when absent or not recognised."""
    return _DATA_TYPES.get(name.lower()) if name else None


def _number(value: Any) -> Decimal:
    """A finite number from a number or a numeric string; booleans are not numbers."""
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a number") from None
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        raise ValueError("not a number")
    if not number.is_finite():
        raise ValueError("not a number")
    return number


def _maybe_number(value: Any) -> Decimal | None:
    try:
        return _number(value)
    except ValueError:
        return None


def _integer(value: Any) -> int:
    number = _number(value)
    if number != number.to_integral_value():
        raise ValueError("not an integer")
    return int(number)


def _double(value: Any) -> float:
    return float(_number(value))


def _boolean(value: Any) -> bool:
    """true/false or 1/0, as booleans, numbers or strings (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("not a boolean")


def _instant(value: Any) -> datetime:
    """A UTC datetime from epoch milliseconds (number or numeric string) or ISO 8601 (no zone = UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and not _NUMERIC.fullmatch(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("not a timestamp (epoch milliseconds or ISO 8601)") from None
    else:
        try:
            return _EPOCH + timedelta(milliseconds=int(_number(value)))
        except (ValueError, OverflowError):
            raise ValueError("not a timestamp (epoch milliseconds or ISO 8601)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _date(value: Any) -> date:
    """A calendar date from an ISO date, or the UTC date of a timestamp."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    try:
        return _instant(value).date()
    except ValueError:
        raise ValueError("not a date") from None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


_CONVERT: dict[DataType, Callable[[Any], Any]] = {
    DataType.STRING: _string,
    DataType.INTEGER: _integer,
    DataType.DOUBLE: _double,
    DataType.BOOLEAN: _boolean,
    DataType.DATE: lambda value: _date(value).isoformat(),
    DataType.DATETIME: lambda value: _iso(_instant(value)),
    DataType.TIMESTAMP: lambda value: _epoch_ms(_instant(value)),
}

_COMPARABLE: dict[DataType, Callable[[Any], Any]] = {
    DataType.STRING: _string,
    DataType.INTEGER: _number,
    DataType.DOUBLE: _number,
    DataType.BOOLEAN: _boolean,
    DataType.DATE: _date,
    DataType.DATETIME: lambda value: _epoch_ms(_instant(value)),
    DataType.TIMESTAMP: lambda value: _epoch_ms(_instant(value)),
}


def _convert(value: Any, source: DataType | None, destination: DataType | None) -> Any:
    """A Map's conversion: to the destination family; a temporal source written as a string is ISO 8601."""
    if value is None or destination is None:
        return value
    if destination is DataType.STRING and source in _TEMPORAL:
        destination = DataType.DATE if source is DataType.DATE else DataType.DATETIME
    return _CONVERT[destination](value)


# --- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """The record to load: destination field → value."""

    record: Record


@dataclass(frozen=True)
class Dropped:
    """The record is skipped (a filter rejected it, or a DropRecord validation failed); the run goes on."""

    reason: str


@dataclass(frozen=True)
class Filtered(Dropped):
    """A record filter rejected the record: the run skips it, and it is not a failure."""


@dataclass(frozen=True)
class Terminated:
    """A validation whose action terminates the run failed: the run must stop."""

    reason: str


TaskOutcome: TypeAlias = Output | Filtered | Dropped | Terminated


class _Drop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Halt(_Drop):
    """A terminating validation failed."""


# --- record filters ------------------------------------------------------------------------------

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "LESS_THAN": operator.lt,
    "LESS_THAN_OR_EQUAL_TO": operator.le,
    "GREATER_THAN": operator.gt,
    "GREATER_THAN_OR_EQUAL_TO": operator.ge,
}
_COMPARISONS = frozenset({*_ORDERINGS, "EQUAL_TO", "NOT_EQUAL_TO", "CONTAINS", "BETWEEN"})


def _satisfies(comparison: str, subject: Any, operands: tuple[Any, ...]) -> bool:
    if comparison == "BETWEEN":
        low, high = operands
        return bool(low <= subject <= high)
    if comparison == "EQUAL_TO":
        return any(subject == value for value in operands)
    if comparison == "NOT_EQUAL_TO":
        return all(subject != value for value in operands)
    if comparison == "CONTAINS":
        return any(value.casefold() in subject.casefold() for value in operands)
    return any(_ORDERINGS[comparison](subject, value) for value in operands)


@dataclass(frozen=True)
class _Filter:
    where: str
    spec: RecordFilter
    family: DataType
    operands: tuple[Any, ...]

    def reject(self, record: Mapping[str, Any]) -> str | None:
        """Why the record fails this filter, or None when it passes."""
        value = record.get(self.spec.field)
        try:
            passes = value is not None and _satisfies(self.spec.operator, _COMPARABLE[self.family](value), self.operands)
        except ValueError:
            passes = False
        values = ",".join(self.spec.values)
        return None if passes else f"{self.where} (Filter): {self.spec.field} {self.spec.operator} {values} not satisfied"


# --- steps ---------------------------------------------------------------------------------------


@dataclass
class _Work:
    values: Record
    source_fields: tuple[str, ...]
    written: dict[str, None] = field(default_factory=dict)

    def write(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.written[name] = None


class _Step(Protocol):
    def run(self, work: _Work) -> None: ...


@dataclass(frozen=True)
class _MapStep:
    """Map (with conversion) and Passthrough (without): copy one field; an absent source writes nothing."""

    where: str
    source: str
    destination: str
    source_type: DataType | None = None
    destination_type: DataType | None = None

    def run(self, work: _Work) -> None:
        if self.source not in work.values:
            return
        try:
            value = _convert(work.values[self.source], self.source_type, self.destination_type)
        except ValueError as error:
            raise _Drop(f"{self.where} (Map): {self.source} is {error}") from None
        work.write(self.destination, value)


@dataclass(frozen=True)
class _MapAllStep:
    excluded: frozenset[str]

    def run(self, work: _Work) -> None:
        for name in work.source_fields:
            if name not in self.excluded:
                work.write(name, work.values[name])


_ARITHMETIC: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "ADDITION": operator.add,
    "SUBTRACTION": operator.sub,
    "MULTIPLICATION": operator.mul,
    "DIVISION": operator.truediv,
}


@dataclass(frozen=True)
class _ArithmeticStep:
    """`left <op> right`; a null operand gives null; integral results are ints, others floats."""

    where: str
    operation: str
    operands: tuple[str, str]
    destination: str

    def run(self, work: _Work) -> None:
        values = [work.values.get(name) for name in self.operands]
        if None in values:
            work.write(self.destination, None)
            return
        left, right = (self._number(name, value) for name, value in zip(self.operands, values, strict=True))
        if self.operation == "DIVISION" and right == 0:
            raise _Drop(f"{self.where} (Arithmetic): division by zero ({self.operands[1]} is 0)")
        result = _ARITHMETIC[self.operation](left, right)
        work.write(self.destination, int(result) if result == result.to_integral_value() else float(result))

    def _number(self, name: str, value: Any) -> Decimal:
        try:
            return _number(value)
        except ValueError:
            raise _Drop(f"{self.where} (Arithmetic): {name} is not a number") from None


_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class _MergeStep:
    """`${field}` placeholders filled in (null = empty), or the non-empty values joined by a space."""

    sources: tuple[str, ...]
    destination: str
    template: str | None

    def run(self, work: _Work) -> None:
        texts = {name: "" if work.values.get(name) is None else _string(work.values[name]) for name in self.sources}
        if self.template is None:
            merged = " ".join(text for text in texts.values() if text)
        else:
            merged = _PLACEHOLDER.sub(lambda match: texts[match.group(1)], self.template)
        work.write(self.destination, merged)


def _mask(text: str, operation: str, length: int, char: str) -> str:
    if operation == "MASK_ALL":
        return char * len(text)
    count = min(length, len(text))
    if operation == "MASK_FIRST_N":
        return char * count + text[count:]
    return text[: len(text) - count] + char * count


def _truncate(text: str, length: int) -> str:
    return text[:length]


@dataclass(frozen=True)
class _EditStep:
    """Mask and Truncate: edit the string form of a field, in place (no destination) or into a destination."""

    source: str
    destination: str | None
    edit: Callable[[str], str]

    def run(self, work: _Work) -> None:
        if self.source not in work.values:
            return
        value = work.values[self.source]
        edited = None if value is None else self.edit(_string(value))
        if self.destination is None:
            work.values[self.source] = edited
        else:
            work.write(self.destination, edited)


_VALIDATIONS: dict[str, Callable[[Any], bool]] = {
    "VALIDATE_NON_NULL": lambda value: value is not None and value != "",
    "VALIDATE_NON_ZERO": lambda value: _maybe_number(value) != 0,
    "VALIDATE_NON_NEGATIVE": lambda value: (number := _maybe_number(value)) is None or number >= 0,
    "VALIDATE_NUMERIC": lambda value: _maybe_number(value) is not None,
}
_VALIDATION_ACTIONS = {"DropRecord": False, "DropDataset": True, "TerminateFlow": True}


@dataclass(frozen=True)
class _ValidateStep:
    where: str
    source: str
    check: str
    terminate: bool

    def run(self, work: _Work) -> None:
        if not _VALIDATIONS[self.check](work.values.get(self.source)):
            reason = f"{self.where} (Validate): {self.source} failed {self.check}"
            raise _Halt(reason) if self.terminate else _Drop(reason)


# --- the pipeline --------------------------------------------------------------------------------


class TaskPipeline:
    """The compiled tasks of one flow; `apply` runs them on one source record."""

    def __init__(
        self,
        projected_fields: tuple[str, ...] | None,
        filters: Sequence[_Filter],
        steps: Sequence[_Step],
        temporaries: frozenset[str],
    ) -> None:
        #: The fields carried forward (PROJECTION), or None for every field.
        self.projected_fields = projected_fields
        #: The record filters, in listed order, for a connector to push down.
        self.record_filters = tuple(f.spec for f in filters)
        self._filters = tuple(filters)
        self._steps = tuple(steps)
        self._temporaries = temporaries

    def apply(self, record: Mapping[str, Any]) -> TaskOutcome:
        for record_filter in self._filters:
            reason = record_filter.reject(record)
            if reason is not None:
                return Filtered(reason)
        fields = self.projected_fields or tuple(record)
        source = {name: record[name] for name in fields if name in record}
        work = _Work(source, tuple(source))
        try:
            for step in self._steps:
                step.run(work)
        except _Halt as halt:
            return Terminated(halt.reason)
        except _Drop as drop:
            return Dropped(drop.reason)
        return Output({name: work.values[name] for name in work.written if name not in self._temporaries})


# --- compiling -----------------------------------------------------------------------------------

_NO_OP = frozenset({"NO_OP"})
#: Operators each task type accepts; None = any (Partition is ignored).
_TASK_OPERATORS: dict[str, frozenset[str] | None] = {
    "Filter": frozenset({"PROJECTION", *_COMPARISONS}),
    "Arithmetic": frozenset(_ARITHMETIC),
    "Mask": frozenset({"MASK_ALL", "MASK_FIRST_N", "MASK_LAST_N"}),
    "Validate": frozenset(_VALIDATIONS),
    "Partition": None,
    **dict.fromkeys(("Map", "Map_all", "Merge", "Passthrough", "Truncate"), _NO_OP),
}
#: (fewest, most) sourceFields per task type; None = no upper limit.
_SOURCE_COUNTS: dict[str, tuple[int, int | None]] = {
    "Filter": (1, None),
    "Map": (1, 1),
    "Map_all": (0, 0),
    "Passthrough": (1, 1),
    "Merge": (1, None),
    "Arithmetic": (2, 2),
    "Mask": (1, 1),
    "Truncate": (1, 1),
    "Validate": (1, 1),
    "Partition": (0, None),
}
_RENAMERS = frozenset({"Map", "Passthrough", "Mask", "Truncate"})
_COMPUTERS = frozenset({"Merge", "Arithmetic"})


@dataclass(frozen=True)
class _Task:
    where: str
    type: str
    operator: str
    sources: tuple[str, ...]
    destination: str | None
    properties: Mapping[str, str]

    def invalid(self, member: str, message: str) -> Invalid:
        return Invalid(f"{self.where}.{member} {message}")

    def required(self, key: str) -> str:
        value = self.properties.get(key)
        if value is None:
            raise self.invalid(f"taskProperties.{key}", f"is required for {self.type} {self.operator}")
        return value

    def positive_int(self, key: str) -> int:
        try:
            number = int(self.required(key))
        except ValueError:
            number = 0
        if number < 1:
            raise self.invalid(f"taskProperties.{key}", "must be a positive integer")
        return number


def _parse_task(position: int, raw: Any, connector: str) -> _Task:
    where = f"tasks.{position}"
    if not isinstance(raw, Mapping):
        raise Invalid(f"{where} must be an object")
    task_type = raw.get("taskType")
    if not isinstance(task_type, str) or task_type not in _TASK_OPERATORS:
        raise Invalid(f"{where}.taskType must be one of {', '.join(_TASK_OPERATORS)}")
    destination = raw.get("destinationField") or None
    if destination is not None and not isinstance(destination, str):
        raise Invalid(f"{where}.destinationField must be a string")
    return _Task(
        where,
        task_type,
        _operator(where, raw.get("connectorOperator"), task_type, connector),
        _source_fields(where, raw.get("sourceFields"), task_type),
        destination,
        _properties(where, raw.get("taskProperties")),
    )


def _source_fields(where: str, raw: Any, task_type: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise Invalid(f"{where}.sourceFields must be a list of field names")
    for index, name in enumerate(raw, 1):
        if not isinstance(name, str) or not name:
            raise Invalid(f"{where}.sourceFields.{index} must be a non-empty field name")
    fewest, most = _SOURCE_COUNTS[task_type]
    if most == 0 and raw:
        raise Invalid(f"{where}.sourceFields must be empty for taskType {task_type}")
    if len(raw) < fewest or (most is not None and len(raw) > most):
        rule = f"exactly {fewest}" if fewest == most else f"at least {fewest}"
        raise Invalid(f"{where}.sourceFields must list {rule} field{'s' if fewest > 1 else ''} for taskType {task_type}")
    return tuple(raw)


def _operator(where: str, raw: Any, task_type: str, connector: str) -> str:
    allowed = _TASK_OPERATORS[task_type]
    if raw is None:
        if allowed is None or "NO_OP" in allowed:
            return "NO_OP"
        raise Invalid(f"{where}.connectorOperator is required for taskType {task_type}")
    members = {key: value for key, value in raw.items() if value is not None} if isinstance(raw, Mapping) else {}
    if len(members) != 1:
        raise Invalid(f"{where}.connectorOperator must set exactly one member, {connector}")
    ((key, name),) = members.items()
    if key != connector:
        raise Invalid(f"{where}.connectorOperator.{key} does not match the source connector; use {connector}")
    if not isinstance(name, str) or name not in connector_operators()[connector]:
        raise Invalid(f"{where}.connectorOperator.{key} {name!r} is not an operator of the {connector} connector")
    if allowed is not None and name not in allowed:
        raise Invalid(f"{where}.connectorOperator.{key} {name} is not valid for taskType {task_type}; use one of {', '.join(sorted(allowed))}")
    return name


def _properties(where: str, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise Invalid(f"{where}.taskProperties must be a map of strings")
    keys = _enum("OperatorPropertiesKeys")
    for key, value in raw.items():
        if key not in keys:
            raise Invalid(f"{where}.taskProperties.{key} is not a task property key")
        if not isinstance(value, str) or not value:
            raise Invalid(f"{where}.taskProperties.{key} must be a non-empty string")
    return dict(raw)


def _destination(task: _Task) -> str:
    """Where a writing task writes; unnamed Merge/Arithmetic results go to `"a,b"` (cdk-appflow)."""
    if task.destination:
        return task.destination
    if task.type == "Merge":
        return ",".join(task.sources)
    if task.type == "Arithmetic":
        return ",".join(_operands(task))
    return task.sources[0]


def _writes(task: _Task) -> str | None:
    """The output field a task writes, if any (an in-place Mask/Truncate writes none)."""
    if task.type in _COMPUTERS or task.type in ("Map", "Passthrough"):
        return _destination(task)
    return task.destination if task.type in ("Mask", "Truncate") else None


def _derives(task: _Task) -> str | None:
    """The field a task derives: a Merge/Arithmetic result, or a copy or edit under another name."""
    written = _writes(task)
    if written is None or (task.type in _RENAMERS and written == task.sources[0]):
        return None
    return written


def _is_source_edit(task: _Task, derived: frozenset[str]) -> bool:
    """Whether a task checks or edits a source field in place, so runs before the mapping tasks."""
    if task.type not in ("Validate", "Mask", "Truncate") or task.sources[0] in derived:
        return False
    return task.type == "Validate" or task.destination in (None, task.sources[0])


def _operands(task: _Task) -> tuple[str, ...]:
    order = task.properties.get("MATH_OPERATION_FIELDS_ORDER")
    operands = tuple(name.strip() for name in order.split(",")) if order else task.sources
    if sorted(operands) != sorted(task.sources):
        raise task.invalid("taskProperties.MATH_OPERATION_FIELDS_ORDER", f"must name the two sourceFields, e.g. {','.join(task.sources)!r}")
    return operands


def _record_filter(task: _Task) -> _Filter:
    if len(task.sources) != 1:
        raise task.invalid("sourceFields", f"must list exactly 1 field for a {task.operator} filter")
    declared = task.required("DATA_TYPE")
    family = DataType.STRING if task.operator == "CONTAINS" else _data_type(declared) or DataType.STRING
    if family is DataType.BOOLEAN and task.operator not in ("EQUAL_TO", "NOT_EQUAL_TO"):
        raise task.invalid("taskProperties.DATA_TYPE", f"boolean values cannot be compared with {task.operator}")
    if task.operator == "BETWEEN":
        texts = [("LOWER_BOUND", task.required("LOWER_BOUND")), ("UPPER_BOUND", task.required("UPPER_BOUND"))]
    elif "VALUES" in task.properties:
        texts = [("VALUES", text.strip()) for text in task.properties["VALUES"].split(",")]
    elif "VALUE" in task.properties:
        texts = [("VALUE", task.properties["VALUE"])]
    else:
        raise task.invalid("taskProperties.VALUE", f"or VALUES is required for Filter {task.operator}")
    operands = tuple(_operand(task, family, key, text) for key, text in texts)
    if task.operator == "BETWEEN" and operands[0] > operands[1]:
        raise task.invalid("taskProperties.LOWER_BOUND", "must not exceed UPPER_BOUND")
    spec = RecordFilter(task.sources[0], task.operator, tuple(text for _, text in texts), declared)
    return _Filter(task.where, spec, family, operands)


def _operand(task: _Task, family: DataType, key: str, text: str) -> Any:
    try:
        return Decimal(_integer(text)) if family is DataType.INTEGER else _COMPARABLE[family](text)
    except ValueError as error:
        raise task.invalid(f"taskProperties.{key}", f"{text!r} is {error}") from None


def _map(task: _Task) -> _Step:
    source_type, destination_type = (
        (_data_type(task.properties.get("SOURCE_DATA_TYPE")), _data_type(task.properties.get("DESTINATION_DATA_TYPE")))
        if task.type == "Map"
        else (None, None)
    )
    return _MapStep(task.where, task.sources[0], _destination(task), source_type, destination_type)


def _map_all(task: _Task) -> _Step:
    try:
        excluded = json_depth.loads(task.properties.get("EXCLUDE_SOURCE_FIELDS_LIST", "[]"), limit=1)
    except ValueError:  # not JSON, or nested (json_depth.TooDeep)
        excluded = None
    if not isinstance(excluded, list) or not all(isinstance(name, str) for name in excluded):
        raise task.invalid("taskProperties.EXCLUDE_SOURCE_FIELDS_LIST", 'must be a JSON list of field names, e.g. ["a","b"]')
    return _MapAllStep(frozenset(excluded))


def _merge(task: _Task) -> _Step:
    template = task.properties.get("CONCAT_FORMAT")
    unknown = sorted(set(_PLACEHOLDER.findall(template or "")) - set(task.sources))
    if unknown:
        raise task.invalid("taskProperties.CONCAT_FORMAT", f"names ${{{unknown[0]}}}, which is not one of the sourceFields")
    return _MergeStep(task.sources, _destination(task), template)


def _arithmetic(task: _Task) -> _Step:
    left, right = _operands(task)
    return _ArithmeticStep(task.where, task.operator, (left, right), _destination(task))


def _mask_step(task: _Task) -> _Step:
    char = task.properties.get("MASK_VALUE", "*")
    if len(char) != 1:
        raise task.invalid("taskProperties.MASK_VALUE", "must be a single character")
    needs_length = task.operator != "MASK_ALL" or "MASK_LENGTH" in task.properties
    length = task.positive_int("MASK_LENGTH") if needs_length else 0
    return _EditStep(task.sources[0], task.destination, partial(_mask, operation=task.operator, length=length, char=char))


def _truncate_step(task: _Task) -> _Step:
    return _EditStep(task.sources[0], task.destination, partial(_truncate, length=task.positive_int("TRUNCATE_LENGTH")))


def _validate(task: _Task) -> _Step:
    action = task.required("VALIDATION_ACTION")
    if action not in _VALIDATION_ACTIONS:
        raise task.invalid("taskProperties.VALIDATION_ACTION", f"must be one of {', '.join(_VALIDATION_ACTIONS)}")
    return _ValidateStep(task.where, task.sources[0], task.operator, _VALIDATION_ACTIONS[action])


_BUILDERS: dict[str, Callable[[_Task], _Step]] = {
    "Map": _map,
    "Passthrough": _map,
    "Map_all": _map_all,
    "Merge": _merge,
    "Arithmetic": _arithmetic,
    "Mask": _mask_step,
    "Truncate": _truncate_step,
    "Validate": _validate,
}


def _check_reads(ordered: Sequence[_Task], projection: tuple[str, ...]) -> None:
    """Every field a task reads is projected or written by a task that runs before it."""
    available = set(projection)
    for task in ordered:
        for index, name in enumerate(() if task.type == "Map_all" else task.sources, 1):
            if name not in available:
                raise task.invalid(f"sourceFields.{index}", f"{name!r} is neither projected nor written by an earlier task")
        written = _writes(task)
        if written is not None:
            available.add(written)


def _temporaries(tasks: Sequence[_Task], derived: frozenset[str]) -> frozenset[str]:
    """Derived fields written only by Merge/Arithmetic/Mask/Truncate and read later to write another field."""
    computed: set[str] = set()
    mapped: set[str] = set()
    consumed: set[str] = set()
    for task in tasks:
        written = _writes(task)
        if written is None:
            continue
        consumed.update(name for name in task.sources if name in computed and name != written)
        (mapped if task.type in ("Map", "Passthrough") else computed).add(written)
    return frozenset((consumed & derived) - mapped)


def compile_tasks(tasks: Sequence[Mapping[str, Any]], connector_type: str) -> TaskPipeline:
    """Validate a flow's wire `tasks` for a source connector type and compile them; raises `Invalid`."""
    connector = connector_key(connector_type)
    parsed = [_parse_task(position, raw, connector) for position, raw in enumerate(tasks, 1)]
    projection = tuple(dict.fromkeys(name for t in parsed if t.type == "Filter" and t.operator == "PROJECTION" for name in t.sources)) or None
    filters = [_record_filter(t) for t in parsed if t.type == "Filter" and t.operator != "PROJECTION"]
    derived = frozenset(name for t in parsed if (name := _derives(t)) is not None)
    working = [t for t in parsed if t.type in _BUILDERS]
    ordered = sorted(working, key=lambda t: not _is_source_edit(t, derived))  # stable: listed order kept
    if projection is not None:
        _check_reads(ordered, projection)
    steps = [_BUILDERS[t.type](t) for t in ordered]
    return TaskPipeline(projection, filters, steps, _temporaries(parsed, derived))
