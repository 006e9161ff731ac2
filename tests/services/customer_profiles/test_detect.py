"""customer_profiles/detect.py: DetectProfileObjectType's proposed Fields, Keys and timestamp format."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from openprofiles import json_depth
from openprofiles.errors import Invalid
from openprofiles.services.customer_profiles.detect import detect
from openprofiles.services.customer_profiles.object_types import TIMESTAMP_FIELD, compile_definition
from openprofiles.services.customer_profiles.timestamps import parse_source_timestamp


def _detect(*objects: dict[str, Any]) -> dict[str, Any]:
    return detect([orjson.dumps(o).decode() for o in objects])


PEOPLE = (
    {"id": "c1", "email": "a@x.com", "name": {"first_name": "Ana"}, "phone": "+1 555 123 4567", "visits": 3,
     "tags": ["a"], "note": None, "updated_at": "2024-01-02T03:04:05.123Z"},
    {"id": "c2", "email": "b@x.com", "name": {"first_name": "Bo"}, "phone": "+1 555 123 4568", "visits": 4.5,
     "updated_at": "2024-01-03T03:04:05.000Z"},
)


def test_every_leaf_becomes_a_field_typed_by_its_values() -> None:
    fields = _detect(*PEOPLE)["Fields"]
    assert fields["id"] == {"Source": "_source.id", "ContentType": "STRING"}
    assert fields["email"] == {"Source": "_source.email", "ContentType": "EMAIL_ADDRESS",
                               "Target": "_profile.EmailAddress"}
    assert fields["name_first_name"] == {"Source": "_source.name.first_name", "ContentType": "NAME",
                                         "Target": "_profile.FirstName"}
    assert fields["phone"]["ContentType"] == "PHONE_NUMBER" and fields["phone"]["Target"] == "_profile.PhoneNumber"
    assert fields["visits"] == {"Source": "_source.visits", "ContentType": "NUMBER"}
    assert "tags" not in fields and "note" not in fields  # lists and nulls are not fields


def test_keys_an_id_unique_and_e_mail_and_phone_for_profiles() -> None:
    keys = _detect(*PEOPLE)["Keys"]
    assert keys == {
        "_id": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
        "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
        "_phone": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["phone"]}],
    }


def test_a_modification_time_proposes_a_format_that_parses_the_samples() -> None:
    detected = _detect(*PEOPLE)
    pattern = detected["SourceLastUpdatedTimestampFormat"]
    assert pattern == "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"
    assert detected["Fields"][TIMESTAMP_FIELD] == {"Source": "_source.updated_at", "ContentType": "STRING"}
    assert parse_source_timestamp(str(PEOPLE[0]["updated_at"]), pattern) is not None
    without_fraction = _detect({"id": "1", "lastModifiedDate": "2024-01-02T03:04:05+01:00"})
    assert without_fraction["SourceLastUpdatedTimestampFormat"] == "yyyy-MM-dd'T'HH:mm:ssXXX"
    assert parse_source_timestamp("2024-01-02T03:04:05+01:00", without_fraction["SourceLastUpdatedTimestampFormat"])


def test_no_format_for_other_names_or_values() -> None:
    assert "SourceLastUpdatedTimestampFormat" not in _detect({"id": "1", "created_at": "2024-01-02T03:04:05Z"})
    assert "SourceLastUpdatedTimestampFormat" not in _detect({"id": "1", "updated_at": "yesterday"})


def test_what_it_proposes_is_a_valid_object_type() -> None:
    otype = compile_definition("detected", {"Description": "d", **_detect(*PEOPLE)})
    assert otype.unique_key.name == "_id" and otype.timestamp_format


def test_an_id_that_repeats_is_not_unique_and_the_first_key_becomes_unique() -> None:
    keys = _detect({"id": "1", "mail": "a@x.com"}, {"id": "1", "mail": "b@x.com"})["Keys"]
    assert keys == {"_email": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["mail"]}]}


def test_without_any_identifying_field_there_are_no_keys() -> None:
    assert _detect({"colour": "blue"})["Keys"] == {}


def test_a_well_known_name_keeps_its_target_whatever_the_values() -> None:
    fields = _detect({"id": "1", "phone": "5551234567", "zip": "75001"})["Fields"]
    assert fields["phone"]["ContentType"] == "PHONE_NUMBER"  # all digits, but named as a phone
    # A postal code of digits stays a STRING: the target's content type wins over the guess.
    assert fields["zip"] == {"Source": "_source.zip", "ContentType": "STRING", "Target": "_profile.Address.PostalCode"}
    assert _detect({"id": "1", "score": "12"})["Fields"]["score"]["ContentType"] == "NUMBER"  # no target: the guess


def test_field_names_are_sanitised_and_cut_to_64_characters() -> None:
    fields = _detect({"a b": {"c.d": "x"}, "k" * 80: "y"})["Fields"]
    assert fields["a_b_c_d"]["Source"] == "_source.a b.c.d"
    assert "k" * 64 in fields


@pytest.mark.parametrize(("objects", "message"), [
    (['{"id": 1}', "{"], "Objects.2 is not valid JSON"),
    (["[1, 2]"], "Objects.1 must be a JSON object"),
    (['"text"'], "Objects.1 must be a JSON object"),
    (["[" * (json_depth.MAX_DEPTH + 1) + "]" * (json_depth.MAX_DEPTH + 1)], "Objects.1 is"),
])
def test_objects_that_are_not_json_objects(objects: list[str], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        detect(objects)
