"""Amazon S3 as a flow source: CSV, JSON Lines and JSON array files under a bucket prefix.

The client is boto3's (`AWS_ENDPOINT_URL_S3` points it at any S3-compatible store), for the
profile's account as `openprofiles.aws_access` decides: the server's own credentials reach only the
buckets the operator mapped to the account (`--aws-resource ACCOUNT=arn:aws:s3:::GLOB`), a role the
operator mapped (`--aws-role`) reaches what its policies allow; any other bucket is refused
(NotGranted, a ValidationException). A flow's source properties name the files: `bucketName`, `bucketPrefix` and
`s3InputFormatConfig.s3InputFileType` (CSV or JSON; without it, each file's suffix or content
decides). Entities are "bucket" or "bucket/prefix" paths.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from openprofiles.aws_access import AwsAccessRefused, bucket_arn
from openprofiles.connectors.base import (
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    NotGranted,
    Page,
)
from openprofiles.connectors.tabular import (
    CHUNK,
    SourceFile,
    declared_format,
    describe_file,
    extract_pages,
    suffix_format,
)

#: Error codes meaning S3 refused the caller's credentials.
AUTH_CODES = frozenset({
    "AccessDenied", "AllAccessDisabled", "ExpiredToken", "InvalidAccessKeyId", "InvalidClientTokenId",
    "InvalidToken", "SignatureDoesNotMatch", "TokenRefreshRequired", "UnrecognizedClientException",
})
#: Error codes worth retrying (besides HTTP 429 and 5xx).
THROTTLING_CODES = frozenset({
    "RequestLimitExceeded", "RequestTimeout", "SlowDown", "Throttling", "ThrottlingException",
    "TooManyRequestsException",
})
_NETWORK_ERRORS = (
    ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, IncompleteReadError, ReadTimeoutError,
    ResponseStreamingError,
)


def _mapped(error: Exception, where: str) -> ConnectorError:
    """A botocore error as a ConnectorError naming `where` (an s3:// location or the operation)."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return ConnectorAuthError(f"no usable AWS credentials: {error}")
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        message = error.response.get("Error", {}).get("Message") or code
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        text = f"{where}: {code}: {message}"
        if code in AUTH_CODES:
            return ConnectorAuthError(text)
        return ConnectorError(text, transient=code in THROTTLING_CODES or status == 429 or status >= 500)
    return ConnectorError(f"{where}: {error}", transient=isinstance(error, _NETWORK_ERRORS))


@contextmanager
def _aws_errors(where: str) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise _mapped(error, where) from error


def _split(path: str) -> tuple[str, str]:
    """Split "bucket/some/prefix" into ("bucket", "some/prefix")."""
    bucket, _, prefix = path.strip("/").partition("/")
    if not bucket:
        raise ConnectorError("an S3 entity is 'bucket' or 'bucket/prefix'")
    return bucket, prefix


class _Body(io.RawIOBase):
    """A streaming GetObject body as a raw stream, so it can be buffered and decoded lazily."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Connector(Connector):
    """CSV and JSON record files under an Amazon S3 bucket prefix."""

    connector_type = "S3"

    def _client(self, bucket: str) -> Any:
        """An S3 client that may read `bucket` for the profile's account; NotGranted otherwise."""
        try:
            return self.connection.grants.aws.client("s3", None, self.connection.account_id, bucket_arn(bucket))
        except AwsAccessRefused as refused:
            raise NotGranted(f"S3 bucket {bucket}: {refused.message}") from None

    def _lister(self) -> tuple[Any, Callable[[str], bool]]:
        """A client to list buckets for the account, and the test a listed bucket's ARN must pass."""
        try:
            return self.connection.grants.aws.lister("s3", None, self.connection.account_id)
        except AwsAccessRefused as refused:
            raise NotGranted(f"S3: {refused.message}") from None

    def check(self) -> None:
        client, _ = self._lister()
        with _aws_errors("ListBuckets"):
            client.list_buckets()

    def entities(self, path: str | None = None) -> list[Entity]:
        if not path or not path.strip("/"):
            client, allowed = self._lister()
            with _aws_errors("ListBuckets"):
                buckets = client.list_buckets().get("Buckets", [])
            return [Entity(name=b["Name"], label=b["Name"], has_nested_entities=True) for b in buckets
                    if allowed(bucket_arn(b["Name"]))]
        bucket, prefix = _split(path)
        folder = prefix.rstrip("/") + "/" if prefix else ""
        folders: list[Entity] = []
        files: list[Entity] = []
        client = self._client(bucket)
        with _aws_errors(f"s3://{bucket}/{folder}"):
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder, Delimiter="/")
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"].rstrip("/")
                    folders.append(Entity(f"{bucket}/{name}", name.rpartition("/")[2], has_nested_entities=True))
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):
                        files.append(Entity(f"{bucket}/{item['Key']}", item["Key"].rpartition("/")[2]))
        return folders + files

    def _files(self, bucket: str, prefix: str, fmt: str | None = None) -> Iterator[SourceFile]:
        """The objects at `prefix` in key order: the object named so, or every object below it as a folder.
        Their format is `fmt`, else the key's suffix, else (None) sniffed from the content."""
        paginator = self._client(bucket).get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key: str = item["Key"]
                inside = not prefix or prefix.endswith("/") or key == prefix or key[len(prefix)] == "/"
                if inside and not key.endswith("/"):
                    yield SourceFile(key, item["LastModified"].astimezone(UTC), fmt or suffix_format(key))

    @contextmanager
    def _open(self, bucket: str, file: SourceFile) -> Iterator[io.BufferedReader]:
        with _aws_errors(f"s3://{bucket}/{file.key}"):
            body = self._client(bucket).get_object(Bucket=bucket, Key=file.key)["Body"]
        binary: io.BufferedReader = io.BufferedReader(_Body(body), CHUNK)
        with binary:
            yield binary

    def describe(self, entity: str) -> list[EntityField]:
        """Fields of the file `entity` names, or of the first file (in key order) under that prefix."""
        bucket, prefix = _split(entity)
        with _aws_errors(f"s3://{bucket}/{prefix}"):
            first = next(self._files(bucket, prefix), None)
            if first is None:
                raise ConnectorError(f"s3://{bucket}/{prefix}: no files")
            with self._open(bucket, first) as binary:
                return describe_file(binary, first.format, first.key)

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """Every file under bucketName/bucketPrefix (else the entity path), streamed in key order."""
        props = request.source_properties
        if props.get("bucketName"):
            bucket, prefix = str(props["bucketName"]), str(props.get("bucketPrefix") or "")
        else:
            bucket, prefix = _split(request.entity)
        fmt = declared_format((props.get("s3InputFormatConfig") or {}).get("s3InputFileType"))
        with _aws_errors(f"s3://{bucket}/{prefix}"):
            files = list(self._files(bucket, prefix, fmt))
            yield from extract_pages(files, lambda file: self._open(bucket, file), request)
