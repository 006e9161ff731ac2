"""The services OpenProfiles speaks, loaded from botocore's own service models."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

#: botocore service name -> how our code refers to it.
SERVICE_NAMES = ("customer-profiles", "appflow")

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Operation:
    """One modeled operation and how a request reaches it."""

    service: ServiceSpec = field(repr=False)
    name: str
    model: OperationModel = field(repr=False)
    method: str
    uri: str
    pattern: re.Pattern[str] = field(repr=False)
    literal_segments: int
    success_code: int

    @property
    def handler_name(self) -> str:
        return str(xform_name(self.name))


@dataclass
class ServiceSpec:
    """A service model plus the facts the protocol layer needs about it."""

    name: str
    model: ServiceModel
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def signing_name(self) -> str:
        return str(self.model.metadata.get("signingName") or self.model.endpoint_prefix)

    @property
    def error_status(self) -> dict[str, int]:
        return {s.name: int(s.metadata["error"]["httpStatusCode"]) for s in self.model.error_shapes}

    @property
    def message_member(self) -> str:
        """`Message` (Customer Profiles) or `message` (AppFlow), as the model spells it."""
        for shape in self.model.error_shapes:
            for name in shape.members:
                if name.lower() == "message":
                    return str(name)
        return "message"

    @property
    def validation_error(self) -> str:
        names = {s.name for s in self.model.error_shapes}
        return "ValidationException" if "ValidationException" in names else "BadRequestException"


def compile_uri(uri: str) -> tuple[re.Pattern[str], int]:
    """A `requestUri`'s path as a pattern (a group per label, `{key+}` greedy) and its count of
    literal segments."""
    path = uri.split("?", 1)[0]
    parts: list[str] = []
    pos = 0
    for m in _LABEL.finditer(path):
        parts.append(re.escape(path[pos : m.start()]))
        greedy = m.group(2) == "+"
        parts.append(f"(?P<{m.group(1)}>{'.+' if greedy else '[^/]+'})")
        pos = m.end()
    parts.append(re.escape(path[pos:]))
    literals = sum(1 for seg in path.strip("/").split("/") if seg and "{" not in seg)
    return re.compile("^" + "".join(parts) + "/?$"), literals


@cache
def load_services() -> dict[str, ServiceSpec]:
    """Both service models from the installed botocore, keyed by botocore service name."""
    session = botocore.session.get_session()
    services: dict[str, ServiceSpec] = {}
    for name in SERVICE_NAMES:
        spec = ServiceSpec(name=name, model=session.get_service_model(name))
        for op_name in spec.model.operation_names:
            op_model = spec.model.operation_model(op_name)
            http = op_model.http
            pattern, literals = compile_uri(http["requestUri"])
            spec.operations[op_name] = Operation(
                service=spec,
                name=op_name,
                model=op_model,
                method=http["method"].upper(),
                uri=http["requestUri"],
                pattern=pattern,
                literal_segments=literals,
                success_code=int(http.get("responseCode", 200)),
            )
        services[name] = spec
    return services


def all_operations() -> list[Operation]:
    return [op for spec in load_services().values() for op in spec.operations.values()]
