"""One wire task once read (`Task`), the working record steps run over (`Work`), and the `Step` contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from openprofiles.errors import Invalid
from openprofiles.flows.tasks.outcomes import Record


@dataclass(frozen=True)
class Task:
    """A task as CreateFlow sent it, its shape checked; `where` is `tasks.N` (1-based)."""

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

    def math_operands(self) -> tuple[str, ...]:
        """An Arithmetic task's operands in MATH_OPERATION_FIELDS_ORDER (default: sourceFields order)."""
        order = self.properties.get("MATH_OPERATION_FIELDS_ORDER")
        operands = tuple(name.strip() for name in order.split(",")) if order else self.sources
        if sorted(operands) != sorted(self.sources):
            raise self.invalid("taskProperties.MATH_OPERATION_FIELDS_ORDER", f"must name the two sourceFields, e.g. {','.join(self.sources)!r}")
        return operands

    def target(self) -> str:
        """Where a writing task writes; unnamed Merge/Arithmetic results go to `"a,b"` (cdk-appflow)."""
        if self.destination:
            return self.destination
        if self.type == "Merge":
            return ",".join(self.sources)
        if self.type == "Arithmetic":
            return ",".join(self.math_operands())
        return self.sources[0]


@dataclass
class Work:
    """The record being built: the projected source plus the fields written so far."""

    values: Record
    source_fields: tuple[str, ...]
    written: dict[str, None] = field(default_factory=dict)

    def write(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.written[name] = None


class Step(Protocol):
    """One compiled task over the working record; raises `Drop` or `Halt` to stop the record."""

    def run(self, work: Work) -> None: ...
