"""Which connector class serves a connector type (and, for CustomConnector, a label).

Built-in connectors are listed in `BUILT_IN` as "module:Class" paths and imported on first use.
Other packages offer theirs through the `openprofiles.connectors` entry point group (the entry
point's value is the Connector class); such a plugin serves an account only once RegisterConnector
names it (services/appflow/connector_registrations.py), under the label chosen there.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
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
    ("CustomConnector", "SQL"): "openprofiles.connectors.sql:SqlConnector",
    ("CustomConnector", "Singer"): "openprofiles.connectors.singer:SingerConnector",
}


def _key(connector_type: str, label: str | None) -> tuple[str, str | None]:
    return (connector_type, label if connector_type == "CustomConnector" else None)


class ConnectorRegistry:
    def __init__(self) -> None:
        self._classes: dict[tuple[str, str | None], type[Connector]] | None = None
        self._plugins: dict[str, Plugin] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[tuple[str, str | None], type[Connector]]:
        with self._lock:
            if self._classes is None:
                classes: dict[tuple[str, str | None], type[Connector]] = {}
                for key, path in BUILT_IN.items():
                    module, _, name = path.partition(":")
                    classes[key] = getattr(importlib.import_module(module), name)
                self._classes = classes
            return self._classes

    def get(self, connector_type: str, label: str | None = None) -> type[Connector] | None:
        return self._load().get(_key(connector_type, label))

    def all(self) -> dict[tuple[str, str | None], type[Connector]]:
        return dict(self._load())

    def plugin(self, name: str) -> Plugin:
        """The installed `openprofiles.connectors` entry point `name`, loaded.

        LookupError when no installed distribution declares it; PluginError when it cannot be
        imported or is not a Connector class.
        """
        with self._lock:
            if name in self._plugins:
                return self._plugins[name]
        points = entry_points(group=ENTRY_POINT_GROUP, name=name)
        if not points:
            raise LookupError(name)
        point = next(iter(points))
        try:
            cls = point.load()
        except Exception as error:  # a plugin's import may fail in any way
            raise PluginError(f"entry point {name} ({point.value}) cannot be loaded: "
                              f"{type(error).__name__}: {error}") from None
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise PluginError(f"entry point {name} ({point.value}) is not a subclass of "
                              "openprofiles.connectors.base.Connector")
        dist = point.dist
        plugin = Plugin(name, cls, dist.name if dist else None, dist.version if dist else None)
        with self._lock:
            self._plugins[name] = plugin
        return plugin


class PluginError(Exception):
    """An installed plugin entry point that does not give a Connector class."""


@dataclass(frozen=True)
class Plugin:
    """A connector offered by an installed package through the entry point group."""

    name: str
    connector: type[Connector]
    distribution: str | None
    version: str | None
