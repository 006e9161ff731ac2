"""The compiled tasks of one flow, applied to one source record at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openprofiles.flows.tasks.filters import FilterStep
from openprofiles.flows.tasks.outcomes import Drop, Dropped, Filtered, Halt, Output, TaskOutcome, Terminated
from openprofiles.flows.tasks.task import Step, Work


class TaskPipeline:
    """The compiled tasks of one flow; `apply` runs them on one source record."""

    def __init__(
        self,
        projected_fields: tuple[str, ...] | None,
        filters: Sequence[FilterStep],
        steps: Sequence[Step],
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
        work = Work(source, tuple(source))
        try:
            for step in self._steps:
                step.run(work)
        except Halt as halt:
            return Terminated(halt.reason)
        except Drop as drop:
            return Dropped(drop.reason)
        return Output({name: work.values[name] for name in work.written if name not in self._temporaries})
