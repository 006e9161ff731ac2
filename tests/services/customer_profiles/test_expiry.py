"""Retention: an injected clock moves past ExpirationDays and the sweep removes what expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from openprofiles.app import build_runtime
from openprofiles.clock import FixedClock
from openprofiles.context import RequestContext
from openprofiles.settings import Settings

START = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


def test_sweep_removes_expired_objects_then_profiles(database_url: str, tmp_path: Path) -> None:
    clock = FixedClock(START)
    runtime = build_runtime(Settings(data_dir=tmp_path, database_url=database_url), clock=clock)
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", START)
    runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    domain = runtime.domains.record(ctx, "d")
    short = runtime.object_types.put(domain, "short", {"Description": "x", "ExpirationDays": 2, "AllowProfileCreation": True,
                                                      "Fields": FIELDS, "Keys": KEYS}, START).object_type
    long = runtime.object_types.put(domain, "long", {"Description": "x", "AllowProfileCreation": True,
                                                    "Fields": FIELDS, "Keys": KEYS}, START).object_type
    (a,) = runtime.ingest.ingest(domain, short, ['{"id": "1", "email": "a@x.com"}'], source="t", performed_by="t", now=START)
    (b,) = runtime.ingest.ingest(domain, long, ['{"id": "2", "email": "b@x.com"}'], source="t", performed_by="t", now=START)
    assert a.profile_id and b.profile_id

    clock.advance(timedelta(days=1))
    assert runtime.expiry.sweep().objects == 0

    clock.advance(timedelta(days=2))  # past the short type's 2 days, not the domain's 30
    result = runtime.expiry.sweep()
    assert (result.objects, result.profiles) == (1, 1)  # the short object, and its profile (2 days too)
    assert runtime.profiles.get_many(domain, [a.profile_id]) == {}
    assert b.profile_id in runtime.profiles.get_many(domain, [b.profile_id])

    clock.advance(timedelta(days=30))
    result = runtime.expiry.sweep()
    assert (result.objects, result.profiles) == (1, 1)
    with runtime.store.read() as uow:
        assert uow.profiles.count(domain.id) == 0
        history = uow.history.for_profile(domain.id, b.profile_id, None, 10)
    assert history[-1].action_type == "EXPIRED"
    runtime.close()
