"""TaskPipeline.apply: record filters first on the raw record, then projection, then the steps."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from openprofiles.flows.tasks import Dropped, Filtered, Output, RecordFilter
from tests.flows.tasks.helpers import compile_, output, project, run, task

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))


def test_projection_carries_only_its_fields() -> None:
    record = {"a": 1, "b": 2, "c": 3}
    assert output(record, project("a"), project("c", "a"), task("Map_all", [])) == {"a": 1, "c": 3}
    assert compile_(project("a"), project("c", "a")).projected_fields == ("a", "c")
    assert output(record, task("Map_all", [])) == record
    assert compile_(task("Map_all", [])).projected_fields is None


def test_projected_field_missing_from_the_record_is_left_out() -> None:
    assert output({"a": 1}, project("a", "b"), task("Map", ["a"]), task("Map", ["b"])) == {"a": 1}


def test_record_filters_run_before_a_terminating_validation() -> None:
    tasks = [
        task("Validate", ["v"], "VALIDATE_NON_NULL", VALIDATION_ACTION="TerminateFlow"),
        task("Filter", ["kind"], "EQUAL_TO", DATA_TYPE="string", VALUE="lead"),
    ]
    assert isinstance(run({"kind": "other", "v": None}, *tasks), Dropped)


def test_filter_reason_and_absent_field() -> None:
    tasks = [task("Filter", ["v"], "GREATER_THAN", DATA_TYPE="integer", VALUE="5"), task("Map_all", [])]
    assert run({}, *tasks) == Filtered("tasks.1 (Filter): v GREATER_THAN 5 not satisfied")


def test_record_filters_test_the_raw_record_and_are_exposed() -> None:
    tasks = [
        project("name"),
        task("Map", ["name"]),
        task("Filter", ["v"], "BETWEEN", DATA_TYPE="timestamp", LOWER_BOUND="0", UPPER_BOUND="2024-01-01T00:00:00Z"),
        task("Filter", ["kind"], "EQUAL_TO", DATA_TYPE="string", VALUES="a,b"),
    ]
    pipeline = compile_(*tasks)
    assert pipeline.record_filters == (
        RecordFilter("v", "BETWEEN", ("0", "2024-01-01T00:00:00Z"), "timestamp"),
        RecordFilter("kind", "EQUAL_TO", ("a", "b"), "string"),
    )
    assert pipeline.apply({"name": "n", "v": 5, "kind": "b"}) == Output({"name": "n"})


@given(record=st.dictionaries(st.text(min_size=1, max_size=6), SCALARS, max_size=6), data=st.data())
def test_map_all_without_exclusions_is_the_identity_on_projected_fields(record: dict[str, Any], data: st.DataObject) -> None:
    projected = data.draw(st.lists(st.sampled_from(sorted(record)), unique=True, min_size=1)) if record else []
    tasks = [project(*projected), task("Map_all", [])] if projected else [task("Map_all", [])]
    expected = {name: record[name] for name in projected} if projected else record
    assert output(record, *tasks) == expected
