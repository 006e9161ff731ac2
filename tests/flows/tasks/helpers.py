"""Shared helpers for the flows/tasks tests: wire tasks and their outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from openprofiles.errors import Invalid
from openprofiles.flows.tasks import Output, TaskOutcome, TaskPipeline, Terminated, compile_tasks


def task(
    task_type: str,
    sources: list[str],
    operator: str | None = "NO_OP",
    destination: str | None = None,
    key: str = "Salesforce",
    **properties: str,
) -> dict[str, Any]:
    """One wire task; `operator=None` leaves connectorOperator out."""
    raw: dict[str, Any] = {"taskType": task_type, "sourceFields": sources, "taskProperties": properties}
    if operator is not None:
        raw["connectorOperator"] = {key: operator}
    if destination is not None:
        raw["destinationField"] = destination
    return raw


def project(*fields: str) -> dict[str, Any]:
    return task("Filter", list(fields), "PROJECTION")


def compile_(*tasks: dict[str, Any], connector: str = "Salesforce") -> TaskPipeline:
    return compile_tasks(list(tasks), connector)


def run(record: dict[str, Any], *tasks: dict[str, Any]) -> TaskOutcome:
    return compile_(*tasks).apply(record)


def output(record: dict[str, Any], *tasks: dict[str, Any]) -> dict[str, Any]:
    outcome = run(record, *tasks)
    assert isinstance(outcome, Output), outcome
    return outcome.record


def invalid(*tasks: dict[str, Any], connector: str = "Salesforce") -> str:
    with pytest.raises(Invalid) as caught:
        compile_(*tasks, connector=connector)
    return caught.value.message


def passes(record: dict[str, Any], *tasks: dict[str, Any]) -> bool:
    outcome = run(record, *tasks)
    assert not isinstance(outcome, Terminated)
    return isinstance(outcome, Output)
