"""Typed errors raised by domain code; providers map them to each service's modeled errors."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the domain layer raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """The named resource does not exist for this account and region."""


class AlreadyExists(ServiceError):
    """A resource with this name exists already."""


class Invalid(ServiceError):
    """The request is well formed but its values break a rule."""


class Conflict(ServiceError):
    """The request conflicts with the resource's current state."""


class LimitExceeded(ServiceError):
    """A quota would be exceeded."""


class Unsupported(ServiceError):
    """The operation is not supported for this resource."""


class AccessDenied(ServiceError):
    """The caller may not do this."""
