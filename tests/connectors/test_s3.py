"""The S3 connector against moto's server mode (boto3 pointed at it through AWS_ENDPOINT_URL_S3)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest, NotGranted
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.s3 import S3Connector
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.connectors.helpers import assert_resumes, peak_memory_of_extraction, records
from tests.harness import MotoServer
from tests.live_flows import (
    PEOPLE,
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    processed,
)

CSV_A = "id,email,score,joined\n1,a@example.com,1.5,2024-01-02\n2,b@example.com,2,2024-02-03\n3,,,\n"
JSONL_B = "".join(json.dumps({"id": i, "tags": ["x"], "active": True}) + "\n" for i in (4, 5))
JSON_C = json.dumps([{"id": 6, "nested": {"k": "v"}}, {"id": 7}, {"id": 8}])


ACCOUNT = "000000000000"
#: The operator setting that lets the tests' account read the moto server's buckets.
EVERY_BUCKET = f"{ACCOUNT}=arn:aws:s3:::*"


def connector() -> S3Connector:
    """An S3 connector for ACCOUNT, whose buckets the operator mapped (fresh grants: fresh clients)."""
    return S3Connector(Connection("s3", "S3", {}, {}, account_id=ACCOUNT,
                                  grants=Grants(aws_resources=((ACCOUNT, "arn:aws:s3:::*"),))))


def props(bucket: str, prefix: str = "", file_type: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"bucketName": bucket, "bucketPrefix": prefix}
    if file_type:
        found["s3InputFormatConfig"] = {"s3InputFileType": file_type}
    return found


def ids(pages: list[Any]) -> list[Any]:
    return [record["id"] for record in records(pages)]


@pytest.fixture(scope="module")
def bucket(moto: MotoServer) -> dict[str, Any]:
    """A bucket with exports/2024/a.csv, then (a second later) exports/2024/b.jsonl, then exports/c.json,
    a folder marker, a sibling prefix that is not a folder of exports, and their LastModified times."""
    s3 = moto.client("s3")
    name = "op-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="exports/empty/", Body=b"")
    s3.put_object(Bucket=name, Key="exports-old/z.csv", Body=b"id\nz\n")
    for key, body in [("exports/2024/a.csv", CSV_A), ("exports/2024/b.jsonl", JSONL_B), ("exports/c.json", JSON_C)]:
        s3.put_object(Bucket=name, Key=key, Body=body.encode())
        time.sleep(1.05)  # S3 times have one-second precision
    listed = s3.list_objects_v2(Bucket=name, Prefix="exports/")["Contents"]
    return {"name": name, "modified": {item["Key"]: item["LastModified"] for item in listed}}


def test_check_lists_buckets(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    connector().check()


def test_entities_are_buckets_then_folders_and_files(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    name = bucket["name"]
    assert (name, True) in [(e.name, e.has_nested_entities) for e in connector().entities()]
    assert [(e.name, e.label, e.has_nested_entities) for e in connector().entities(name)] == [
        (f"{name}/exports-old", "exports-old", True), (f"{name}/exports", "exports", True),  # S3's key order
    ]
    assert [(e.name, e.label, e.has_nested_entities) for e in connector().entities(f"{name}/exports/")] == [
        (f"{name}/exports/2024", "2024", True), (f"{name}/exports/empty", "empty", True),
        (f"{name}/exports/c.json", "c.json", False),
    ]


def test_describe_a_file_or_the_first_file_of_a_prefix(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    name = bucket["name"]
    expected = [("id", "integer"), ("email", "string"), ("score", "double"), ("joined", "date")]
    assert [(f.name, f.data_type) for f in connector().describe(f"{name}/exports")] == expected
    assert [(f.name, f.data_type) for f in connector().describe(f"{name}/exports/c.json")] == [
        ("id", "integer"), ("nested", "struct"),
    ]
    with pytest.raises(ConnectorError, match=f"s3://{name}/nothing: no files"):
        connector().describe(f"{name}/nothing")


def test_extract_streams_every_file_under_the_prefix_in_key_order(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    request = ExtractRequest(entity="", source_properties=props(bucket["name"], "exports"), page_size=3)
    pages = list(connector().extract(request))
    assert [len(p.records) for p in pages] == [3, 3, 2]
    assert ids(pages) == ["1", "2", "3", 4, 5, 6, 7, 8]  # exports-old/ is not under exports/
    assert records(pages)[2] == {"id": "3", "email": "", "score": "", "joined": ""}
    assert pages[1].checkpoint == {"key": "exports/c.json", "line": 1}
    modified = bucket["modified"]
    assert pages[0].high_water == modified["exports/2024/a.csv"]
    assert pages[0].high_water.utcoffset() == timedelta(0)
    assert pages[1].high_water == modified["exports/c.json"]


def test_the_declared_file_type_applies_to_every_file(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    request = ExtractRequest(entity="", source_properties=props(bucket["name"], "exports/2024/b.jsonl", "JSON"))
    assert ids(list(connector().extract(request))) == [4, 5]
    as_csv = ExtractRequest(entity="", source_properties=props(bucket["name"], "exports/2024/b.jsonl", "CSV"))
    assert list(records(list(connector().extract(as_csv)))[0]) == ['{"id": 4', ' "tags": ["x"]', ' "active": true}']
    with pytest.raises(ConnectorError, match="unsupported file type 'XML'"):
        list(connector().extract(ExtractRequest(entity="", source_properties=props(bucket["name"], "", "XML"))))


def test_the_entity_path_names_the_files_without_source_properties(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    assert ids(list(connector().extract(ExtractRequest(entity=f"{bucket['name']}/exports/2024")))) == ["1", "2", "3", 4, 5]


def test_incremental_by_last_modified(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    modified = bucket["modified"]

    def pull(since: datetime | None, until: datetime | None) -> list[Any]:
        request = ExtractRequest(entity="", source_properties=props(bucket["name"], "exports"), since=since, until=until)
        return list(connector().extract(request))

    b_time = modified["exports/2024/b.jsonl"]
    assert ids(pull(b_time, None)) == [4, 5, 6, 7, 8]
    assert ids(pull(None, b_time)) == ["1", "2", "3"]
    [page] = pull(b_time, modified["exports/c.json"])
    assert (ids([page]), page.high_water) == ([4, 5], b_time)


def test_incremental_by_a_record_field(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    since = datetime(2024, 2, 1, tzinfo=UTC)
    request = ExtractRequest(
        entity="", source_properties=props(bucket["name"], "exports/2024/a.csv"), modified_field="joined", since=since
    )
    [page] = connector().extract(request)
    assert (ids([page]), page.high_water) == (["2"], datetime(2024, 2, 3, tzinfo=UTC))


@pytest.mark.parametrize(("page_size", "stop_after"), [(2, 1), (3, 2), (1, 5), (5, 1)])
def test_resume_from_a_checkpoint_delivers_exactly_the_rest(
    aws_env: MotoServer, bucket: dict[str, Any], page_size: int, stop_after: int
) -> None:
    request = ExtractRequest(entity="", source_properties=props(bucket["name"], "exports"), page_size=page_size)
    assert_resumes(connector(), request, stop_after)


def test_a_missing_bucket_is_named(aws_env: MotoServer) -> None:
    missing = "op-missing-" + uuid.uuid4().hex[:8]
    request = ExtractRequest(entity="", source_properties=props(missing))
    with pytest.raises(ConnectorError) as raised:
        list(connector().extract(request))
    assert not isinstance(raised.value, ConnectorAuthError)
    assert not raised.value.transient
    assert f"s3://{missing}/: NoSuchBucket" in raised.value.message
    with pytest.raises(ConnectorError, match=missing):
        connector().entities(missing)


@pytest.mark.parametrize(
    ("code", "status", "auth", "transient"),
    [
        ("InvalidAccessKeyId", 403, True, False),
        ("SignatureDoesNotMatch", 403, True, False),
        ("SlowDown", 503, False, True),
        ("InternalError", 500, False, True),
        ("InvalidRequest", 400, False, False),
    ],
)
def test_check_maps_aws_errors(aws_env: MotoServer, code: str, status: int, auth: bool, transient: bool) -> None:
    s3 = connector()
    client, _ = s3.connection.grants.aws.lister("s3", None, ACCOUNT)  # the client check() uses
    with Stubber(client) as stub:
        stub.add_client_error("list_buckets", code, f"message for {code}", status)
        with pytest.raises(ConnectorError) as raised:
            s3.check()
    assert isinstance(raised.value, ConnectorAuthError) is auth
    assert raised.value.transient is transient
    assert f"{code}: message for {code}" in raised.value.message


def test_a_bucket_not_mapped_to_the_account_is_refused_when_read(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    """The run checks again (CreateFlow did, but the operator's settings may have changed since)."""
    grants = Grants(aws_resources=((ACCOUNT, "arn:aws:s3:::tenant-*"),))
    s3 = S3Connector(Connection("s3", "S3", {}, {}, account_id=ACCOUNT, grants=grants))
    with pytest.raises(NotGranted) as refused:
        list(s3.extract(ExtractRequest(entity="", source_properties=props(bucket["name"], "exports"))))
    assert refused.value.message.startswith(f"S3 bucket {bucket['name']}: account {ACCOUNT} may not use ")
    assert "--aws-resource" in refused.value.message
    assert bucket["name"] not in [e.name for e in s3.entities()]  # nor listed


def test_no_credentials_is_an_auth_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(ConnectorAuthError, match="no usable AWS credentials"):
        connector().check()


def test_a_large_object_streams_in_bounded_memory(aws_env: MotoServer, bucket: dict[str, Any]) -> None:
    body = "".join(json.dumps({"id": i, "email": f"u{i}@example.com", "n": i * 7}) + "\n" for i in range(100_000))
    aws_env.client("s3").put_object(Bucket=bucket["name"], Key="big/data.jsonl", Body=body.encode())
    request = ExtractRequest(entity="", source_properties=props(bucket["name"], "big", "JSON"), page_size=100)
    s3 = connector()
    s3.check()  # the client (and botocore's service model) loaded before measuring
    count, peak = peak_memory_of_extraction(s3, request)
    assert count == 100_000
    assert peak < len(body) / 8, (peak, len(body))


# --- End to end: boto3 against a live server whose S3 is moto's -----------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         moto: MotoServer) -> Iterator[LiveServer]:
    """A server (per backend) whose S3 is the moto server."""
    with live_server(request, tmp_path_factory.mktemp(f"s3-{request.param}"), moto.env(),
                     (*FAKE_VENDOR_HOSTS, "--aws-resource", EVERY_BUCKET)) as server:
        yield server


def test_an_s3_flow_lands_profiles_then_pulls_only_new_files(appflow: Any, cp: Any, unique: str,
                                                               moto: MotoServer) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="people/a.csv", Body=b"id,email,name\n1,a@example.com,Ann\n2,b@example.com,Bo\n")
    create_profile(appflow, unique, "S3", {})  # AppFlow's S3 flows need none; it lists and describes
    assert unique in entity_names(appflow, unique)
    assert entity_names(appflow, unique, unique) == [f"{unique}/people"]
    assert field_types(appflow, unique, f"{unique}/people") == {"id": "integer", "email": "string", "name": "string"}

    create_domain(cp, unique, "people", **PEOPLE)
    flow = ScheduledFlow(appflow, unique, into=(unique, "people"), source={
        "connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": unique, "bucketPrefix": "people"}}})
    assert processed(flow.run()) == 2
    found = cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["2"])["Items"]
    assert [p["FirstName"] for p in found] == ["Bo"]

    s3.put_object(Bucket=unique, Key="people/b.csv", Body=b"id,email,name\n2,bo@example.org,Bob\n3,c@example.com,Cy\n")
    # b.csv, and a.csv, whose LastModified is the first run's high-water mark: the runner pulls from the
    # mark inclusively, so files stamped at it are read again by design.
    assert processed(flow.run()) == 2 + 2
    found = cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["2"])["Items"]
    assert [p["FirstName"] for p in found] == ["Bob"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 3
