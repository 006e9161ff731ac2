"""services/arns.py: ARNs written and parsed, and the domain ARN every Customer Profiles ARN starts with."""

from __future__ import annotations

import pytest

from openprofiles.services.arns import Arn, domain_arn, parse_arn


def test_an_arn_reads_back_as_it_was_written() -> None:
    arn = Arn("aws", "appflow", "eu-west-1", "123456789012", "flow/nightly")
    assert str(arn) == "arn:aws:appflow:eu-west-1:123456789012:flow/nightly"
    assert parse_arn(str(arn)) == arn


def test_the_resource_keeps_its_colons_and_slashes() -> None:
    parsed = parse_arn("arn:aws:profile:us-east-1:000000000000:domains/d/object-types/a:b")
    assert parsed is not None
    assert parsed.resource == "domains/d/object-types/a:b"
    assert (parsed.partition, parsed.service, parsed.region, parsed.account_id) == (
        "aws", "profile", "us-east-1", "000000000000")


@pytest.mark.parametrize("text", [
    "",
    "arn:aws:profile:us-east-1:000000000000",  # no resource part
    "urn:aws:profile:us-east-1:000000000000:domains/d",
    "domains/d",
])
def test_text_that_is_not_an_arn_parses_to_none(text: str) -> None:
    assert parse_arn(text) is None


def test_empty_parts_are_kept_not_rejected() -> None:
    # S3 bucket ARNs have no region or account: the parser keeps the empty parts.
    assert parse_arn("arn:aws:s3:::bucket") == Arn("aws", "s3", "", "", "bucket")


def test_domain_arn() -> None:
    assert domain_arn("us-east-1", "000000000000", "d1") == "arn:aws:profile:us-east-1:000000000000:domains/d1"
    parsed = parse_arn(domain_arn("eu-west-1", "111111111111", "d1"))
    assert parsed is not None and parsed.service == "profile" and parsed.resource == "domains/d1"
