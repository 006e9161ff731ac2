"""Field content types: stored forms and the forms search and matching compare."""

from __future__ import annotations

from decimal import Decimal

import botocore.session
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprofiles.errors import Invalid
from openprofiles.services.customer_profiles.normalize import ContentType, _phone, index_form, normalize

PHONE = ContentType.PHONE_NUMBER
NUMBER = ContentType.NUMBER


def test_content_types_are_the_models_enum() -> None:
    model = botocore.session.get_session().get_service_model("customer-profiles")
    assert list(ContentType) == model.shape_for("FieldContentType").enum


def test_unknown_content_type_is_invalid() -> None:
    for function in (normalize, index_form):
        with pytest.raises(Invalid) as error:
            function("DATE", "2024-01-01")
        assert "'DATE'" in error.value.message


def test_plain_strings_work_as_content_types() -> None:
    assert normalize("EMAIL_ADDRESS", "A@B.C") == "a@b.c"
    assert index_form("PHONE_NUMBER", "555.123.4567") == "+15551234567"


# --- PHONE_NUMBER --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+15551234567",
        "(555) 123-4567",
        "(555)-123-4567",
        "555.123.4567",
        "555-123-4567",
        "1-555-123-4567",
        "+1 (555) 123-4567",
        " 5551234567 ",
        "tel:+1-555-123-4567",
        "555-123-4567 ext. 89",
        "٥٥٥١٢٣٤٥٦٧",
    ],
)
def test_phone_formats_of_one_number_are_stored_and_indexed_as_e164(text: str) -> None:
    assert normalize(PHONE, text) == "+15551234567"
    assert index_form(PHONE, text) == "+15551234567"


def test_phone_default_region_reads_national_numbers() -> None:
    assert normalize(PHONE, "020 7946 0958", default_region="GB") == "+442079460958"
    assert index_form(PHONE, "+44 20 7946 0958") == "+442079460958"
    assert normalize(PHONE, "06 1234 5678", default_region="IT") == "+390612345678"
    assert normalize(PHONE, "(555) 123-4567", default_region="GB") == "+445551234567"
    assert normalize(PHONE, "555 1234", default_region="XX") == "5551234"  # unknown region: digits only


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123", "123"),
        ("+12", "+12"),
        ("+ 1 2", "+12"),
        ("12-34", "1234"),
        ("abc", ""),
        ("", ""),
        ("020 7946 0958", "02079460958"),
        ("ext 12", "12"),
        ("000000:0", "+10000000"),  # the digits parse: their E.164, so normalising twice changes nothing
    ],
)
def test_unparseable_phones_keep_a_plus_and_the_digits(text: str, expected: str) -> None:
    assert normalize(PHONE, text) == expected
    assert index_form(PHONE, text) == expected


# --- EMAIL_ADDRESS, NAME, STRING -----------------------------------------------------------------


def test_email_is_stripped_and_lower_cased() -> None:
    assert normalize(ContentType.EMAIL_ADDRESS, " John@Example.COM ") == "john@example.com"
    assert index_form(ContentType.EMAIL_ADDRESS, " John@Example.COM ") == index_form(
        ContentType.EMAIL_ADDRESS, "john@example.com"
    )
    assert index_form(ContentType.EMAIL_ADDRESS, "john+x@example.com") != index_form(
        ContentType.EMAIL_ADDRESS, "john@example.com"
    )


def test_name_stores_collapsed_whitespace_and_compares_without_case_or_whitespace() -> None:
    assert normalize(ContentType.NAME, "  Mary \t Ann  Smith ") == "Mary Ann Smith"
    variants = ["Mary Ann Smith", "mary ann smith", " MARY  ANN\tSMITH ", "MaryAnn Smith", "Mary\u00a0Ann Smith"]
    assert {index_form(ContentType.NAME, name) for name in variants} == {"maryannsmith"}


def test_name_compares_unicode_forms_and_case_folds() -> None:
    composed, decomposed = "Zo\u00eb", "Zoe\u0308"
    assert index_form(ContentType.NAME, composed) == index_form(ContentType.NAME, decomposed)
    assert index_form(ContentType.NAME, "STRASSE") == index_form(ContentType.NAME, "Straße")
    assert index_form(ContentType.NAME, "Ｊｏｈｎ") == index_form(ContentType.NAME, "john")
    assert normalize(ContentType.NAME, decomposed) == decomposed  # stored as written
    assert index_form(ContentType.NAME, "R\u00b8") == index_form(ContentType.NAME, "\u0157")  # cedilla composes


def test_string_is_stripped_and_otherwise_exact() -> None:
    assert normalize(ContentType.STRING, "  Abc  def ") == "Abc  def"
    assert index_form(ContentType.STRING, "  Abc  def ") == "Abc  def"
    assert index_form(ContentType.STRING, "abc") != index_form(ContentType.STRING, "ABC")


# --- NUMBER --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["5", "5.0", "05", "+5", "5.", " 5 ", "5e0", "0.5E1", "500e-2"], "5"),
        (["0", "-0", "+0.000", "0e10", ".0"], "0"),
        (["1.5", "1.50", "01.500", "15e-1", ".15e1"], "1.5"),
        (["-42", "-42.00", "-4.2e1"], "-42"),
        (["1000", "1e3", "1E+3", "1000.000"], "1000"),
        (["0.001", "1e-3", ".001"], "0.001"),
        (["1e1000", "10e999", "1.0E1000"], "1E+1000"),
        (["123456789012345678901234567890.5"], "123456789012345678901234567890.5"),
    ],
)
def test_numbers_compare_numerically(texts: list[str], expected: str) -> None:
    assert {index_form(NUMBER, text) for text in texts} == {expected}


