"""services/appflow/provider.py: the AppFlow provider as the composition root wires it: every handler
is an operation of the AppFlow model (or OpenProfiles' own), its quick reads are operations, each
domain error becomes its modeled exception, and the tag operations reach AppFlow's resources;
in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from openprofiles import errors
from openprofiles.app import Runtime
from openprofiles.flows.engine import NoObjectType
from openprofiles.services.appflow.connector_profiles import ConnectorAuthenticationFailed, ConnectorServerFailed
from openprofiles.services.appflow.connector_registrations import PluginUnusable
from openprofiles.services.appflow.provider import AppFlowProvider
from openprofiles.services.provider import Provider
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import appflow_provider, caller, files_config, files_dir, runtime_for

MODEL = botocore.session.get_session().get_service_model("appflow")


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("provider")) as rt:
        yield rt


@pytest.fixture
def provider(runtime: Runtime) -> Any:
    return appflow_provider(runtime)


def _handler_names() -> set[str]:
    """The public methods AppFlowProvider adds to Provider: its handlers."""
    return {name for name, member in inspect.getmembers(AppFlowProvider, inspect.isfunction)
            if not name.startswith("_") and not hasattr(Provider, name)}


def test_every_handler_is_an_operation_and_the_model_operations_it_serves() -> None:
    operations = {xform_name(name): name for name in MODEL.operation_names}
    own = {xform_name(name) for name in AppFlowProvider.own_operations}
    unknown = _handler_names() - set(operations) - own
    assert not unknown, f"handlers no operation calls: {sorted(unknown)}"
    served = {operations[name] for name in _handler_names() if name in operations}
    assert {"CreateFlow", "StartFlow", "DescribeFlowExecutionRecords", "CreateConnectorProfile", "ListConnectors",
            "RegisterConnector", "TagResource"} <= served
    assert own == {"push_flow_events"} and "PushFlowEvents" not in MODEL.operation_names
    assert AppFlowProvider.quick_reads <= set(MODEL.operation_names)


def test_handler_finds_only_methods(provider: Any) -> None:
    assert provider.handler("describe_flow") == provider.describe_flow
    assert provider.handler("events") is None  # an attribute, not a handler
    assert provider.handler("no_such_operation") is None


@pytest.mark.parametrize(("error", "code"), [
    (ConnectorAuthenticationFailed("x"), "ConnectorAuthenticationException"),
    (ConnectorServerFailed("x"), "ConnectorServerException"),
    (PluginUnusable("x"), "ConnectorServerException"),
    (errors.NotFound("x"), "ResourceNotFoundException"),
    (errors.AlreadyExists("x"), "ConflictException"),
    (errors.Conflict("x"), "ConflictException"),
    (NoObjectType("x"), "ConflictException"),  # a Conflict: its nearest mapped base
    (errors.LimitExceeded("x"), "ServiceQuotaExceededException"),
    (errors.Unsupported("x"), "UnsupportedOperationException"),
    (errors.AccessDenied("x"), "AccessDeniedException"),
    (errors.Invalid("x"), "ValidationException"),
    (errors.ServiceError("x"), "ValidationException"),
])
def test_each_domain_error_is_a_modeled_exception(provider: Any, error: errors.ServiceError, code: str) -> None:
    assert code in {shape.name for shape in MODEL.error_shapes}
    assert provider.error_code(error) == code


def test_tags_reach_appflow_resources_only(provider: Any, runtime: Runtime) -> None:
    ctx = caller()
    arn = provider.create_connector_profile(ctx, {
        "connectorProfileName": "tagged", "connectorType": "CustomConnector", "connectorLabel": "Files",
        "connectionMode": "Public", "connectorProfileConfig": files_config(files_dir(runtime))})["connectorProfileArn"]
    assert provider.tag_resource(ctx, {"resourceArn": arn, "tags": {"team": "crm", "tier": "1"}}) == {}
    provider.untag_resource(ctx, {"resourceArn": arn, "tagKeys": ["tier"]})
    assert provider.list_tags_for_resource(ctx, {"resourceArn": arn}) == {"tags": {"team": "crm"}}
    with pytest.raises(errors.NotFound):
        provider.tag_resource(ctx, {"resourceArn": arn.replace("tagged", "missing"), "tags": {"a": "b"}})
    runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    domain_arn = f"arn:aws:profile:{ctx.region}:{ctx.account_id}:domains/d"
    with pytest.raises(errors.Invalid, match="not an ARN of this service"):
        provider.tag_resource(ctx, {"resourceArn": domain_arn, "tags": {"a": "b"}})  # Customer Profiles'
    with pytest.raises(errors.NotFound):  # another account's profile
        provider.list_tags_for_resource(caller(), {"resourceArn": arn})
