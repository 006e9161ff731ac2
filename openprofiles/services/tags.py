"""Tags on resources of both services, addressed by ARN.

Each kind of resource registers a resolver that says whether an ARN names an existing resource
of the caller; an ARN of another account or region, or of nothing, is not found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.arns import Arn, parse_arn
from openprofiles.storage.store import Store, UnitOfWork

#: (unit of work, parsed ARN) -> whether the resource exists.
Resolver = Callable[[UnitOfWork, Arn], bool]

MAX_TAGS = 50


class TagService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._resolvers: dict[tuple[str, str], Resolver] = {}

    def register(self, service: str, resource_type: str, resolver: Resolver) -> None:
        """Make `arn:…:{service}:…:{resource_type}/…` taggable."""
        self._resolvers[(service, resource_type)] = resolver

    def _checked(self, uow: UnitOfWork, ctx: RequestContext, service: str, arn_text: str) -> str:
        arn = parse_arn(arn_text)
        if arn is None or arn.service != service:
            raise Invalid(f"resourceArn {arn_text!r} is not an ARN of this service")
        resolver = self._resolvers.get((arn.service, arn.resource.split("/", 1)[0]))
        if (
            arn.account_id != ctx.account_id
            or arn.region != ctx.region
            or resolver is None
            or not resolver(uow, arn)
        ):
            raise NotFound(f"Resource {arn_text} does not exist")
        return str(arn)

    def tag(self, ctx: RequestContext, service: str, arn: str, tags: Mapping[str, str]) -> None:
        with self.store.write() as uow:
            key = self._checked(uow, ctx, service, arn)
            current = uow.tags.get(key)
            if len(set(current) | set(tags)) > MAX_TAGS:
                raise Invalid(f"A resource can have at most {MAX_TAGS} tags")
            uow.tags.put(key, tags)

    def untag(self, ctx: RequestContext, service: str, arn: str, keys: Iterable[str]) -> None:
        with self.store.write() as uow:
            uow.tags.remove(self._checked(uow, ctx, service, arn), keys)

    def list(self, ctx: RequestContext, service: str, arn: str) -> dict[str, str]:
        with self.store.read() as uow:
            return uow.tags.get(self._checked(uow, ctx, service, arn))
