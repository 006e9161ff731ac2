"""Customer Profiles as a flow destination (flow_destination.py), in-process on both backends: the
domain opened for a run (its sealing scope and key, object types resolved once per run, templates),
its batches through the ingest service."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.crypto_scope import domain_scope
from openprofiles.services.customer_profiles.flow_destination import FlowDestination, FlowDomain
from openprofiles.services.customer_profiles.search import SearchKey
from openprofiles.settings import Settings
from openprofiles.storage.store import UnitOfWork

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CTX = RequestContext("000000000000", "us-east-1", "test", "r", NOW)
KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _people(target: str) -> dict[str, object]:
    return {"Description": "people", "AllowProfileCreation": True,
            "Fields": {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
                       "name": {"Source": "_source.name", "Target": target}},
            "Keys": {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}}


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url))
    runtime.domains.create(CTX, "d", default_expiration_days=30, default_encryption_key="team key",
                           dead_letter_queue_url=None, settings={}, tags={})
    runtime.object_types.put(runtime.domains.record(CTX, "d"), "people", _people("_profile.FirstName"), NOW)
    yield runtime
    runtime.close()


def _destination(runtime: Runtime) -> FlowDestination:
    return FlowDestination(runtime.store, runtime.domains, runtime.object_types, runtime.ingest)


def _ignore(uow: UnitOfWork, rejected: list[str | None]) -> None:
    pass


def test_the_domains_sealing_scope_and_key(runtime: Runtime) -> None:
    opened = _destination(runtime).open(CTX, "d")
    record = runtime.domains.record(CTX, "d")
    assert (opened.scope, opened.key_ref) == (domain_scope(record.id), None)  # free text: the local keyring
    kms = FlowDomain(dataclasses.replace(record, default_encryption_key=KEY), runtime.object_types, runtime.ingest)
    assert (kms.scope, kms.key_ref) == (domain_scope(record.id), KEY)


def test_a_run_ingests_with_the_object_type_as_it_was_resolved(runtime: Runtime) -> None:
    opened = _destination(runtime).open(CTX, "d")
    opened.resolve("people")
    later_time = NOW + timedelta(seconds=1)
    runtime.object_types.put(runtime.domains.record(CTX, "d"), "people", _people("_profile.LastName"), later_time)
    opened.load("people", ['{"id": "1", "name": "Ann"}'], dropped=[], source="flow-execution:e",
                performed_by="AppFlow", now=NOW, within=_ignore)
    later = _destination(runtime).open(CTX, "d")  # the next run sees the new definition
    later.load("people", ['{"id": "2", "name": "Bob"}'], dropped=[], source="flow-execution:f",
               performed_by="AppFlow", now=NOW, within=_ignore)
    domain = runtime.domains.record(CTX, "d")
    found = {key: runtime.search.search(domain, [SearchKey("crmId", (key,))], False, None, 2) for key in ("1", "2")}
    (ann,), (bob,) = found["1"], found["2"]
    assert ann.fields.get("FirstName") == "Ann" and "LastName" not in ann.fields
    assert bob.fields.get("LastName") == "Bob" and "FirstName" not in bob.fields


def test_templates_resolve_and_letters_go_under_the_batchs_type(runtime: Runtime) -> None:
    opened = _destination(runtime).open(CTX, "d")
    opened.resolve("Salesforce-Contact")
    opened.load("people", [], dropped=[('{"id": 3}', "no object type")], source="flow-execution:e",
                performed_by="AppFlow", now=NOW, within=_ignore)
    record = runtime.domains.record(CTX, "d")
    with runtime.store.read() as uow:
        (letter,) = uow.dead_letters.page(record.id, None, 10)
    assert (letter.object_type_name, letter.source, letter.reason) == ("people", "flow-execution:e", "no object type")
