"""connectors/grants.py: what the operator enabled for tenants' connectors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from openprofiles.connectors.grants import Grants


def test_no_arguments_enable_nothing() -> None:
    grants = Grants()
    assert grants.files_roots == () and dict(grants.sql_connections) == {} and grants.sql_url_patterns == ()
    assert dict(grants.singer_taps) == {} and grants.plugins == frozenset() and grants.connector_hosts == ()
    assert grants.aws_resources == () and dict(grants.aws_roles) == {}
    assert grants.data_dir is None and grants.database_url is None


def test_credentials_stay_out_of_the_repr() -> None:
    grants = Grants(sql_connections={"crm": "postgresql://u:hunter2@db/crm"}, database_url="sqlite:///s3cret.db",
                    files_roots=(Path("/srv/data"),))
    text = repr(grants)
    assert "hunter2" not in text and "s3cret" not in text
    assert "/srv/data" in text


def test_grants_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Grants().plugins = frozenset({"x"})  # type: ignore[misc]


def test_aws_access_is_built_once_per_grants_from_its_mappings() -> None:
    grants = Grants(aws_resources=(("111111111111", "arn:aws:s3:::bucket-a*"),),
                    aws_roles={"111111111111": "arn:aws:iam::111111111111:role/r"})
    assert grants.aws is grants.aws
    assert grants.aws.mapped("111111111111", "arn:aws:s3:::bucket-a1")
    assert not grants.aws.mapped("222222222222", "arn:aws:s3:::bucket-a1")
    assert not Grants().aws.mapped("111111111111", "arn:aws:s3:::bucket-a1")
