"""Customer Profiles' FlowDefinition (PutIntegration, CreateIntegrationWorkflow) as an AppFlow flow.

FlowDefinition is Customer Profiles' PascalCase copy of a subset of AppFlow's CreateFlow members.
`create_flow_request` turns it into the camelCase CreateFlow request that delivers to a domain's
object type, and `checked` runs it through the same FlowService rules as CreateFlow, reporting a
broken rule as Invalid (BadRequestException) naming the FlowDefinition member.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

import botocore.session

from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.appflow.flows import DESTINATION, FlowService, definition_of

#: Members whose own keys are names (connector types, operator property keys), kept as they are.
_NAMED_KEYS = frozenset({"SourceConnectorProperties", "ConnectorOperator", "TaskProperties", "TriggerProperties"})
#: In an AppFlow message: a value (quoted text, a field named in a format: "${tasks}"), or a name or
#: dotted path ("tasks.3.taskProperties.VALUE") that is not part of a longer value ("my-tasks", "a/tasks").
_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|\$\{[^}]*\}|(?<![\w.\-/!@#+=])[A-Za-z_]\w*(?:\.\w+)*(?![\w\-/!@#+=])""")


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


@cache
def _member_names() -> tuple[frozenset[str], frozenset[str]]:
    """AppFlow's names of FlowDefinition's members (botocore's model): at its root, and below it
    (not the names `_NAMED_KEYS` members use as keys: "S3", "Scheduled")."""
    root = botocore.session.get_session().get_service_model("customer-profiles").shape_for("FlowDefinition")
    below: set[str] = set()
    shapes = list(root.members.items())
    while shapes:
        name, shape = shapes.pop()
        if shape.type_name == "structure":
            if name not in _NAMED_KEYS:
                below.update(map(_camel, shape.members))
            shapes.extend(shape.members.items())
        elif shape.type_name == "list":
            shapes.append((name, shape.member))
        elif shape.type_name == "map":
            shapes.append((name, shape.value))
    return frozenset(map(_camel, root.members)), frozenset(below)


def _values(value: Any, named: bool = False) -> set[str]:
    """The text values of a CreateFlow request, and the names it uses as keys (connector types, task
    property keys)."""
    if isinstance(value, Mapping):
        keys = {str(key) for key in value} if named else set()
        return keys.union(*(_values(item, _pascal(str(key)) in _NAMED_KEYS) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return set().union(*(_values(item) for item in value))
    return {value} if isinstance(value, str) else set()


def flow_definition_message(message: str, member: str = "FlowDefinition", values: Collection[str] = ()) -> str:
    """An AppFlow validation message naming FlowDefinition members: a member path from FlowDefinition's
    root ("tasks.2.sourceFields.1", "kmsArn") becomes that path below `member`, a path or camelCase name
    of a member below the root ("scheduleEndTime") its FlowDefinition name. Values stay as they are:
    quoted text, `values` (those of the request checked), and the names a path uses as keys
    ("taskProperties.VALUE"). Single words below the root ("timezone", "object") are taken for prose."""
    roots, below = _member_names()

    def renamed(match: re.Match[str]) -> str:
        token = match.group(0)
        head, *rest = token.split(".")
        named = head in roots or (head in below and (bool(rest) or head != head.lower()))
        if token[0] in "'\"$" or token in values or not named:
            return token
        path, keep = [], False
        for segment in (head, *rest):
            path.append(segment if keep or segment.isdigit() else _pascal(segment))
            keep = _pascal(segment) in _NAMED_KEYS
        return ".".join([member, *path] if head in roots else path)

    return _TOKEN.sub(renamed, message)


def checked(flows: FlowService, ctx: RequestContext, request: Mapping[str, Any],
            member: str = "FlowDefinition") -> dict[str, Any]:
    """The stored flow definition of a CreateFlow request made from a FlowDefinition, after the
    FlowService checks; Invalid naming the FlowDefinition member (below `member`) when one fails."""
    definition = definition_of(request)
    try:
        flows.check(ctx, definition)
    except (Invalid, NotFound) as error:
        raise Invalid(flow_definition_message(error.message, member, _values(request))) from None
    return definition
