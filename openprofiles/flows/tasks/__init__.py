"""AppFlow tasks compiled into a per-record pipeline: `compile_tasks(tasks, connector_type)` gives a
`TaskPipeline` whose `apply(record)` is `Output`, `Filtered`, `Dropped` or `Terminated` (compiler.py
tells the whole story)."""

from openprofiles.connectors.base import RecordFilter
from openprofiles.flows.tasks.compiler import compile_tasks
from openprofiles.flows.tasks.model import connector_key, connector_operators
from openprofiles.flows.tasks.outcomes import Dropped, Filtered, Output, TaskOutcome, Terminated
from openprofiles.flows.tasks.pipeline import TaskPipeline

__all__ = [
    "Dropped", "Filtered", "Output", "RecordFilter", "TaskOutcome", "TaskPipeline", "Terminated", "compile_tasks",
    "connector_key", "connector_operators",
]
