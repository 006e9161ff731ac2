"""Amazon AppFlow: the operations, in wire names, over the domain services."""

from __future__ import annotations

from typing import Any, ClassVar

from openprofiles import errors
from openprofiles.services.appflow.connector_profiles import (
    ConnectorAuthenticationFailed,
    ConnectorProfileService,
    ConnectorServerFailed,
)
from openprofiles.services.appflow.connector_registrations import PluginUnusable
from openprofiles.services.appflow.executions import FlowRunner
from openprofiles.services.appflow.flow_events import FlowEvents
from openprofiles.services.appflow.flows import FlowService
from openprofiles.services.appflow.handlers_connectors import ConnectorHandlers
from openprofiles.services.appflow.handlers_events import EventHandlers
from openprofiles.services.appflow.handlers_executions import ExecutionHandlers
from openprofiles.services.appflow.handlers_flows import FlowHandlers
from openprofiles.services.appflow.handlers_registrations import RegistrationHandlers
from openprofiles.services.pagination import PageTokens
from openprofiles.services.provider import Provider, TagHandlers
from openprofiles.services.tags import TagService

Params = dict[str, Any]


class AppFlowProvider(FlowHandlers, ConnectorHandlers, RegistrationHandlers, ExecutionHandlers, EventHandlers,
                      TagHandlers, Provider):
    arn_service = "appflow"
    error_codes: ClassVar[dict[type[errors.ServiceError], str]] = {
        ConnectorAuthenticationFailed: "ConnectorAuthenticationException",
        ConnectorServerFailed: "ConnectorServerException",
        PluginUnusable: "ConnectorServerException",
        errors.NotFound: "ResourceNotFoundException",
        errors.AlreadyExists: "ConflictException",
        errors.Conflict: "ConflictException",
        errors.LimitExceeded: "ServiceQuotaExceededException",
        errors.Unsupported: "UnsupportedOperationException",
        errors.AccessDenied: "AccessDeniedException",
        errors.ServiceError: "ValidationException",
    }
    quick_reads: ClassVar[frozenset[str]] = frozenset({"DescribeFlow"})

    def __init__(
        self,
        tags: TagService,
        pages: PageTokens,
        flows: FlowService,
        connector_profiles: ConnectorProfileService,
        runner: FlowRunner,
        events: FlowEvents,
    ) -> None:
        self.tags = tags
        self.pages = pages
        self.flows = flows
        self.connector_profiles = connector_profiles
        self.runner = runner
        self.events = events
