"""ObjectTypeService on SQLite and PostgreSQL: definitions stored and compiled once per version,
implicit (template) types, the domain's search keys, and the ingest plan of each compiled version,
kept per service (per Runtime) and made again when the type changes or goes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.errors import NotFound
from openprofiles.services.customer_profiles.ingest import IngestPlan
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.settings import Settings
from openprofiles.storage.domains import DomainRecord

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


def _definition(*field_names: str) -> dict[str, Any]:
    fields = {name: {"Source": f"_source.{name}"} for name in ("id", *field_names)}
    return {"Description": "test", "AllowProfileCreation": True, "Fields": fields,
            "Keys": {"contactId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}}


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url))
    yield rt
    rt.close()


@pytest.fixture
def service(runtime: Runtime) -> ObjectTypeService:
    return runtime.object_types


@pytest.fixture
def domain(runtime: Runtime) -> DomainRecord:
    ctx = RequestContext("000000000000", "us-east-1", "test", "r", NOW)
    runtime.domains.create(ctx, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    return runtime.domains.record(ctx, "d")


def test_a_compiled_version_is_resolved_once_and_a_new_version_replaces_it(service: ObjectTypeService,
                                                                           domain: DomainRecord) -> None:
    stored = service.put(domain, "Contact", _definition("email"), NOW).object_type
    assert service.resolve(domain, "Contact") is stored
    assert service.get(domain, "Contact").object_type is stored
    changed = service.put(domain, "Contact", _definition("phone"), LATER).object_type
    assert changed is not stored and set(changed.fields) == {"id", "phone"}
    assert service.resolve(domain, "Contact") is changed


def test_the_plan_of_a_version_is_made_once(service: ObjectTypeService, domain: DomainRecord) -> None:
    otype = service.put(domain, "Contact", _definition("email"), NOW).object_type
    plan = service.plan(domain.id, otype)
    assert isinstance(plan, IngestPlan) and [name for name, _, _ in plan.fields] == ["id", "email"]
    assert service.plan(domain.id, service.resolve(domain, "Contact")) is plan


def test_a_changed_object_type_gets_a_new_plan(service: ObjectTypeService, domain: DomainRecord) -> None:
    old = service.put(domain, "Contact", _definition("email"), NOW).object_type
    old_plan = service.plan(domain.id, old)
    new = service.put(domain, "Contact", _definition("phone"), LATER).object_type
    plan = service.plan(domain.id, new)
    assert plan is not old_plan and [name for name, _, _ in plan.fields] == ["id", "phone"]
    assert service.plan(domain.id, service.resolve(domain, "Contact")) is plan


def test_a_deleted_and_recreated_object_type_gets_a_new_plan(service: ObjectTypeService, domain: DomainRecord) -> None:
    old = service.put(domain, "Contact", _definition("email"), NOW).object_type
    old_plan = service.plan(domain.id, old)
    service.delete(domain, "Contact", NOW)
    with pytest.raises(NotFound):
        service.resolve(domain, "Contact")
    again = service.put(domain, "Contact", _definition("email"), NOW).object_type
    assert service.plan(domain.id, again) is not old_plan


def test_plans_are_per_domain_and_per_service(runtime: Runtime, service: ObjectTypeService, domain: DomainRecord,
                                              database_url: str, tmp_path: Path) -> None:
    otype = service.put(domain, "Contact", _definition("email"), NOW).object_type
    plan = service.plan(domain.id, otype)
    assert service.plan(domain.id + 1, otype) is not plan  # another domain's type of the same name
    other = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url))
    try:
        assert other.object_types.plan(domain.id, otype) is not plan
    finally:
        other.close()


def test_an_implicit_object_type_comes_from_its_template(service: ObjectTypeService, domain: DomainRecord) -> None:
    implicit = service.resolve(domain, "Salesforce-Contact")
    assert implicit.name == "Salesforce-Contact" and implicit.keys
    assert service.plan(domain.id, implicit) is service.plan(domain.id, implicit)
    with pytest.raises(NotFound):
        service.resolve(domain, "NoSuchType")


def test_search_keys_follow_a_change_made_by_this_process(service: ObjectTypeService, domain: DomainRecord) -> None:
    definition = _definition()
    definition["Fields"]["email"] = {"Source": "_source.email", "ContentType": "EMAIL_ADDRESS"}
    definition["Keys"]["workEmail"] = [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]
    assert "workEmail" not in service.search_keys(domain).content_types
    service.put(domain, "Contact", definition, NOW)
    keys = service.search_keys(domain)
    assert keys.content_types["workEmail"] == "EMAIL_ADDRESS"
    assert keys.content_types["_email"] == "EMAIL_ADDRESS"  # built in
    service.delete(domain, "Contact", NOW)
    assert "workEmail" not in service.search_keys(domain).content_types


def test_page_and_all_list_the_domain_types_in_name_order(service: ObjectTypeService, domain: DomainRecord) -> None:
    for name in ("b", "a", "c"):
        service.put(domain, name, _definition() | {"Tags": {"n": name}}, NOW)
    assert [t.object_type.name for t in service.page(domain, None, 2)] == ["a", "b"]
    (last,) = service.page(domain, "b", 2)
    assert (last.object_type.name, last.tags) == ("c", {"n": "c"})
    assert [t.name for t in service.all(domain)] == ["a", "b", "c"]
