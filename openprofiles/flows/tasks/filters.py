"""Record filters (Filter with a comparison operator): the flow's test of a raw source record.

Operands are read by connectors/operands.py, the one reader connectors' push-downs use too, so a
pushed-down query and this test agree on every edge input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openprofiles.connectors.base import RecordFilter
from openprofiles.connectors.operands import Comparison, OperandError, from_properties
from openprofiles.flows.tasks.task import Task


@dataclass(frozen=True)
class FilterStep:
    """One record filter: `spec` for a connector to push down, `comparison` for the flow's own test."""

    where: str
    spec: RecordFilter
    comparison: Comparison

    def reject(self, record: Mapping[str, Any]) -> str | None:
        """Why the record fails this filter, or None when it passes."""
        if self.comparison.keeps(record.get(self.spec.field)):
            return None
        values = ",".join(self.spec.values)
        return f"{self.where} (Filter): {self.spec.field} {self.spec.operator} {values} not satisfied"


def build_filter(task: Task) -> FilterStep:
    """A Filter task with a comparison operator, its operands read (Invalid when one does not read)."""
    if len(task.sources) != 1:
        raise task.invalid("sourceFields", f"must list exactly 1 field for a {task.operator} filter")
    try:
        spec, comparison = from_properties(task.sources[0], task.operator, task.properties)
    except OperandError as error:
        raise task.invalid(error.member, error.message) from None
    return FilterStep(task.where, spec, comparison)
