"""`openprofiles dead-letters list|show|redrive|flush` (and `openprofiles expire`), in this process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from openprofiles.app import build_runtime
from openprofiles.context import RequestContext
from openprofiles.settings import Settings
from tests.cli.invoke import command

FIELDS = {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"}}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


def test_list_show_redrive(database_url: str, tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path, database_url=database_url))
    now = datetime.now(UTC)
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", now)
    runtime.domains.create(ctx, "dl", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    domain = runtime.domains.record(ctx, "dl")
    otype = runtime.object_types.put(domain, "crm", {"Description": "x", "Fields": FIELDS, "Keys": KEYS}, now).object_type
    runtime.ingest.ingest(domain, otype, ['{"id": "42"}', "{broken"], source="test", performed_by="t", now=now)
    storage = ["--data-dir", str(tmp_path), "--database-url", database_url]

    listed = json.loads(command("dead-letters", "list", "--domain", "dl", "--json", *storage).stdout)
    assert [letter["ObjectTypeName"] for letter in listed] == ["crm", "crm"]
    assert "AllowProfileCreation" in listed[0]["Reason"] and "JSON" in listed[1]["Reason"]
    assert "Object" not in listed[0]  # payloads only with `show`
    table = command("dead-letters", "list", *storage).stdout
    assert "crm" in table

    shown = json.loads(command("dead-letters", "show", str(listed[0]["Id"]), *storage).stdout)
    assert shown["Object"] == '{"id": "42"}'
    missing = command("dead-letters", "show", "999999", *storage)
    assert missing.exit_code != 0 and "does not exist" in missing.stderr

    # Still no profile to attach to: the redrive is rejected again and says so.
    again = command("dead-letters", "redrive", str(listed[0]["Id"]), *storage)
    assert again.exit_code == 1 and "rejected again" in again.stderr
    runtime.object_types.put(domain, "crm", {"Description": "x", "AllowProfileCreation": True, "Fields": FIELDS,
                                             "Keys": KEYS}, now)
    done = command("dead-letters", "redrive", str(listed[0]["Id"]), *storage)
    assert "ingested as" in done.stdout
    assert runtime.dead_letters.get(listed[0]["Id"]).redriven_at is not None
    assert "Sent 0" in command("dead-letters", "flush", *storage).stdout
    assert "Removed 0 profiles and 0 objects" in command("expire", *storage).stdout
    runtime.close()


def test_list_of_a_domain_that_does_not_exist(database_url: str, tmp_path: Path) -> None:
    storage = ["--data-dir", str(tmp_path), "--database-url", database_url]
    missing = command("dead-letters", "list", "--domain", "nope", "--region", "eu-west-1", *storage)
    assert missing.exit_code == 1
    assert "Domain nope does not exist for account 000000000000 in eu-west-1" in missing.stderr
    assert json.loads(command("dead-letters", "list", "--json", *storage).stdout) == []
