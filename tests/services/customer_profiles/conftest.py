"""Fixtures of the in-process Customer Profiles tests: a runtime per module and backend, built by the
composition root, and the provider `create_app` wires over it (as ApiApp calls it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openprofiles.app import Runtime, build_runtime, create_app
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider
from openprofiles.settings import Settings
from tests.conftest import BACKENDS, database_url_for


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One runtime per test module and backend (modules that need operator grants define their own)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("runtime"),
                        database_url=database_url_for(str(request.param), request))
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def provider(runtime: Runtime) -> CustomerProfilesProvider:
    provider = create_app(runtime).api.providers["customer-profiles"]
    assert isinstance(provider, CustomerProfilesProvider)
    return provider
