"""Validate: each check, and the actions that drop the record or terminate the run."""

from __future__ import annotations

from typing import Any

import pytest

from openprofiles.flows.tasks import Dropped, Output, Terminated
from tests.flows.tasks.helpers import compile_, run, task


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        ("VALIDATE_NON_NULL", ["x", 0, False], [None, "", "<absent>"]),
        ("VALIDATE_NON_ZERO", [1, "-2", "x", None], [0, "0.0", 0.0]),
        ("VALIDATE_NON_NEGATIVE", [0, "3", "x", None], [-1, "-0.5"]),
        ("VALIDATE_NUMERIC", [0, "1e3", " 2 ", 1.5], ["x", None, True, "nan", "<absent>"]),
    ],
)
def test_validate(check: str, good: list[Any], bad: list[Any]) -> None:
    drop = compile_(task("Map_all", []), task("Validate", ["v"], check, VALIDATION_ACTION="DropRecord"))
    for value in good:
        assert isinstance(drop.apply({"v": value}), Output), value
    for value in bad:
        record = {} if value == "<absent>" else {"v": value}
        assert drop.apply(record) == Dropped(f"tasks.2 (Validate): v failed {check}"), value


@pytest.mark.parametrize("action", ["DropDataset", "TerminateFlow"])
def test_terminating_validation(action: str) -> None:
    tasks = [task("Map", ["v"]), task("Validate", ["v"], "VALIDATE_NON_NULL", VALIDATION_ACTION=action)]
    assert run({"v": None}, *tasks) == Terminated("tasks.2 (Validate): v failed VALIDATE_NON_NULL")
    assert run({"v": 1}, *tasks) == Output({"v": 1})
