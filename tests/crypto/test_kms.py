"""AWS KMS as a key provider (moto's server mode): KMS-wrapped data keys, clear errors for keys
that cannot be used, and CreateDomain / PutProfileObjectType with a KMS key, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime, build_runtime
from openprofiles.aws_access import AwsAccess
from openprofiles.clock import SystemClock
from openprofiles.context import RequestContext
from openprofiles.crypto.envelope import Envelope
from openprofiles.crypto.keyring import KeyringError, LocalKeyring, load_master_key
from openprofiles.crypto.kms import KmsKeyError, KmsKeyProvider, kms_key_ref
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.customer_profiles.crypto_scope import domain_scope, object_type_scope
from openprofiles.services.customer_profiles.search import SearchKey
from openprofiles.settings import Settings
from openprofiles.storage.data_keys import DataKeyRepository
from openprofiles.storage.database import Database
from tests.harness import MotoServer, free_port

MISSING_KEY = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000"
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {
    "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
}


@pytest.fixture
def kms(aws_env: MotoServer) -> Any:
    return aws_env.client("kms")


@pytest.fixture
def key_arn(kms: Any) -> str:
    return str(kms.create_key()["KeyMetadata"]["Arn"])


ACCOUNT = "000000000000"
#: The operator setting that lets the tests' account use every KMS key (of the moto server).
EVERY_KEY = f"{ACCOUNT}=arn:aws:kms:*"


def _provider() -> KmsKeyProvider:
    """KMS for ACCOUNT, the account of every scope here, which may use any key."""
    return KmsKeyProvider(AwsAccess([(ACCOUNT, "arn:aws:kms:*")]), lambda scope: ACCOUNT)


def _envelope(db: Database, key_dir: Path) -> Envelope:
    """A process's envelope: its own keyring (from `key_dir`) and caches, the shared database."""
    return Envelope(LocalKeyring(load_master_key(key_dir)), DataKeyRepository(db), _provider())


def test_only_arns_name_kms_keys() -> None:
    assert kms_key_ref("arn:aws:kms:eu-west-1:111122223333:key/abc") == "arn:aws:kms:eu-west-1:111122223333:key/abc"
    assert kms_key_ref("my team's key") is None  # free text: the local keyring
    assert kms_key_ref("") is None and kms_key_ref(None) is None


def test_seal_open_with_a_kms_wrapped_data_key(db: Database, tmp_path: Path, key_arn: str) -> None:
    envelope = _envelope(db, tmp_path / "a")
    sealed = envelope.seal("domain:1", b"secret payload", b"aad", key_ref=key_arn)
    assert b"secret payload" not in sealed
    found = DataKeyRepository(db).find("domain:1")
    assert found is not None and found[2] == key_arn  # the row records the KMS key that wrapped it
    # Another process, even with a different local master key, opens it through KMS.
    other = _envelope(db, tmp_path / "b")
    assert other.open(sealed, b"aad") == b"secret payload"
    assert other.index_key("domain:1") == envelope.index_key("domain:1")
    # The scope's data key exists now: a later key_ref (or none) does not change who wraps it.
    envelope.seal("domain:1", b"x", key_ref=None)
    assert DataKeyRepository(db).find("domain:1") == found


def test_the_wrapped_key_is_bound_to_its_scope(db: Database, tmp_path: Path, key_arn: str) -> None:
    _envelope(db, tmp_path).seal("domain:7", b"x", key_ref=key_arn)
    found = DataKeyRepository(db).find("domain:7")
    assert found is not None
    provider = _provider()
    assert len(provider.unwrap(found[1], "domain:7", key_arn)) == 32
    with pytest.raises(KmsKeyError) as error:
        provider.unwrap(found[1], "domain:8", key_arn)  # another scope's encryption context
    assert key_arn in str(error.value)


def test_a_missing_kms_key_fails_clearly_and_stores_nothing(db: Database, tmp_path: Path, aws_env: MotoServer) -> None:
    envelope = _envelope(db, tmp_path)
    with pytest.raises(KeyringError) as error:
        envelope.seal("domain:2", b"x", key_ref=MISSING_KEY)
    message = str(error.value)
    assert MISSING_KEY in message and "NotFoundException" in message
    assert DataKeyRepository(db).find("domain:2") is None
    with pytest.raises(KeyringError, match="not a KMS key ARN"):
        envelope.seal("domain:2", b"x", key_ref="arn:aws:s3:::a-bucket")


