"""api/router.py: a request's method and raw path to one operation of a service, the most literal
route first; the service of an unsigned request; OpenProfiles' own operations by path."""

from __future__ import annotations

import pytest

from openprofiles.api.router import OwnRoutes, Router
from openprofiles.api.spec import load_services
from openprofiles.services.provider import OwnOperation


@pytest.fixture(scope="module")
def router() -> Router:
    return Router()


def test_a_route_matches_with_its_labels_decoded(router: Router) -> None:
    found = router.match("customer-profiles", "GET", "/domains/a%2Fb")
    assert found is not None
    op, labels = found
    assert op.name == "GetDomain" and labels == {"DomainName": "a/b"}
    assert router.match("customer-profiles", "PATCH", "/domains/d1") is None
    assert router.match("appflow", "GET", "/domains/d1") is None


def test_the_most_literal_route_wins(router: Router) -> None:
    """`/domains/{DomainName}/profiles/search` is SearchProfiles, not a profile called 'search'."""
    found = router.match("customer-profiles", "POST", "/domains/d1/profiles/search")
    assert found is not None and found[0].name == "SearchProfiles"
    found = router.match("customer-profiles", "POST", "/domains/d1/profiles/objects")
    assert found is not None and found[0].name == "ListProfileObjects"


def test_a_match_is_remembered_and_the_memo_is_bounded(router: Router) -> None:
    first = router.match("appflow", "POST", "/describe-flow")
    assert first is not None and router.match("appflow", "POST", "/describe-flow") is first
    for n in range(5000):
        router.match("appflow", "GET", f"/nothing/{n}")
    assert len(router._memo) <= 4096


def test_unsigned_requests_go_to_the_service_whose_route_matches(router: Router) -> None:
    assert [op.name for op in router.operations_at("GET", "/domains/d1")] == ["GetDomain"]
    assert router.service_for_path("POST", "/describe-flow").name == "appflow"  # type: ignore[union-attr]
    assert router.service_for_path("GET", "/no/such/path") is None
    # /tags/{resourceArn} is in both: the ARN in the path decides.
    appflow_arn = "/tags/arn%3Aaws%3Aappflow%3Aus-east-1%3A000000000000%3Aflow%2Ff"
    profile_arn = "/tags/arn%3Aaws%3Aprofile%3Aus-east-1%3A000000000000%3Adomains%2Fd"
    assert {op.service.name for op in router.operations_at("GET", appflow_arn)} == {"customer-profiles", "appflow"}
    assert router.service_for_path("GET", appflow_arn).name == "appflow"  # type: ignore[union-attr]
    assert router.service_for_path("GET", profile_arn).name == "customer-profiles"  # type: ignore[union-attr]


def test_own_routes_match_by_path_alone() -> None:
    routes = OwnRoutes(load_services(), {"appflow": {"PushFlowEvents": OwnOperation(
        "post", "/_openprofiles/flows/{flowName}/events", 202)}})
    found = routes.match("/_openprofiles/flows/my%20flow/events")
    assert found is not None
    route, labels = found
    assert (route.service.name, route.name, route.method, route.status) == ("appflow", "PushFlowEvents", "POST", 202)
    assert route.handler_name == "push_flow_events" and labels == {"flowName": "my flow"}
    assert routes.match("/_openprofiles/flows/f/other") is None
    assert routes.match("/flows/f/events") is None


def test_an_own_route_outside_the_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with /_openprofiles/"):
        OwnRoutes(load_services(), {"appflow": {"Bad": OwnOperation("POST", "/flows/{flowName}", 200)}})
