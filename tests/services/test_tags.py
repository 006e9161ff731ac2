"""services/tags.py: tags on resources addressed by ARN, on both backends; only the caller's existing
resources of a registered kind can be tagged, and a resource holds at most 50 tags."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.arns import Arn
from openprofiles.services.tags import MAX_TAGS, TagService
from openprofiles.storage.database import Database
from openprofiles.storage.store import Store, UnitOfWork
from tests.conftest import BACKENDS, database_url_for

CTX = RequestContext("000000000000", "us-east-1", "TagResource", "r1", datetime(2026, 1, 1, tzinfo=UTC))
THINGS = "arn:aws:profile:us-east-1:000000000000:things/"


@pytest.fixture(scope="module", params=BACKENDS)
def tags(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TagService]:
    """A service (one database per backend) where every `things/NAME` but `things/absent` exists in the
    `profile` service."""
    url = database_url_for(str(request.param), request) or f"sqlite:///{tmp_path_factory.mktemp('tags') / 'db'}"
    db = Database(url)
    db.migrate()
    service = TagService(Store(db))

    def thing_exists(uow: UnitOfWork, arn: Arn) -> bool:
        return arn.resource.startswith("things/") and arn.resource != "things/absent"

    service.register("profile", "things", thing_exists)
    yield service
    db.dispose()


@pytest.fixture
def thing() -> str:
    """The ARN of a thing no other test tags."""
    return THINGS + uuid.uuid4().hex


def test_tag_list_untag(tags: TagService, thing: str) -> None:
    tags.tag(CTX, "profile", thing, {"team": "a", "env": "dev"})
    tags.tag(CTX, "profile", thing, {"env": "prod"})  # overwrites one, keeps the other
    assert tags.list(CTX, "profile", thing) == {"env": "prod", "team": "a"}
    tags.untag(CTX, "profile", thing, ["team", "absent"])
    assert tags.list(CTX, "profile", thing) == {"env": "prod"}
    assert tags.list(CTX, "profile", THINGS + "other") == {}


def test_an_arn_of_another_service_or_no_arn_is_invalid(tags: TagService, thing: str) -> None:
    with pytest.raises(Invalid, match="is not an ARN of this service"):
        tags.tag(CTX, "appflow", thing, {"a": "b"})
    with pytest.raises(Invalid, match="is not an ARN of this service"):
        tags.list(CTX, "profile", "things/one")


def test_what_the_caller_cannot_see_is_not_found(tags: TagService) -> None:
    for arn in (
        "arn:aws:profile:us-east-1:111111111111:things/one",  # another account
        "arn:aws:profile:eu-west-1:000000000000:things/one",  # another region
        THINGS + "absent",  # nothing of that name
        "arn:aws:profile:us-east-1:000000000000:others/one",  # a kind nobody registered
    ):
        with pytest.raises(NotFound, match=f"Resource {arn} does not exist"):
            tags.tag(CTX, "profile", arn, {"a": "b"})
        with pytest.raises(NotFound):
            tags.list(CTX, "profile", arn)
        with pytest.raises(NotFound):
            tags.untag(CTX, "profile", arn, ["a"])


def test_at_most_50_tags_counting_those_it_has(tags: TagService, thing: str) -> None:
    tags.tag(CTX, "profile", thing, {f"k{i}": "v" for i in range(MAX_TAGS - 1)})
    tags.tag(CTX, "profile", thing, {"k0": "again", "last": "v"})  # one new key: 50 in all
    with pytest.raises(Invalid, match=f"at most {MAX_TAGS} tags"):
        tags.tag(CTX, "profile", thing, {"one-too-many": "v"})
    found = tags.list(CTX, "profile", thing)
    assert len(found) == MAX_TAGS and found["k0"] == "again" and "one-too-many" not in found
