"""Identifiers for profiles, objects and history records: 32 hex digits, in creation order.

A random id puts each insert at a random place in its unique index, and at a million rows that
is a page read and write per row. These ids start with the time in milliseconds and a
per-process sequence (16 hex digits), then 64 random bits, so new rows append at the right-hand
edge of their indexes (the layout of a UUIDv7, without dashes). The random part keeps ids from
several processes apart; it is not a secret (every API call is authenticated).
"""

from __future__ import annotations

import threading
from random import getrandbits
from time import time_ns

_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A fresh id: later calls in this process give larger ids."""
    global _last
    stamp = time_ns() // 1_000_000 << 16  # milliseconds, then a 16-bit sequence
    with _lock:
        _last = ordered = stamp if stamp > _last else _last + 1
    return (ordered << 64 | getrandbits(64)).to_bytes(16, "big").hex()
