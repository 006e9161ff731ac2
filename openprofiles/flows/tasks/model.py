"""What the botocore AppFlow model says about tasks: each connector's operators and the property keys."""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session

from openprofiles.errors import Invalid


@cache
def _model() -> Any:
    return botocore.session.get_session().get_service_model("appflow")


@cache
def property_keys() -> frozenset[str]:
    """The model's OperatorPropertiesKeys: every key a task's taskProperties may hold."""
    return frozenset(_model().shape_for("OperatorPropertiesKeys").enum)


@cache
def connector_operators() -> dict[str, frozenset[str]]:
    """Each ConnectorOperator member (`Salesforce`, `ServiceNow`, …) with its operator enum."""
    return {name: frozenset(member.enum) for name, member in _model().shape_for("ConnectorOperator").members.items()}


def connector_key(connector_type: str) -> str:
    """The ConnectorOperator member of a source connector type (`Servicenow` → `ServiceNow`)."""
    for key in connector_operators():
        if key.lower() == connector_type.lower():
            return key
    raise Invalid(f"Connector type {connector_type!r} cannot be a flow source: it has no task operators")
