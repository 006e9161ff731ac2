"""AWS KMS as a key provider: a data key wrapped by a KMS key instead of the local master key.

A scope's data key is wrapped with `kms.encrypt(KeyId=<arn>, Plaintext=<data key>,
EncryptionContext={"openprofiles-scope": <scope>})` and unwrapped with `kms.decrypt` given the
same key and context, through a boto3 client for the ARN's region (boto3 honours
`AWS_ENDPOINT_URL_KMS`, so a local KMS or moto can stand in). The client is the one
`openprofiles.aws_access` gives for the account the scope belongs to: the server's own credentials
only for keys the operator mapped to that account (`--aws-resource`), else the account's role
(`--aws-role`); any other key cannot wrap or unwrap (KmsKeyError naming the settings). The data key row's
`master_key_id` holds the ARN: an id starting with `arn:` means KMS, anything else a local
master key.

Which values count as a KMS key: a domain's DefaultEncryptionKey or an object type's
EncryptionKey that starts with `arn:` is a KMS key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`
or `…:alias/NAME`); any other value is free text, stored and shown as given, and the data keys
of that scope are wrapped by the local keyring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openprofiles.aws_access import AwsAccess, AwsAccessRefused
from openprofiles.crypto.keyring import KeyringError

CONTEXT_KEY = "openprofiles-scope"

#: scope -> the account its data key belongs to (None: no account's).
ScopeAccount = Callable[[str], str | None]


class KmsKeyError(KeyringError):
    """A KMS key that cannot wrap or unwrap a data key; `reason` is KMS's error (or why the ARN is unusable)."""

    def __init__(self, arn: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.arn = arn
        self.reason = reason


def is_kms_ref(key_id: str | None) -> bool:
    """Whether a data key row's master_key_id (or a configured key) names a KMS key."""
    return bool(key_id) and str(key_id).startswith("arn:")


def kms_key_ref(value: str | None) -> str | None:
    """The KMS key ARN a configured encryption key names, or None when it is absent or free text
    (the local keyring then wraps the scope's data key)."""
    return value if value is not None and is_kms_ref(value) else None


def arn_region(arn: str) -> str:
    """The region of a KMS key ARN; KeyringError when the ARN is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "kms" or not parts[1] or not parts[3] or not parts[5]:
        reason = "not a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID or …:alias/NAME)"
        raise KmsKeyError(arn, f"{arn} is {reason}", reason)
    return parts[3]


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        detail = response.get("Error") or {}
        code, message = detail.get("Code"), detail.get("Message")
        if code:
            return f"{code}: {message}" if message else str(code)
    return f"{type(error).__name__}: {error}"


class KmsKeyProvider:
    """Wraps and unwraps data keys with KMS keys named by ARN, for the account each scope belongs to."""

    provider = "kms"

    def __init__(self, access: AwsAccess | None = None, account_of: ScopeAccount | None = None) -> None:
        self._access = access or AwsAccess()
        self._account_of = account_of or (lambda scope: None)

    def _call(self, action: str, arn: str, scope: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        verb = "wrap" if action == "encrypt" else "unwrap"
        region = arn_region(arn)
        try:
            client = self._access.client("kms", region, self._account_of(scope) or "", arn)
        except AwsAccessRefused as refused:
            raise KmsKeyError(arn, f"KMS key {arn} cannot {verb} the data key of {scope}: {refused.message}",
                              refused.message) from None
        try:
            result: dict[str, Any] = getattr(client, action)(
                KeyId=arn, EncryptionContext={CONTEXT_KEY: scope}, **params
            )
            return result
        except (ClientError, BotoCoreError) as error:  # KMS's answer, or credentials, network, parameters
            reason = _describe(error)
            raise KmsKeyError(arn, f"KMS key {arn} could not {verb} the data key of {scope}: {reason}", reason) from error

    def wrap_key(self, data_key: bytes, scope: str, arn: str) -> tuple[bytes, str]:
        """The data key encrypted under the KMS key, and the id to record (the ARN)."""
        result = self._call("encrypt", arn, scope, Plaintext=data_key)
        return bytes(result["CiphertextBlob"]), arn

    def unwrap(self, wrapped: bytes, scope: str, arn: str) -> bytes:
        result = self._call("decrypt", arn, scope, CiphertextBlob=wrapped)
        return bytes(result["Plaintext"])
