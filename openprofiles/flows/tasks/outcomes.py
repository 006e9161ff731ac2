"""What one record's run through the tasks gives, and the exceptions steps raise to say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

Record: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class Output:
    """The record to load: destination field → value."""

    record: Record


@dataclass(frozen=True)
class Dropped:
    """The record is skipped (a filter rejected it, or a DropRecord validation failed); the run goes on."""

    reason: str


@dataclass(frozen=True)
class Filtered(Dropped):
    """A record filter rejected the record: the run skips it, and it is not a failure."""


@dataclass(frozen=True)
class Terminated:
    """A validation whose action terminates the run failed: the run must stop."""

    reason: str


TaskOutcome: TypeAlias = Output | Filtered | Dropped | Terminated


class Drop(Exception):
    """A step drops the record (`Dropped`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Halt(Drop):
    """A terminating validation failed (`Terminated`)."""
