"""`compile_tasks`: a CreateFlow request's wire `tasks`, validated and compiled into a `TaskPipeline`.

AWS documents the task shapes but little of their behaviour; where it is silent this package
follows the AWS-authored cdk-appflow constructs. docs/flows.md is the long form of what follows.

Validation: errors name the task by its 1-based position, as AWS validation messages do
(`tasks.3.taskProperties.MASK_LENGTH must be a positive integer`). The connectorOperator member must
be the source connector's (`ServiceNow` for `Servicenow`), its operator one of that member's model
enum and fit for the task type. A missing connectorOperator means NO_OP.

One record goes through four stages:

1. Record filters (Filter with a comparison operator) test the raw source record (filters.py); a
   connector may push them down to its query and the result is the same.
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

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openprofiles.connectors.operands import COMPARISONS
from openprofiles.errors import Invalid
from openprofiles.flows.tasks.edits import ARITHMETIC, MASKS, build_arithmetic, build_mask, build_merge, build_truncate
from openprofiles.flows.tasks.filters import build_filter
from openprofiles.flows.tasks.mapping import build_map, build_map_all
from openprofiles.flows.tasks.model import connector_key, connector_operators, property_keys
from openprofiles.flows.tasks.pipeline import TaskPipeline
from openprofiles.flows.tasks.task import Step, Task
from openprofiles.flows.tasks.validation import VALIDATIONS, build_validate

_NO_OP = frozenset({"NO_OP"})
#: Operators each task type accepts; None = any (Partition is ignored).
TASK_OPERATORS: dict[str, frozenset[str] | None] = {
    "Filter": frozenset({"PROJECTION", *COMPARISONS}),
    "Arithmetic": frozenset(ARITHMETIC),
    "Mask": MASKS,
    "Validate": frozenset(VALIDATIONS),
    "Partition": None,
    **dict.fromkeys(("Map", "Map_all", "Merge", "Passthrough", "Truncate"), _NO_OP),
}
#: (fewest, most) sourceFields per task type; None = no upper limit.
SOURCE_COUNTS: dict[str, tuple[int, int | None]] = {
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
_BUILDERS: dict[str, Callable[[Task], Step]] = {
    "Map": build_map,
    "Passthrough": build_map,
    "Map_all": build_map_all,
    "Merge": build_merge,
    "Arithmetic": build_arithmetic,
    "Mask": build_mask,
    "Truncate": build_truncate,
    "Validate": build_validate,
}


# --- reading one wire task -----------------------------------------------------------------------


def parse_task(position: int, raw: Any, connector: str) -> Task:
    """The wire task at 1-based `position`, its shape checked for the source's ConnectorOperator member."""
    where = f"tasks.{position}"
    if not isinstance(raw, Mapping):
        raise Invalid(f"{where} must be an object")
    task_type = raw.get("taskType")
    if not isinstance(task_type, str) or task_type not in TASK_OPERATORS:
        raise Invalid(f"{where}.taskType must be one of {', '.join(TASK_OPERATORS)}")
    destination = raw.get("destinationField") or None
    if destination is not None and not isinstance(destination, str):
        raise Invalid(f"{where}.destinationField must be a string")
    return Task(
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
    fewest, most = SOURCE_COUNTS[task_type]
    if most == 0 and raw:
        raise Invalid(f"{where}.sourceFields must be empty for taskType {task_type}")
    if len(raw) < fewest or (most is not None and len(raw) > most):
        rule = f"exactly {fewest}" if fewest == most else f"at least {fewest}"
        raise Invalid(f"{where}.sourceFields must list {rule} field{'s' if fewest > 1 else ''} for taskType {task_type}")
    return tuple(raw)


def _operator(where: str, raw: Any, task_type: str, connector: str) -> str:
    allowed = TASK_OPERATORS[task_type]
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
    keys = property_keys()
    for key, value in raw.items():
        if key not in keys:
            raise Invalid(f"{where}.taskProperties.{key} is not a task property key")
        if not isinstance(value, str) or not value:
            raise Invalid(f"{where}.taskProperties.{key} must be a non-empty string")
    return dict(raw)


# --- what tasks write, and in which order they run -----------------------------------------------


def writes(task: Task) -> str | None:
    """The output field a task writes, if any (an in-place Mask/Truncate writes none)."""
    if task.type in _COMPUTERS or task.type in ("Map", "Passthrough"):
        return task.target()
    return task.destination if task.type in ("Mask", "Truncate") else None


def derives(task: Task) -> str | None:
    """The field a task derives: a Merge/Arithmetic result, or a copy or edit under another name."""
    written = writes(task)
    if written is None or (task.type in _RENAMERS and written == task.sources[0]):
        return None
    return written


def is_source_edit(task: Task, derived: frozenset[str]) -> bool:
    """Whether a task checks or edits a source field in place, so runs before the mapping tasks."""
    if task.type not in ("Validate", "Mask", "Truncate") or task.sources[0] in derived:
        return False
    return task.type == "Validate" or task.destination in (None, task.sources[0])


def _check_reads(ordered: Sequence[Task], projection: tuple[str, ...]) -> None:
    """Every field a task reads is projected or written by a task that runs before it."""
    available = set(projection)
    for task in ordered:
        for index, name in enumerate(() if task.type == "Map_all" else task.sources, 1):
            if name not in available:
                raise task.invalid(f"sourceFields.{index}", f"{name!r} is neither projected nor written by an earlier task")
        written = writes(task)
        if written is not None:
            available.add(written)


def temporaries(tasks: Sequence[Task], derived: frozenset[str]) -> frozenset[str]:
    """Derived fields written only by Merge/Arithmetic/Mask/Truncate and read later to write another field."""
    computed: set[str] = set()
    mapped: set[str] = set()
    consumed: set[str] = set()
    for task in tasks:
        written = writes(task)
        if written is None:
            continue
        consumed.update(name for name in task.sources if name in computed and name != written)
        (mapped if task.type in ("Map", "Passthrough") else computed).add(written)
    return frozenset((consumed & derived) - mapped)


def compile_tasks(tasks: Sequence[Mapping[str, Any]], connector_type: str) -> TaskPipeline:
    """Validate a flow's wire `tasks` for a source connector type and compile them; raises `Invalid`."""
    connector = connector_key(connector_type)
    parsed = [parse_task(position, raw, connector) for position, raw in enumerate(tasks, 1)]
    projection = tuple(dict.fromkeys(name for t in parsed if t.type == "Filter" and t.operator == "PROJECTION" for name in t.sources)) or None
    filters = [build_filter(t) for t in parsed if t.type == "Filter" and t.operator != "PROJECTION"]
    derived = frozenset(name for t in parsed if (name := derives(t)) is not None)
    working = [t for t in parsed if t.type in _BUILDERS]
    ordered = sorted(working, key=lambda t: not is_source_edit(t, derived))  # stable: listed order kept
    if projection is not None:
        _check_reads(ordered, projection)
    steps = [_BUILDERS[t.type](t) for t in ordered]
    return TaskPipeline(projection, filters, steps, temporaries(parsed, derived))
