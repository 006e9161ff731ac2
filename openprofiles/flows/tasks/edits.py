"""Tasks that compute or edit a value: Arithmetic, Merge, Mask and Truncate."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from openprofiles.connectors.operands import number, text
from openprofiles.flows.tasks.outcomes import Drop
from openprofiles.flows.tasks.task import Step, Task, Work

ARITHMETIC: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "ADDITION": operator.add,
    "SUBTRACTION": operator.sub,
    "MULTIPLICATION": operator.mul,
    "DIVISION": operator.truediv,
}
MASKS = frozenset({"MASK_ALL", "MASK_FIRST_N", "MASK_LAST_N"})
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class ArithmeticStep:
    """`left <op> right`; a null operand gives null; integral results are ints, others floats."""

    where: str
    operation: str
    operands: tuple[str, str]
    destination: str

    def run(self, work: Work) -> None:
        values = [work.values.get(name) for name in self.operands]
        if None in values:
            work.write(self.destination, None)
            return
        left, right = (self._number(name, value) for name, value in zip(self.operands, values, strict=True))
        if self.operation == "DIVISION" and right == 0:
            raise Drop(f"{self.where} (Arithmetic): division by zero ({self.operands[1]} is 0)")
        result = ARITHMETIC[self.operation](left, right)
        work.write(self.destination, int(result) if result == result.to_integral_value() else float(result))

    def _number(self, name: str, value: Any) -> Decimal:
        try:
            return number(value)
        except ValueError:
            raise Drop(f"{self.where} (Arithmetic): {name} is not a number") from None


@dataclass(frozen=True)
class MergeStep:
    """`${field}` placeholders filled in (null = empty), or the non-empty values joined by a space."""

    sources: tuple[str, ...]
    destination: str
    template: str | None

    def run(self, work: Work) -> None:
        texts = {name: "" if work.values.get(name) is None else text(work.values[name]) for name in self.sources}
        if self.template is None:
            merged = " ".join(value for value in texts.values() if value)
        else:
            merged = _PLACEHOLDER.sub(lambda match: texts[match.group(1)], self.template)
        work.write(self.destination, merged)


def mask(value: str, operation: str, length: int, char: str) -> str:
    """MASK_ALL, or the first/last `length` characters (at most all of them) replaced by `char`."""
    if operation == "MASK_ALL":
        return char * len(value)
    count = min(length, len(value))
    if operation == "MASK_FIRST_N":
        return char * count + value[count:]
    return value[: len(value) - count] + char * count


def truncate(value: str, length: int) -> str:
    """The first `length` characters."""
    return value[:length]


@dataclass(frozen=True)
class EditStep:
    """Mask and Truncate: edit the string form of a field, in place (no destination) or into a destination."""

    source: str
    destination: str | None
    edit: Callable[[str], str]

    def run(self, work: Work) -> None:
        if self.source not in work.values:
            return
        value = work.values[self.source]
        edited = None if value is None else self.edit(text(value))
        if self.destination is None:
            work.values[self.source] = edited
        else:
            work.write(self.destination, edited)


def build_arithmetic(task: Task) -> Step:
    left, right = task.math_operands()
    return ArithmeticStep(task.where, task.operator, (left, right), task.target())


def build_merge(task: Task) -> Step:
    template = task.properties.get("CONCAT_FORMAT")
    unknown = sorted(set(_PLACEHOLDER.findall(template or "")) - set(task.sources))
    if unknown:
        raise task.invalid("taskProperties.CONCAT_FORMAT", f"names ${{{unknown[0]}}}, which is not one of the sourceFields")
    return MergeStep(task.sources, task.target(), template)


def build_mask(task: Task) -> Step:
    char = task.properties.get("MASK_VALUE", "*")
    if len(char) != 1:
        raise task.invalid("taskProperties.MASK_VALUE", "must be a single character")
    needs_length = task.operator != "MASK_ALL" or "MASK_LENGTH" in task.properties
    length = task.positive_int("MASK_LENGTH") if needs_length else 0
    return EditStep(task.sources[0], task.destination, partial(mask, operation=task.operator, length=length, char=char))


def build_truncate(task: Task) -> Step:
    return EditStep(task.sources[0], task.destination, partial(truncate, length=task.positive_int("TRUNCATE_LENGTH")))