def test_an_unreachable_kms_fails_clearly_when_opening(db: Database, tmp_path: Path, key_arn: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = _envelope(db, tmp_path).seal("domain:3", b"x", key_ref=key_arn)
    with monkeypatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{free_port()}")  # nothing listens here
        envelope = _envelope(db, tmp_path)
        with pytest.raises(KeyringError) as error:
            envelope.open(sealed)  # a new process must ask KMS to unwrap the data key
    assert f"KMS key {key_arn} could not unwrap the data key of domain:3" in str(error.value)
    assert "EndpointConnectionError" in str(error.value)
    assert _envelope(db, tmp_path).open(sealed) == b"x"


def test_a_key_not_granted_to_the_scopes_account_is_refused(db: Database, tmp_path: Path, key_arn: str) -> None:
    other = KmsKeyProvider(AwsAccess([(ACCOUNT, "arn:aws:kms:*")]), lambda scope: "111122223333")
    envelope = Envelope(LocalKeyring(load_master_key(tmp_path)), DataKeyRepository(db), other)
    with pytest.raises(KmsKeyError) as error:
        envelope.seal("domain:5", b"x", key_ref=key_arn)
    assert error.value.reason.startswith(f"account 111122223333 may not use {key_arn}: ")
    assert "--aws-resource 111122223333=ARN-GLOB" in error.value.reason and "--aws-role" in error.value.reason
    assert DataKeyRepository(db).find("domain:5") is None


def test_ensure_key_rewraps_between_local_and_kms(db: Database, tmp_path: Path, key_arn: str) -> None:
    repository = DataKeyRepository(db)
    envelope = _envelope(db, tmp_path)
    sealed = envelope.seal("domain:4", b"before")
    local_id = envelope.keyring.key_id
    assert repository.find("domain:4")[2] == local_id  # type: ignore[index]
    assert envelope.ensure_key("domain:4", key_arn) == key_arn
    assert repository.find("domain:4")[2] == key_arn  # type: ignore[index]
    assert _envelope(db, tmp_path / "other").open(sealed) == b"before"  # same data key, now via KMS
    assert envelope.ensure_key("domain:4", None) == local_id  # back to the local keyring
    assert _envelope(db, tmp_path).open(sealed) == b"before"


# --- Through the services, in-process ------------------------------------------------------


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, aws_env: MotoServer) -> Iterator[Runtime]:
    rt = build_runtime(Settings(data_dir=tmp_path, database_url=database_url, aws_resources=(EVERY_KEY,)),
                       clock=SystemClock())
    yield rt
    rt.close()


def _ctx() -> RequestContext:
    return RequestContext("000000000000", "us-east-1", "test", "r", datetime.now(UTC))


def _create(rt: Runtime, name: str, key: str | None) -> Any:
    rt.domains.create(_ctx(), name, default_expiration_days=30, default_encryption_key=key,
                      dead_letter_queue_url=None, settings={}, tags={"t": "v"})
    return rt.domains.record(_ctx(), name)


def test_create_domain_with_a_kms_key_then_ingest_and_search(runtime: Runtime, key_arn: str) -> None:
    domain = _create(runtime, "kms", key_arn)
    assert domain.default_encryption_key == key_arn
    repository = DataKeyRepository(runtime.db)
    found = repository.find(domain_scope(domain.id))
    assert found is not None and found[2] == key_arn  # created eagerly, wrapped by KMS
    now = datetime.now(UTC)
    otype = runtime.object_types.put(domain, "crm", {"Description": "x", "AllowProfileCreation": True,
                                                     "Fields": FIELDS, "Keys": KEYS}, now).object_type
    (result,) = runtime.ingest.ingest(domain, otype, ['{"id": "1", "email": "Ann@Example.com"}'], source="t",
                                      performed_by="t", now=now)
    assert result.profile_id and not result.rejected
    (hit,) = runtime.search.search(domain, [SearchKey("email", ("ann@example.com",))], False, None, 10)
    assert hit.profile_id == result.profile_id
    assert hit.fields["EmailAddress"] == "ann@example.com"
    assert runtime.domains.get(_ctx(), "kms").counts.objects == 1  # type: ignore[union-attr]
    # A fresh process (new runtime, new caches) reads it back through KMS.
    fresh = build_runtime(runtime.settings)
    try:
        (stored,) = fresh.profiles.objects(domain, result.profile_id, "crm", None, None, 10)
        assert '"Ann@Example.com"' in stored.text
    finally:
        fresh.close()


