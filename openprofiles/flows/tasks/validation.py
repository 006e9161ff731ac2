"""Validate: a check on one field whose failure drops the record or terminates the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openprofiles.connectors.operands import number
from openprofiles.flows.tasks.outcomes import Drop, Halt
from openprofiles.flows.tasks.task import Step, Task, Work


def _maybe_number(value: Any) -> Decimal | None:
    try:
        return number(value)
    except ValueError:
        return None


VALIDATIONS: dict[str, Callable[[Any], bool]] = {
    "VALIDATE_NON_NULL": lambda value: value is not None and value != "",
    "VALIDATE_NON_ZERO": lambda value: _maybe_number(value) != 0,
    "VALIDATE_NON_NEGATIVE": lambda value: (found := _maybe_number(value)) is None or found >= 0,
    "VALIDATE_NUMERIC": lambda value: _maybe_number(value) is not None,
}
#: VALIDATION_ACTION → whether a failure terminates the run.
VALIDATION_ACTIONS = {"DropRecord": False, "DropDataset": True, "TerminateFlow": True}


@dataclass(frozen=True)
class ValidateStep:
    where: str
    source: str
    check: str
    terminate: bool

    def run(self, work: Work) -> None:
        if not VALIDATIONS[self.check](work.values.get(self.source)):
            reason = f"{self.where} (Validate): {self.source} failed {self.check}"
            raise Halt(reason) if self.terminate else Drop(reason)


def build_validate(task: Task) -> Step:
    action = task.required("VALIDATION_ACTION")
    if action not in VALIDATION_ACTIONS:
        raise task.invalid("taskProperties.VALIDATION_ACTION", f"must be one of {', '.join(VALIDATION_ACTIONS)}")
    return ValidateStep(task.where, task.sources[0], task.operator, VALIDATION_ACTIONS[action])
