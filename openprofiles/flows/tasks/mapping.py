"""Map (with conversion), Passthrough (without) and Map_all: copying source fields to the output."""

from __future__ import annotations

from dataclasses import dataclass

from openprofiles import json_depth
from openprofiles.connectors.operands import DataType, data_type
from openprofiles.flows.tasks.outcomes import Drop
from openprofiles.flows.tasks.task import Step, Task, Work
from openprofiles.flows.tasks.values import convert


@dataclass(frozen=True)
class MapStep:
    """Copy one field, converted to `destination_type` (Map) or not (Passthrough); an absent source writes nothing."""

    where: str
    source: str
    destination: str
    source_type: DataType | None = None
    destination_type: DataType | None = None

    def run(self, work: Work) -> None:
        if self.source not in work.values:
            return
        try:
            value = convert(work.values[self.source], self.source_type, self.destination_type)
        except ValueError as error:
            raise Drop(f"{self.where} (Map): {self.source} is {error}") from None
        work.write(self.destination, value)


@dataclass(frozen=True)
class MapAllStep:
    """Copy every projected source field except the excluded ones."""

    excluded: frozenset[str]

    def run(self, work: Work) -> None:
        for name in work.source_fields:
            if name not in self.excluded:
                work.write(name, work.values[name])


def build_map(task: Task) -> Step:
    """Map or Passthrough; only Map reads SOURCE_DATA_TYPE/DESTINATION_DATA_TYPE."""
    source_type, destination_type = (
        (data_type(task.properties.get("SOURCE_DATA_TYPE")), data_type(task.properties.get("DESTINATION_DATA_TYPE")))
        if task.type == "Map"
        else (None, None)
    )
    return MapStep(task.where, task.sources[0], task.target(), source_type, destination_type)


def build_map_all(task: Task) -> Step:
    """Map_all; EXCLUDE_SOURCE_FIELDS_LIST is a JSON list of field names."""
    try:
        excluded = json_depth.loads(task.properties.get("EXCLUDE_SOURCE_FIELDS_LIST", "[]"), limit=1)
    except ValueError:  # not JSON, or nested (json_depth.TooDeep)
        excluded = None
    if not isinstance(excluded, list) or not all(isinstance(name, str) for name in excluded):
        raise task.invalid("taskProperties.EXCLUDE_SOURCE_FIELDS_LIST", 'must be a JSON list of field names, e.g. ["a","b"]')
    return MapAllStep(frozenset(excluded))
