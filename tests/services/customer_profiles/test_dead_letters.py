"""Dead letters: kept durably with their reason, sent to the domain's SQS queue (moto server),
retried when the queue is unreachable, and redriven after the mapping is fixed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from openprofiles.app import Runtime, build_runtime
from openprofiles.clock import SystemClock
from openprofiles.context import RequestContext
from openprofiles.settings import Settings
from tests.harness import MotoServer

FIELDS = {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"}}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, aws_env: MotoServer) -> Runtime:
    # The operator let the tests' account use the moto server's queues (of its account 123456789012).
    settings = Settings(data_dir=tmp_path, database_url=database_url,
                        aws_resources=("000000000000=arn:aws:sqs:us-east-1:123456789012:*",))
    rt = build_runtime(settings, clock=SystemClock())
    yield rt
    rt.close()


def _domain(rt: Runtime, name: str, queue_url: str | None):  # type: ignore[no-untyped-def]
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", datetime.now(UTC))
    rt.domains.create(ctx, name, default_expiration_days=30, default_encryption_key=None,
                      dead_letter_queue_url=queue_url, settings={}, tags={})
    return rt.domains.record(ctx, name)


def test_rejected_objects_reach_the_queue(runtime: Runtime, aws_env: MotoServer) -> None:
    sqs = aws_env.client("sqs")
    url = sqs.create_queue(QueueName=f"dlq-{id(runtime)}")["QueueUrl"]
    domain = _domain(runtime, "d", url)
    otype = runtime.object_types.put(domain, "crm", {"Description": "x", "Fields": FIELDS, "Keys": KEYS},
                                     datetime.now(UTC)).object_type
    results = runtime.ingest.ingest(domain, otype, ['{"id": "1"}', "not json"], source="test", performed_by="t",
                                    now=datetime.now(UTC))
    assert all(r.rejected for r in results)  # no profile to attach to (AllowProfileCreation false), bad JSON
    runtime.dead_letters.flush()
    letters = runtime.dead_letters.page(domain.id, None, 10)
    assert [letter.queue_state for letter in letters] == ["sent", "sent"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    bodies = sorted((orjson.loads(m["Body"]) for m in messages), key=lambda b: b["DeadLetterId"])
    assert bodies[0]["Object"] == '{"id": "1"}' and "AllowProfileCreation" in bodies[0]["Reason"]
    assert bodies[1]["Object"] == "not json" and "JSON" in bodies[1]["Reason"]
    assert bodies[0]["DomainName"] == "d" and bodies[0]["ObjectTypeName"] == "crm"


def test_unreachable_queue_keeps_the_letter_and_retries(runtime: Runtime, aws_env: MotoServer) -> None:
    sqs = aws_env.client("sqs")
    name = f"later-{id(runtime)}"
    url = f"{aws_env.endpoint}/123456789012/{name}"  # the queue does not exist yet
    domain = _domain(runtime, "late", url)
    otype = runtime.object_types.put(domain, "crm", {"Description": "x", "Fields": FIELDS, "Keys": KEYS},
                                     datetime.now(UTC)).object_type
    runtime.ingest.ingest(domain, otype, ['{"id": "9"}'], source="test", performed_by="t", now=datetime.now(UTC))
    assert runtime.dead_letters.flush() == 0
    (letter,) = runtime.dead_letters.page(domain.id, None, 10)
    assert letter.queue_state == "pending" and letter.queue_error and letter.queue_attempts >= 1
    created = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert created.endswith(name)
    assert runtime.dead_letters.flush() == 1
    assert runtime.dead_letters.get(letter.id).queue_state == "sent"


def test_redrive_after_fixing_the_mapping(runtime: Runtime) -> None:
    domain = _domain(runtime, "redrive", None)
    now = datetime.now(UTC)
    otype = runtime.object_types.put(domain, "crm", {"Description": "x", "Fields": FIELDS, "Keys": KEYS}, now).object_type
    (result,) = runtime.ingest.ingest(domain, otype, ['{"id": "5"}'], source="test", performed_by="t", now=now)
    assert result.rejected
    (letter,) = runtime.dead_letters.page(domain.id, None, 10)
    assert letter.queue_state == "none"  # no queue configured: kept only in the store
    assert runtime.dead_letters.get(letter.id).payload == '{"id": "5"}'
    runtime.object_types.put(domain, "crm", {"Description": "x", "AllowProfileCreation": True, "Fields": FIELDS,
                                             "Keys": KEYS}, datetime.now(UTC))
    redriven = runtime.dead_letters.redrive(letter.id, runtime.ingest, runtime.object_types)
    assert redriven.rejected is None and redriven.created_profile
    assert runtime.dead_letters.get(letter.id).redriven_at is not None