def test_create_domain_with_an_unusable_kms_key_fails(runtime: Runtime) -> None:
    with pytest.raises(Invalid) as error:
        _create(runtime, "bad", MISSING_KEY)
    assert error.value.message.startswith(f"DefaultEncryptionKey {MISSING_KEY} cannot be used: ")
    assert "NotFoundException" in error.value.message
    with pytest.raises(NotFound):
        runtime.domains.get(_ctx(), "bad")  # nothing left behind
    assert _create(runtime, "bad", None).name == "bad"  # and the name is free


def test_free_text_encryption_key_uses_the_local_keyring(runtime: Runtime) -> None:
    domain = _create(runtime, "text", "our-team-key")
    now = datetime.now(UTC)
    runtime.object_types.put(domain, "crm", {"Description": "x", "EncryptionKey": "also text", "AllowProfileCreation": True,
                                            "Fields": FIELDS, "Keys": KEYS}, now)
    runtime.ingest.ingest(domain, runtime.object_types.resolve(domain, "crm"), ['{"id": "1"}'], source="t",
                          performed_by="t", now=now)
    wrappers = DataKeyRepository(runtime.db).count_by_wrapper()
    assert set(wrappers) == {runtime.keyring.key_id}


def test_object_type_with_its_own_kms_key(runtime: Runtime, kms: Any, key_arn: str) -> None:
    domain = _create(runtime, "types", None)
    type_key = str(kms.create_key()["KeyMetadata"]["Arn"])
    now = datetime.now(UTC)
    with pytest.raises(Invalid, match=f"^EncryptionKey {MISSING_KEY} cannot be used: NotFoundException"):
        runtime.object_types.put(domain, "crm", {"Description": "x", "EncryptionKey": MISSING_KEY,
                                                 "Fields": FIELDS, "Keys": KEYS}, now)
    with pytest.raises(NotFound):
        runtime.object_types.get(domain, "crm")  # not stored
    otype = runtime.object_types.put(domain, "crm", {"Description": "x", "EncryptionKey": type_key,
                                                     "AllowProfileCreation": True, "Fields": FIELDS, "Keys": KEYS},
                                     now).object_type
    repository = DataKeyRepository(runtime.db)
    assert repository.find(object_type_scope(domain.id, "crm"))[2] == type_key  # type: ignore[index]
    (result,) = runtime.ingest.ingest(domain, otype, ['{"id": "7", "email": "b@x.com"}'], source="t",
                                      performed_by="t", now=now)
    assert result.profile_id
    (stored,) = runtime.profiles.objects(domain, result.profile_id, "crm", None, None, 10)
    assert '"7"' in stored.text
    # The domain's own key (profile documents, blind index) stays with the local keyring.
    assert repository.find(domain_scope(domain.id))[2] == runtime.keyring.key_id  # type: ignore[index]
    # Putting the type again with another KMS key re-wraps its data key; payloads still open.
    runtime.object_types.put(domain, "crm", {"Description": "x", "EncryptionKey": key_arn, "AllowProfileCreation": True,
                                             "Fields": FIELDS, "Keys": KEYS}, now)
    assert repository.find(object_type_scope(domain.id, "crm"))[2] == key_arn  # type: ignore[index]
    fresh = build_runtime(runtime.settings)
    try:
        (again,) = fresh.profiles.objects(domain, result.profile_id, "crm", None, None, 10)
        assert again.text == stored.text
    finally:
        fresh.close()
