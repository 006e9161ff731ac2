"""customer_profiles/collector.py: the cyclic collector is paused while any batch runs, in any thread."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from openprofiles.services.customer_profiles.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_enabled() -> Iterator[None]:
    """Each test starts with the collector on, and leaves it as it found it."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_enabled_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_enabled_again_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("batch failed")
    assert gc.isenabled()


def test_nested_batches_enable_it_only_when_the_last_ends() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_batches_in_two_threads() -> None:
    entered, release = threading.Event(), threading.Event()
    inside_other: list[bool] = []

    def other() -> None:
        with collector_paused():
            entered.set()
            release.wait(10)
            inside_other.append(gc.isenabled())

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(10)
    with collector_paused():
        pass
    assert not gc.isenabled()  # this batch ended, the other thread's has not
    release.set()
    thread.join(10)
    assert inside_other == [False]
    assert gc.isenabled()
