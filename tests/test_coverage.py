"""docs/api-coverage.md lists every modeled operation and is regenerated when handlers change."""

from __future__ import annotations

from pathlib import Path

from openprofiles.api.spec import all_operations
from openprofiles.coverage import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "api-coverage.md"


def test_coverage_doc_is_current() -> None:
    assert DOC.read_text() == render(), "docs/api-coverage.md is stale: run `make coverage-doc`"


def test_every_operation_is_listed() -> None:
    text = DOC.read_text()
    operations = all_operations()
    assert len(operations) == 131
    for op in operations:
        assert f"| {op.name} | {op.method} | `{op.uri}` |" in text
