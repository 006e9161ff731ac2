"""What the wire protocol needs from the layers below it, as Protocols: app.py injects the
concrete services (services/access_keys.py, the providers of services/provider.py), so `api/`
imports none of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from openprofiles.context import RequestContext
from openprofiles.errors import ServiceError

#: An operation's handler: the request context and the parameters (model member names), returning
#: the output members (None for an empty output).
Handler = Callable[[RequestContext, dict[str, Any]], Any]


class AccessKeyRecord(Protocol):
    """An access key as the signature check needs it."""

    @property
    def access_key_id(self) -> str: ...

    @property
    def secret_access_key(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    @property
    def active(self) -> bool: ...


#: The key with an access key id, None when there is none; asked on every signed request.
AccessKeyLookup = Callable[[str], AccessKeyRecord | None]


class OwnOperation(Protocol):
    """An operation of OpenProfiles' own, outside the service model, served by the same path as the
    modeled ones (authentication, body limits, error rendering). Its path lies under
    `/_openprofiles/`; its handler gets the path labels and the raw body as `body`, and returns
    the JSON members of its answer."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str:
        """The path template, `{label}` for each path label."""

    @property
    def status(self) -> int:
        """The status of a success."""


class ServiceProvider(Protocol):
    """One service's operations, as ApiApp calls them."""

    @property
    def quick_reads(self) -> frozenset[str]:
        """Operations that may run on the event loop when the database is embedded."""

    @property
    def own_operations(self) -> Mapping[str, OwnOperation]:
        """OpenProfiles' own operations of this service, by name."""

    def handler(self, name: str) -> Handler | None:
        """The handler called `name` (`create_domain` for CreateDomain), None when not implemented."""

    def error_code(self, error: ServiceError) -> str:
        """The modeled exception a domain error becomes."""
