"""Settings: secrets kept out of repr, the database URL and kind, NAME=VALUE pairs, loopback hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from openprofiles.settings import Settings, SettingsError, is_loopback, pairs


def test_settings_repr_hides_secrets() -> None:
    settings = Settings(database_url="postgresql://user:hunter2@db/openprofiles", master_key="c2VjcmV0")
    assert "hunter2" not in repr(settings)
    assert "c2VjcmV0" not in repr(settings)
    assert settings.database_kind == "postgresql"
    assert Settings(data_dir=Path("/x")).resolved_database_url == "sqlite:////x/openprofiles.db"


def test_sql_connections_are_kept_out_of_repr() -> None:
    settings = Settings(sql_connections=("crm=postgresql://u:s3cret@h/db",))
    assert "s3cret" not in repr(settings) and "sql_connections" not in repr(settings)


@pytest.mark.parametrize(("url", "kind"), [
    (None, "sqlite"), ("sqlite:////var/op.db", "sqlite"), ("postgres://h/db", "postgresql"),
    ("postgresql+psycopg://h/db", "postgresql"),
])
def test_database_kind(url: str | None, kind: str) -> None:
    settings = Settings(data_dir=Path("/d"), database_url=url)
    assert settings.database_kind == kind
    assert settings.resolved_database_url == (url or "sqlite:////d/openprofiles.db")


def test_pairs() -> None:
    assert pairs("--x", ()) == {}
    assert pairs("--x", (" a = b=c ", "d=e", "a=f")) == {"a": "f", "d": "e"}  # the last one wins, trimmed


@pytest.mark.parametrize("bad", ["novalue", "=x", "x=", " = ", "name= "])
def test_pairs_name_the_setting_and_not_the_value(bad: str) -> None:
    with pytest.raises(SettingsError) as error:
        pairs("--sql-connection", ("ok=1", bad))
    assert str(error.value).startswith("--sql-connection: ") and "is not NAME=VALUE" in str(error.value)
    with pytest.raises(SettingsError) as secret:
        pairs("--sql-connection", ("crm=  ", "x=hunter2"))
    assert str(secret.value) == "--sql-connection: entry 1 ('crm') is not NAME=VALUE"  # what follows '=' is not shown
    with pytest.raises(SettingsError) as url:
        pairs("--sql-connection", ("postgresql://u:hunter2@db/crm",))
    assert str(url.value) == "--sql-connection: entry 1 is not NAME=VALUE"  # a URL without NAME= is not echoed


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.1", False), ("example.com", False), ("", False),
    ("localhost.example.com", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
