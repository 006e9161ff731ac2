"""The registry serves the built-in file connectors."""

from __future__ import annotations

from openprofiles.connectors.files import FilesConnector
from openprofiles.connectors.registry import BUILT_IN, ConnectorRegistry
from openprofiles.connectors.s3 import S3Connector


def test_s3_is_served_whatever_the_label() -> None:
    registry = ConnectorRegistry()
    assert registry.get("S3") is S3Connector
    assert registry.get("S3", "anything") is S3Connector


def test_files_is_the_custom_connector_labelled_files() -> None:
    registry = ConnectorRegistry()
    assert registry.get("CustomConnector", "Files") is FilesConnector
    assert registry.get("CustomConnector") is None
    assert registry.get("CustomConnector", "files") is None


def test_built_in_entries_match_the_classes_declarations() -> None:
    classes = ConnectorRegistry().all()
    for key in [("S3", None), ("CustomConnector", "Files")]:
        assert key in BUILT_IN
        cls = classes[key]
        assert (cls.connector_type, cls.label) == (key[0], key[1])
