"""services/appflow/handlers_events.py in process, on SQLite and PostgreSQL: PushFlowEvents as the
AppFlow provider declares and handles it, and through ApiApp's request path (no HTTP server):
202 with the execution, the run landing profiles, AppFlow's errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
import pytest

from openprofiles import errors
from openprofiles.api.dispatch import HttpRequest
from openprofiles.app import Runtime, create_app
from openprofiles.services.appflow.handlers_events import PATH, EventHandlers
from openprofiles.services.provider import OwnOperation
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import appflow_provider, caller, files_flow, profile_count, runtime_for


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("events")) as rt:
        yield rt


def test_the_operation_is_declared_under_the_own_prefix() -> None:
    assert EventHandlers.own_operations == {"PushFlowEvents": OwnOperation("POST", PATH, 202)}
    assert PATH == "/_openprofiles/flows/{flowName}/events"


def test_a_push_becomes_an_execution_that_lands_profiles(runtime: Runtime) -> None:
    ctx = caller("PushFlowEvents")
    files_flow(runtime, ctx, "pushed", [], trigger="Event")
    provider = appflow_provider(runtime)
    with pytest.raises(errors.Conflict, match="StartFlow"):
        provider.push_flow_events(ctx, {"flowName": "pushed", "body": b'{"id": "1"}'})
    runtime.runner.start(ctx, "pushed")
    body = b'[{"id": "1", "email": "ann@example.com"}, {"id": "2", "email": "bob@example.com"}]'
    pushed = provider.push_flow_events(ctx, {"flowName": "pushed", "body": body})
    assert pushed["recordCount"] == 2
    assert pushed["flowArn"] == f"arn:aws:appflow:{ctx.region}:{ctx.account_id}:flow/pushed"
    outcome = runtime.runner.wait(pushed["executionId"], timeout=60)
    assert outcome is not None and outcome.status == "Successful", outcome
    assert profile_count(runtime, ctx) == 2


def _push(runtime: Runtime, path: str, body: bytes, method: str = "POST") -> tuple[int, dict[str, str], Any]:
    """A push through the ApiApp the composition root builds for these services in `--auth open`
    mode (as account 000000000000)."""
    open_mode = replace(runtime, settings=replace(runtime.settings, auth="open"))
    response = create_app(open_mode).api.handle(HttpRequest(method, path, "", [("host", "localhost")], body))
    return response.status, response.headers, orjson.loads(response.body)


def test_through_the_api_request_path(runtime: Runtime) -> None:
    ctx = caller("PushFlowEvents", account_id="000000000000")
    files_flow(runtime, ctx, "api-pushed", [], trigger="Event")
    runtime.runner.start(ctx, "api-pushed")
    status, headers, body = _push(runtime, "/_openprofiles/flows/api-pushed/events", b'{"id": "3"}\n{"id": "4"}\n')
    assert status == 202 and headers["Content-Type"] == "application/json" and body["recordCount"] == 2
    outcome = runtime.runner.wait(body["executionId"], timeout=60)
    assert outcome is not None and outcome.status == "Successful", outcome

    status, headers, _ = _push(runtime, "/_openprofiles/flows/missing/events", b"{}")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "ResourceNotFoundException")
    status, headers, body = _push(runtime, "/_openprofiles/flows/api-pushed/events", b"[]")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException") and "no records" in body["message"]
    status, headers, _ = _push(runtime, "/_openprofiles/flows/api-pushed/events", b"", method="GET")
    assert status == 405
