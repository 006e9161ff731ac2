"""Plugin connectors: installed packages' `openprofiles.connectors` entry points, loaded by name
(tests/fakes/plugin is such a package, found once its directory is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openprofiles.connectors.registry import ConnectorRegistry, PluginError

PLUGIN_DIR = Path(__file__).resolve().parent.parent / "fakes" / "plugin"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> ConnectorRegistry:
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    return ConnectorRegistry()


def test_a_plugin_is_loaded_by_its_entry_point_name(registry: ConnectorRegistry) -> None:
    plugin = registry.plugin("roster")
    assert plugin.connector.__name__ == "RosterConnector"
    assert plugin.connector.connector_type == "CustomConnector"
    assert (plugin.distribution, plugin.version) == ("openprofiles-roster", "1.2.0")
    assert registry.plugin("roster") is plugin


def test_plugins_are_not_served_without_registration(registry: ConnectorRegistry) -> None:
    registry.plugin("roster")
    assert all(cls.__name__ != "RosterConnector" for cls in registry.all().values())
    assert registry.get("CustomConnector", "roster") is None


def test_unknown_and_unusable_entry_points(registry: ConnectorRegistry) -> None:
    with pytest.raises(LookupError):
        registry.plugin("no-such-plugin")
    with pytest.raises(PluginError, match="NoSuchClass"):
        registry.plugin("broken")
    with pytest.raises(PluginError, match="not a subclass"):
        registry.plugin("not-a-connector")
