"""Task: the property readers and the field a writing task writes; Work: what it records as written."""

from __future__ import annotations

import pytest

from openprofiles.errors import Invalid
from openprofiles.flows.tasks.task import Task, Work


def make(task_type: str = "Map", sources: tuple[str, ...] = ("a",), destination: str | None = None,
         operator: str = "NO_OP", **properties: str) -> Task:
    return Task("tasks.2", task_type, operator, sources, destination, properties)


def test_invalid_names_the_task_and_member() -> None:
    assert make().invalid("taskProperties.X", "is wrong").message == "tasks.2.taskProperties.X is wrong"


def test_required_and_positive_int() -> None:
    task = make("Truncate", TRUNCATE_LENGTH="3")
    assert task.required("TRUNCATE_LENGTH") == "3"
    assert task.positive_int("TRUNCATE_LENGTH") == 3
    with pytest.raises(Invalid, match=r"^tasks.2.taskProperties.MASK_LENGTH is required for Truncate NO_OP$"):
        task.required("MASK_LENGTH")
    for text in ("0", "-1", "x", "1.5"):
        with pytest.raises(Invalid, match="must be a positive integer"):
            make(TRUNCATE_LENGTH=text).positive_int("TRUNCATE_LENGTH")


def test_math_operands_follow_the_order_property() -> None:
    assert make("Arithmetic", ("a", "b")).math_operands() == ("a", "b")
    assert make("Arithmetic", ("a", "b"), MATH_OPERATION_FIELDS_ORDER=" b , a").math_operands() == ("b", "a")
    with pytest.raises(Invalid, match=r"must name the two sourceFields, e\.g\. 'a,b'"):
        make("Arithmetic", ("a", "b"), MATH_OPERATION_FIELDS_ORDER="a,a").math_operands()


@pytest.mark.parametrize(
    ("task", "target"),
    [
        (make("Map", ("a",), "b"), "b"),
        (make("Map", ("a",)), "a"),
        (make("Merge", ("x", "y")), "x,y"),
        (make("Arithmetic", ("x", "y"), MATH_OPERATION_FIELDS_ORDER="y,x"), "y,x"),
        (make("Mask", ("a",)), "a"),
    ],
)
def test_target(task: Task, target: str) -> None:
    assert task.target() == target


def test_work_records_written_fields_in_order() -> None:
    work = Work({"a": 1}, ("a",))
    work.write("z", 2)
    work.write("a", 3)
    work.write("z", 4)
    assert work.values == {"a": 3, "z": 4}
    assert list(work.written) == ["z", "a"]
