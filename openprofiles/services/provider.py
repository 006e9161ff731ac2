"""What every service provider has: its error mapping, its handlers and OpenProfiles' own operations.
Handlers are methods named after the operation (`create_domain` for CreateDomain) taking the request
context and the parameters; ApiApp reaches a provider through api/ports.py's `ServiceProvider`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

from openprofiles import errors
from openprofiles.context import RequestContext
from openprofiles.services.tags import TagService


class OwnOperation(NamedTuple):
    """An operation of OpenProfiles' own, not in the service model (api/ports.py `OwnOperation`):
    its handler gets the path labels and the raw request body as `body`."""

    method: str
    #: A path template under `/_openprofiles/`, `{label}` for each path label.
    path: str
    #: The status of a success.
    status: int


class Provider:
    """Base of the two providers, the only place where wire names meet domain objects."""

    #: The modeled exception each domain error becomes.
    error_codes: ClassVar[dict[type[errors.ServiceError], str]]
    #: Operations that only read a few rows by key and reach nothing outside the database (but a
    #: KMS key, once per process): on the embedded database they may run on the event loop.
    quick_reads: ClassVar[frozenset[str]] = frozenset()
    #: OpenProfiles' own operations, by name (the handler is the name in snake case).
    own_operations: ClassVar[Mapping[str, OwnOperation]] = {}

    def handler(self, name: str) -> Callable[[RequestContext, dict[str, Any]], Any] | None:
        """The handler method called `name`, None when the provider has none."""
        found = getattr(self, name, None)
        return found if callable(found) else None

    def error_code(self, error: errors.ServiceError) -> str:
        for kind in type(error).__mro__:
            if kind in self.error_codes:
                return self.error_codes[kind]
        return "InternalServerException"


class TagHandlers:
    """TagResource, UntagResource and ListTagsForResource: the same members in both services."""

    tags: TagService
    #: The ARN service name of the provider's resources (`profile`, `appflow`).
    arn_service: ClassVar[str]

    def tag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.tags.tag(ctx, self.arn_service, p["resourceArn"], p["tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.tags.untag(ctx, self.arn_service, p["resourceArn"], p["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self.tags.list(ctx, self.arn_service, p["resourceArn"])}
