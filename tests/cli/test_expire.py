"""`openprofiles expire`: one retention sweep now, with the system clock, reporting what it removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.invoke import command
from tests.cli.sources import FIELDS, KEYS, Site, caller, profile_count


def test_expire_removes_what_has_expired(database_url: str, tmp_path: Path) -> None:
    site = Site(tmp_path, database_url)
    now = datetime.now(UTC)
    with site.runtime() as runtime:
        ctx = caller(now)
        runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                               dead_letter_queue_url=None, settings={}, tags={})
        domain = runtime.domains.record(ctx, "d")
        otype = runtime.object_types.put(domain, "crm", {"Description": "x", "ExpirationDays": 2,
                                                         "AllowProfileCreation": True, "Fields": FIELDS,
                                                         "Keys": KEYS}, now).object_type
        for age, key in ((3, "old"), (1, "new")):  # days: past the type's 2 days, and not
            runtime.ingest.ingest(domain, otype, [f'{{"id": "{key}"}}'], source="t", performed_by="t",
                                  now=now - timedelta(days=age))
    assert command("expire", *site.storage()).stdout == "Removed 1 profiles and 1 objects\n"
    assert command("expire", *site.storage()).stdout == "Removed 0 profiles and 0 objects\n"
    with site.runtime() as runtime:
        assert profile_count(runtime, caller()) == 1
