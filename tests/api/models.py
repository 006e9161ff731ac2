"""Small service models for the api/ module tests: one operation over the shapes a test names."""

from __future__ import annotations

from typing import Any

from botocore.model import ServiceModel

from openprofiles.api.spec import Operation, ServiceSpec, compile_uri

SCALARS: dict[str, Any] = {
    "String": {"type": "string"},
    "Integer": {"type": "integer"},
    "Long": {"type": "long"},
    "Double": {"type": "double"},
    "Boolean": {"type": "boolean"},
    "Timestamp": {"type": "timestamp"},
    "Blob": {"type": "blob"},
    "StringList": {"type": "list", "member": {"shape": "String"}},
    "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
}


def operation(members: dict[str, Any], shapes: dict[str, Any] | None = None, *, uri: str = "/things",
              method: str = "POST", output: dict[str, Any] | None = None, required: tuple[str, ...] = (),
              payload: str | None = None, output_payload: str | None = None, code: int = 200) -> Operation:
    """The operation `Act` of a one-operation service: input `members` (and `required`), output
    `output`, over `SCALARS` and `shapes`."""
    request: dict[str, Any] = {"type": "structure", "required": list(required), "members": members}
    if payload:
        request["payload"] = payload
    model: dict[str, Any] = {
        "metadata": {"apiVersion": "2024-01-01", "endpointPrefix": "test", "protocol": "rest-json",
                     "serviceId": "Test", "signatureVersion": "v4", "signingName": "test"},
        "operations": {"Act": {"name": "Act", "http": {"method": method, "requestUri": uri, "responseCode": code},
                               "input": {"shape": "ActRequest"}}},
        "shapes": {**SCALARS, **(shapes or {}), "ActRequest": request},
    }
    if output is not None:
        response: dict[str, Any] = {"type": "structure", "members": output}
        if output_payload:
            response["payload"] = output_payload
        model["shapes"]["ActResponse"] = response
        model["operations"]["Act"]["output"] = {"shape": "ActResponse"}
    spec = ServiceSpec(name="test", model=ServiceModel(model, "test"))
    op_model = spec.model.operation_model("Act")
    pattern, literals = compile_uri(uri)
    op = Operation(spec, "Act", op_model, method, uri, pattern, literals, code)
    spec.operations["Act"] = op
    return op
