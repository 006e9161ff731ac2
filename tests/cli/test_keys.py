"""`openprofiles keys`: create, list and revoke access keys, account ids checked, secrets never shown
again nor stored in plaintext, and master-key rotation."""

from __future__ import annotations

import json
import re
from pathlib import Path

from openprofiles.app import build_runtime
from openprofiles.services.access_keys import valid_account_id
from openprofiles.settings import Settings
from tests.cli.invoke import keys, run

KEY_ID = re.compile(r"AKIA[A-Z2-7]{16}")


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    storage = ("--data-dir", str(tmp_path / "data"))
    made = run("keys", "create", "--account-id", "123456789012", "--json", *storage, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    first = json.loads(made.stdout)
    assert set(first) == {"AccessKeyId", "SecretAccessKey", "AccountId"}
    assert KEY_ID.fullmatch(first["AccessKeyId"])
    assert len(first["SecretAccessKey"]) == 40
    assert first["AccountId"] == "123456789012"

    plain = keys("create", *storage)  # the default account, for people
    assert plain.exit_code == 0, plain.stderr
    second_id = KEY_ID.search(plain.stdout)
    assert second_id is not None
    assert "SecretAccessKey:" in plain.stdout
    assert "000000000000" in plain.stdout

    listed_json, listed_table = keys("list", "--json", *storage), keys("list", *storage)
    listed = json.loads(listed_json.stdout)
    assert [(k["AccessKeyId"], k["AccountId"], k["Status"]) for k in listed] == [
        (first["AccessKeyId"], "123456789012", "Active"),
        (second_id.group(0), "000000000000", "Active"),
    ]
    assert all(set(k) == {"AccessKeyId", "AccountId", "Status", "CreateDate"} for k in listed)
    for output in (listed_json.stdout, listed_table.stdout):
        assert first["SecretAccessKey"] not in output
        assert "Secret" not in output
    assert first["AccessKeyId"] in listed_table.stdout

    revoked = keys("revoke", first["AccessKeyId"], *storage)
    assert revoked.exit_code == 0, revoked.stderr
    assert first["AccessKeyId"] in revoked.stdout
    assert [k["Status"] for k in json.loads(keys("list", "--json", *storage).stdout)] == ["Inactive", "Active"]
    # Whole ids, never shortened to fit the (80-column) output, with the "Revoked" column filled.
    for columns in ("80", "60"):
        table = keys("list", *storage, env={"COLUMNS": columns}).stdout
        assert first["AccessKeyId"] in table
        assert second_id.group(0) in table
        assert "Revoked" in table
    unknown = keys("revoke", "AKIANOSUCHKEY0000000", *storage)
    assert unknown.exit_code != 0
    assert "AKIANOSUCHKEY0000000" in unknown.stderr
    assert "does not exist" in unknown.stderr


def test_account_id_must_be_twelve_ascii_digits(tmp_path: Path) -> None:
    assert valid_account_id("123456789012")
    for bad in ("12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２", "²²²²²²²²²²²²", ""):
        assert not valid_account_id(bad), bad
    for bad in ("１２３４５６７８９０１２", "12345"):
        result = keys("create", "--account-id", bad, "--data-dir", str(tmp_path))
        assert result.exit_code != 0
        assert "12 digits" in result.stderr


def test_secret_is_never_stored_in_plaintext(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    made = run("keys", "create", "--json", "--data-dir", str(data_dir), cwd=tmp_path)
    key = json.loads(made.stdout)
    stored = b"".join(path.read_bytes() for path in data_dir.iterdir() if path.is_file())
    assert key["AccessKeyId"].encode() in stored  # the right files, flushed
    secret = key["SecretAccessKey"]
    for form in (secret.encode(), secret.encode("utf-16-le"), secret[:20].encode(), secret[20:].encode()):
        assert form not in stored


def test_rotate_master_from_the_command_line(tmp_path: Path) -> None:
    """`keys rotate-master` re-wraps data keys; keys created before still sign requests after."""
    created = json.loads(keys("create", "--json", "--data-dir", str(tmp_path)).stdout)
    before = (tmp_path / "master.key").read_text().split()
    out = keys("rotate-master", "--data-dir", str(tmp_path))
    assert "Master key rotated" in out.stdout and "Re-wrapped 1 data keys" in out.stdout
    after = (tmp_path / "master.key").read_text().split()
    assert len(after) == 2 and after[1] == before[0]

    runtime = build_runtime(Settings(data_dir=tmp_path))
    key = runtime.access_keys.lookup(created["AccessKeyId"])
    runtime.close()
    assert key is not None and key.secret_access_key == created["SecretAccessKey"]
