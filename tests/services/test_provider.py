"""services/provider.py: handlers found by name, a domain error's modeled code by its nearest mapped
class, and the tag operations every provider shares, in wire names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from openprofiles import errors
from openprofiles.context import RequestContext
from openprofiles.services.arns import Arn
from openprofiles.services.provider import Provider, TagHandlers
from openprofiles.services.tags import TagService
from openprofiles.storage.database import Database
from openprofiles.storage.store import Store, UnitOfWork
from tests.conftest import BACKENDS, database_url_for

CTX = RequestContext("000000000000", "us-east-1", "TagResource", "r1", datetime(2026, 1, 1, tzinfo=UTC))
FLOW = "arn:aws:appflow:us-east-1:000000000000:flow/f1"


class Missing(errors.NotFound):
    """A subclass no provider maps itself."""


class Codes(Provider):
    error_codes: ClassVar[dict[type[errors.ServiceError], str]] = {
        errors.NotFound: "ResourceNotFoundException",
        errors.Invalid: "ValidationException",
    }


class Example(TagHandlers, Codes):
    arn_service = "appflow"

    def __init__(self, tags: TagService) -> None:
        self.tags = tags


@pytest.fixture(scope="module", params=BACKENDS)
def provider(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    """A provider whose only taggable resource is flow f1."""
    url = database_url_for(str(request.param), request) or f"sqlite:///{tmp_path_factory.mktemp('provider') / 'db'}"
    db = Database(url)
    db.migrate()
    tags = TagService(Store(db))

    def flow_exists(uow: UnitOfWork, arn: Arn) -> bool:
        return arn.resource == "flow/f1"

    tags.register("appflow", "flow", flow_exists)
    yield Example(tags)
    db.dispose()


def test_an_error_maps_by_its_nearest_mapped_class() -> None:
    provider = Codes()
    assert provider.error_code(errors.NotFound("x")) == "ResourceNotFoundException"
    assert provider.error_code(Missing("x")) == "ResourceNotFoundException"
    assert provider.error_code(errors.Invalid("x")) == "ValidationException"
    assert provider.error_code(errors.Conflict("x")) == "InternalServerException"  # nothing maps it


def test_a_handler_is_a_method_named_after_the_operation(tmp_path: Path) -> None:
    provider = Example(TagService(Store(Database(f"sqlite:///{tmp_path / 'unused.db'}"))))  # never opened
    assert provider.handler("tag_resource") == provider.tag_resource
    assert provider.handler("create_nothing") is None
    assert provider.handler("error_codes") is None  # an attribute that is not callable is no handler
    assert provider.own_operations == {} and provider.quick_reads == frozenset()


def test_the_tag_operations_in_wire_names(provider: Example) -> None:
    assert provider.tag_resource(CTX, {"resourceArn": FLOW, "tags": {"a": "1", "b": "2"}}) == {}
    assert provider.untag_resource(CTX, {"resourceArn": FLOW, "tagKeys": ["a"]}) == {}
    assert provider.list_tags_for_resource(CTX, {"resourceArn": FLOW}) == {"tags": {"b": "2"}}


def test_the_tag_operations_use_the_providers_arn_service(provider: Example) -> None:
    with pytest.raises(errors.Invalid, match="not an ARN of this service"):
        provider.list_tags_for_resource(CTX, {"resourceArn": "arn:aws:profile:us-east-1:000000000000:domains/d"})
    with pytest.raises(errors.NotFound):
        provider.list_tags_for_resource(CTX, {"resourceArn": FLOW + "x"})