def test_numbers_are_stored_as_written() -> None:
    assert normalize(NUMBER, " 19.90 ") == "19.90"
    assert normalize(NUMBER, "05") == "05"


@pytest.mark.parametrize("text", ["1,000", "NaN", "Infinity", "inf", "1_000", "0x10", "5 kg", "", "1e", "--1", "５"])
def test_non_numbers_compare_as_stripped_text(text: str) -> None:
    assert index_form(NUMBER, f" {text} ") == text


def test_close_numbers_stay_distinct() -> None:
    assert index_form(NUMBER, "1.0000000000000000000000000000001") != index_form(NUMBER, "1")
    assert index_form(NUMBER, "0.1") != index_form(NUMBER, "0.10000001")


# --- properties ----------------------------------------------------------------------------------

phone_like = st.text(alphabet="0123456789+-(). extEXT", max_size=20)
any_text = st.text(max_size=30) | phone_like


@given(st.sampled_from(list(ContentType)), any_text)
def test_normalize_is_idempotent_and_keeps_the_index_form(content_type: ContentType, text: str) -> None:
    stored = normalize(content_type, text)
    assert normalize(content_type, stored) == stored
    assert index_form(content_type, stored) == index_form(content_type, text)


@given(st.sampled_from(list(ContentType)), any_text)
def test_index_form_is_idempotent(content_type: ContentType, text: str) -> None:
    key = index_form(content_type, text)
    assert index_form(content_type, key) == key


FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]
EXAMPLES = {
    region: number
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    if (number := phonenumbers.example_number(region)) is not None
}


@given(st.sampled_from(sorted(EXAMPLES)))
def test_formats_of_a_regions_number_index_equal(region: str) -> None:
    number = EXAMPLES[region]
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    for number_format in FORMATS:
        text = phonenumbers.format_number(number, number_format)
        assert index_form(PHONE, text, default_region=region) == e164
    assert index_form(PHONE, e164, default_region="US") == e164


@given(st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999), st.sampled_from(["US", "CA", "GB", "DE"]))
def test_formats_of_a_north_american_number_index_equal(area: int, exchange: int, line: int, region: str) -> None:
    digits = f"{area}{exchange}{line:04d}"
    e164 = f"+1{digits}"
    texts = [
        e164,
        f"+1 ({area}) {exchange}-{line:04d}",
        f"+1.{area}.{exchange}.{line:04d}",
        f"tel:+1-{area}-{exchange}-{line:04d}",
    ]
    assert {index_form(PHONE, text, default_region=region) for text in texts} == {e164}
    national = [f"({area}) {exchange}-{line:04d}", f"{area}.{exchange}.{line:04d}", digits, f"1-{area}-{exchange}-{line:04d}"]
    assert {index_form(PHONE, text) for text in national} == {e164}


@settings(max_examples=2000)
@given(st.integers(0, 10**10 - 1))
def test_north_american_e164_shortcut_agrees_with_phonenumbers(national: int) -> None:
    """`+1` and ten digits skips phonenumbers; what phonenumbers makes of it must be the same text."""
    text = f"+1{national:010d}"
    assert normalize("PHONE_NUMBER", text) == text
    assert _phone.__wrapped__(text, "US") == text


@given(st.decimals(allow_nan=False, allow_infinity=False), st.integers(0, 3), st.integers(0, 3))
def test_spellings_of_a_number_index_equal(number: Decimal, zeros_before: int, zeros_after: int) -> None:
    plain = format(number, "f")
    sign, body = ("-", plain[1:]) if plain.startswith("-") else ("", plain)
    padded = sign + "0" * zeros_before + body + ("" if "." in body or not zeros_after else ".") + "0" * zeros_after
    texts = {str(number), plain, padded, format(number, "e"), f" {number} "}
    assert len({index_form(NUMBER, text) for text in texts}) == 1
    assert Decimal(index_form(NUMBER, plain)) == number


@given(st.decimals(allow_nan=False, allow_infinity=False), st.decimals(allow_nan=False, allow_infinity=False))
def test_distinct_numbers_index_distinct(first: Decimal, second: Decimal) -> None:
    same = index_form(NUMBER, str(first)) == index_form(NUMBER, str(second))
    assert same == (first == second)


@given(st.emails())
def test_emails_compare_case_insensitively(email: str) -> None:
    assert index_form(ContentType.EMAIL_ADDRESS, f"  {email.upper()} ") == index_form(ContentType.EMAIL_ADDRESS, email)


@given(st.lists(st.text(st.characters(min_codepoint=0x41, max_codepoint=0x7A), min_size=1, max_size=8), min_size=1))
def test_names_compare_without_case_or_whitespace(words: list[str]) -> None:
    name = " ".join(words)
    shouted = "\t  ".join(word.upper() for word in words)
    assert index_form(ContentType.NAME, f" {shouted} ") == index_form(ContentType.NAME, name)


@given(st.from_regex(r"\A\+1[02-9][0-9]{9}\Z"))
def test_north_american_fast_path_agrees_with_phonenumbers(number: str) -> None:
    from openprofiles.services.customer_profiles.normalize import _phone

    assert normalize("PHONE_NUMBER", number) == _phone(number, "US") == number
