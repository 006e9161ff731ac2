"""Errors on the wire: a modeled error code, its HTTP status and a message."""

from __future__ import annotations


class ApiError(Exception):
    """An error rendered as the service's modeled exception (`x-amzn-ErrorType`)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class ValidationFailed(ApiError):
    """The request does not satisfy the input shape; rendered as the service's validation error."""

    def __init__(self, message: str) -> None:
        super().__init__("__validation__", message, 400)


class AuthFailed(ApiError):
    """Missing, malformed, unknown or wrong credentials: 403 AccessDeniedException."""

    def __init__(self, message: str) -> None:
        super().__init__("AccessDeniedException", message, 403)


class NotImplementedOperation(ApiError):
    """A modeled operation OpenProfiles does not implement yet: 501."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            "NotImplemented",
            f"The operation {operation} is not implemented by OpenProfiles yet; "
            "see docs/api-coverage.md",
            501,
        )
