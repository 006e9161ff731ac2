"""Find the operation a request names, by service, method and `requestUri`; and OpenProfiles' own
operations (`OwnRoutes`), by path under `/_openprofiles/`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from botocore import xform_name

from openprofiles.api.ports import OwnOperation
from openprofiles.api.spec import Operation, ServiceSpec, compile_uri, load_services

#: Paths under this prefix are OpenProfiles' own operations, never an AWS one.
OWN_PREFIX = "/_openprofiles/"

#: Routes remembered by (service, method, raw path): clients call the same few paths again and again.
_MEMO_SIZE = 4096


class Router:
    """Routes (method, raw path) to an operation of one service, most literal route first."""

    def __init__(self, services: dict[str, ServiceSpec] | None = None) -> None:
        self.services = services or load_services()
        self.by_signing_name = {s.signing_name: s for s in self.services.values()}
        self._routes: dict[str, dict[str, list[Operation]]] = {}
        for name, spec in self.services.items():
            table: dict[str, list[Operation]] = {}
            for op in spec.operations.values():
                table.setdefault(op.method, []).append(op)
            for ops in table.values():
                ops.sort(key=lambda o: (-o.literal_segments, -o.uri.count("/"), o.uri))
            self._routes[name] = table
        self._memo: dict[tuple[str, str, str], tuple[Operation, Mapping[str, str]] | None] = {}

    def match(self, service: str, method: str, raw_path: str) -> tuple[Operation, Mapping[str, str]] | None:
        """The operation of `service` at this method and path, with its decoded path labels."""
        slot = (service, method, raw_path)
        if slot in self._memo:
            return self._memo[slot]
        found = self._match(service, method, raw_path)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[slot] = found
        return found

    def _match(self, service: str, method: str, raw_path: str) -> tuple[Operation, Mapping[str, str]] | None:
        for op in self._routes[service].get(method, ()):
            m = op.pattern.match(raw_path)
            if m:
                return op, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def operations_at(self, method: str, raw_path: str) -> list[Operation]:
        """The operations of any service at this method and path."""
        return [found[0] for name in self.services if (found := self.match(name, method, raw_path))]

    def service_for_path(self, method: str, raw_path: str) -> ServiceSpec | None:
        """The service for an unsigned request: the one whose route matches; on a tie, the
        one an ARN in the path names (`/tags/{resourceArn}` exists in both)."""
        candidates = [op.service for op in self.operations_at(method, raw_path)]
        if len(candidates) > 1:
            decoded = unquote(raw_path)
            for spec in candidates:
                if f":{spec.signing_name}:" in decoded:
                    return spec
        return candidates[0] if candidates else None


@dataclass(frozen=True)
class OwnRoute:
    """An operation of OpenProfiles' own (api/ports.py `OwnOperation`) and how a request reaches it."""

    service: ServiceSpec = field(repr=False)
    name: str
    method: str
    pattern: re.Pattern[str] = field(repr=False)
    status: int

    @property
    def handler_name(self) -> str:
        return str(xform_name(self.name))


class OwnRoutes:
    """OpenProfiles' own operations of each service, found by path alone: a path belongs to one
    service and one method, whatever the request's credential scope or method says."""

    def __init__(self, services: Mapping[str, ServiceSpec], declared: Mapping[str, Mapping[str, OwnOperation]]) -> None:
        self.routes: list[OwnRoute] = []
        for service, operations in declared.items():
            for name, op in operations.items():
                if not op.path.startswith(OWN_PREFIX):
                    raise ValueError(f"{service} {name}: the path {op.path} of an own operation must start "
                                     f"with {OWN_PREFIX}")
                pattern, _ = compile_uri(op.path)
                self.routes.append(OwnRoute(services[service], name, op.method.upper(), pattern, op.status))

    def match(self, raw_path: str) -> tuple[OwnRoute, dict[str, str]] | None:
        """The own operation at this path (of any method), with its decoded path labels."""
        if not raw_path.startswith(OWN_PREFIX):
            return None
        for route in self.routes:
            m = route.pattern.match(raw_path)
            if m:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None
