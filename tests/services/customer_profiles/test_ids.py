"""customer_profiles/ids.py: ids of 32 hex digits that grow in creation order, even within a millisecond."""

from __future__ import annotations

import threading
import time

import pytest

from openprofiles.services.customer_profiles import ids
from openprofiles.services.customer_profiles.ids import new_id


def test_an_id_is_32_hex_digits_led_by_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert len(value) == 32 and int(value, 16) >= 0 and value == value.lower()
    stamp = int(value[:12], 16)  # 48 bits of milliseconds, then a 16-bit sequence and 64 random bits
    assert before <= stamp <= after


def test_later_ids_are_larger() -> None:
    made = [new_id() for _ in range(2000)]
    assert made == sorted(made) and len(set(made)) == len(made)


def test_within_one_millisecond_and_with_a_clock_stepping_back(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [time.time_ns() + 10**12]  # ahead of every id made so far
    monkeypatch.setattr(ids, "_last", ids._last)  # restored after the test: later ids carry the real time again
    monkeypatch.setattr(ids, "time_ns", lambda: now[0])
    same_ms = [new_id() for _ in range(50)]
    assert same_ms == sorted(same_ms) and len(set(same_ms)) == 50
    assert {value[:12] for value in same_ms} == {f"{now[0] // 1_000_000:012x}"}
    now[0] -= 10**9  # the wall clock steps back a second
    assert new_id() > same_ms[-1]


def test_ids_from_several_threads_are_distinct() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        out += [new_id() for _ in range(500)]

    threads = [threading.Thread(target=work, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(out == sorted(out) for out in made)
    assert len({value for out in made for value in out}) == 2000
