"""Which connector class serves a connector type (and, for CustomConnector, a label).

Built-in connectors are listed in `BUILT_IN` as "module:Class" paths and imported on first use;
other packages add theirs through the `openprofiles.connectors` entry point group (the entry
point's value is the Connector class). A plugin may not replace a built-in.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points

from openprofiles.connectors.base import Connector

ENTRY_POINT_GROUP = "openprofiles.connectors"

#: (connectorType, label or None) -> "module:Class"
BUILT_IN: dict[tuple[str, str | None], str] = {
    ("S3", None): "openprofiles.connectors.s3:S3Connector",
    ("Zendesk", None): "openprofiles.connectors.zendesk:ZendeskConnector",
    ("Servicenow", None): "openprofiles.connectors.servicenow:ServiceNowConnector",
    ("Slack", None): "openprofiles.connectors.slack:SlackConnector",
    ("Marketo", None): "openprofiles.connectors.marketo:MarketoConnector",
    ("Salesforce", None): "openprofiles.connectors.salesforce:SalesforceConnector",
    ("CustomConnector", "Files"): "openprofiles.connectors.files:FilesConnector",
}


def _key(connector_type: str, label: str | None) -> tuple[str, str | None]:
    return (connector_type, label if connector_type == "CustomConnector" else None)


class ConnectorRegistry:
    def __init__(self) -> None:
        self._classes: dict[tuple[str, str | None], type[Connector]] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[tuple[str, str | None], type[Connector]]:
        with self._lock:
            if self._classes is None:
                classes: dict[tuple[str, str | None], type[Connector]] = {}
                for key, path in BUILT_IN.items():
                    module, _, name = path.partition(":")
                    classes[key] = getattr(importlib.import_module(module), name)
                for point in entry_points(group=ENTRY_POINT_GROUP):
                    cls = point.load()
                    if isinstance(cls, type) and issubclass(cls, Connector):
                        classes.setdefault(_key(cls.connector_type, cls.label), cls)
                self._classes = classes
            return self._classes

    def get(self, connector_type: str, label: str | None = None) -> type[Connector] | None:
        return self._load().get(_key(connector_type, label))

    def all(self) -> dict[tuple[str, str | None], type[Connector]]:
        return dict(self._load())
