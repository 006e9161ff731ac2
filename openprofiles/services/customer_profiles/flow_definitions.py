"""Customer Profiles' FlowDefinition (PutIntegration, CreateIntegrationWorkflow) as an AppFlow flow.

FlowDefinition is Customer Profiles' PascalCase copy of a subset of AppFlow's CreateFlow members.
`create_flow_request` turns it into the camelCase CreateFlow request that delivers to a domain's
object type, and `checked` runs it through the same FlowService rules as CreateFlow, reporting a
broken rule as Invalid (BadRequestException) naming the FlowDefinition member.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.appflow.flows import DESTINATION, FlowService, definition_of

#: Members whose own keys are names (connector types, operator property keys), kept as they are.
_NAMED_KEYS = frozenset({"SourceConnectorProperties", "ConnectorOperator", "TaskProperties", "TriggerProperties"})
#: AppFlow member paths in FlowService and task messages ("tasks.3.taskProperties.VALUE").
_PATH = re.compile(r"\b(flowName|description|kmsArn|sourceFlowConfig|tasks|triggerConfig)((?:\.\w+)*)")


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _appflow(value: Any, keep_keys: bool = False) -> Any:
    """A FlowDefinition value in AppFlow's member names (absent members dropped)."""
    if isinstance(value, Mapping):
        return {
            (key if keep_keys else _camel(key)): _appflow(item, key in _NAMED_KEYS)
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, list):
        return [_appflow(item) for item in value]
    return value


def create_flow_request(flow_definition: Mapping[str, Any], domain_name: str, object_type_name: str) -> dict[str, Any]:
    """The AppFlow CreateFlow request for a FlowDefinition, delivering to `domain_name`/`object_type_name`."""
    request: dict[str, Any] = _appflow(flow_definition)
    request["destinationFlowConfigList"] = [{
        "connectorType": DESTINATION,
        "destinationConnectorProperties": {DESTINATION: {"domainName": domain_name, "objectTypeName": object_type_name}},
    }]
    return request


def flow_definition_message(message: str, member: str = "FlowDefinition") -> str:
    """An AppFlow validation message with its member paths as paths below `member`."""
    return _PATH.sub(lambda m: member + "." + ".".join(_pascal(p) for p in m.group(0).split(".")), message)


def checked(flows: FlowService, ctx: RequestContext, request: Mapping[str, Any],
            member: str = "FlowDefinition") -> dict[str, Any]:
    """The stored flow definition of a CreateFlow request made from a FlowDefinition, after the
    FlowService checks; Invalid naming the FlowDefinition member (below `member`) when one fails."""
    definition = definition_of(request)
    try:
        flows.check(ctx, definition)
    except (Invalid, NotFound) as error:
        raise Invalid(flow_definition_message(error.message, member)) from None
    return definition
