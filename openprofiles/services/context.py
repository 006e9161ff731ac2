"""What a service call knows about its caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RequestContext:
    """The caller's account and region, the operation, the request id and the time of the call."""

    account_id: str
    region: str
    operation: str
    request_id: str
    now: datetime
