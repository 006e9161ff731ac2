"""The botocore model's connector operators and the connector types that may source tasks."""

from __future__ import annotations

import botocore.session
import pytest

from openprofiles.flows.tasks import connector_key, connector_operators
from tests.flows.tasks.helpers import invalid, project

MODEL = botocore.session.get_session().get_service_model("appflow")


@pytest.mark.parametrize(
    ("connector_type", "key"),
    [
        ("Salesforce", "Salesforce"),
        ("Servicenow", "ServiceNow"),
        ("Googleanalytics", "GoogleAnalytics"),
        ("Infornexus", "InforNexus"),
        ("CustomConnector", "CustomConnector"),
        ("SAPOData", "SAPOData"),
        ("S3", "S3"),
    ],
)
def test_connector_key(connector_type: str, key: str) -> None:
    assert connector_key(connector_type) == key


@pytest.mark.parametrize("connector_type", ["CustomerProfiles", "Redshift", "EventBridge", "Nope"])
def test_destination_only_connectors_cannot_source_tasks(connector_type: str) -> None:
    assert "cannot be a flow source" in invalid(project("a"), connector=connector_type)


def test_operator_tables_are_the_models() -> None:
    shape = MODEL.shape_for("ConnectorOperator")
    assert connector_operators() == {name: frozenset(member.enum) for name, member in shape.members.items()}
