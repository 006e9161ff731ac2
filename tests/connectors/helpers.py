"""Checks shared by the connector tests."""

from __future__ import annotations

import json
import time
import tracemalloc
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

from openprofiles.connectors.base import Connector, ExtractRequest, Page
from openprofiles.connectors.grants import Grants

#: The operator setting that lets connectors reach the fake vendor servers (on loopback).
FAKE_VENDOR_GRANTS = Grants(connector_hosts=("127.0.0.1",))


def records(pages: list[Page]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


def assert_resumes(connector: Connector, request: ExtractRequest, stop_after: int) -> None:
    """Taking `stop_after` pages, then extracting again from the last checkpoint (through JSON, as it is
    stored) delivers exactly the records of a full extraction: none lost, none twice."""
    full = records(list(connector.extract(request)))
    pages = connector.extract(request)
    taken = list(islice(pages, stop_after))
    pages.close()  # type: ignore[attr-defined]
    checkpoint = json.loads(json.dumps(taken[-1].checkpoint))
    rest = records(list(connector.extract(replace(request, checkpoint=checkpoint))))
    assert records(taken) + rest == full


def peak_memory_of_extraction(connector: Connector, request: ExtractRequest) -> tuple[int, int]:
    """(records extracted, peak bytes allocated meanwhile), holding one page at a time."""
    count = 0
    tracemalloc.start()
    try:
        for page in connector.extract(request):
            count += len(page.records)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def gone(*pid_files: Path, within: float = 5) -> bool:
    """Whether the processes whose pids the files hold have all ended (within a few seconds)."""
    pids = [int(f.read_text()) for f in pid_files]
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
