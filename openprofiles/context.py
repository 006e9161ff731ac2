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

    @property
    def page_scope(self) -> str:
        """What a page token is tied to, besides the request's parameters: caller and operation."""
        return f"{self.account_id}:{self.region}:{self.operation}"
