"""Object type field content types: the stored form of a value and the form it is matched by.

`normalize` gives what is stored in a standard object; `index_form` gives what search and
profile matching compare, so that equal values of a content type have equal index forms:

=============  ==========================================  ===============================================
ContentType    normalize (stored)                          index_form (compared)
=============  ==========================================  ===============================================
STRING         stripped                                    stripped
NUMBER         stripped (keeps "19.90" as written)         canonical decimal ("05", "5.0", "5e0" → "5")
PHONE_NUMBER   E.164 (see `_phone`)                        E.164
EMAIL_ADDRESS  stripped, lower-cased                       stripped, lower-cased
NAME           whitespace runs collapsed, stripped         NFKC, case-folded, all whitespace removed
=============  ==========================================  ===============================================

Text that is not a number under NUMBER is compared as a stripped string.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from enum import StrEnum

import phonenumbers

from openprofiles.errors import Invalid

__all__ = ["ContentType", "index_form", "index_former", "normalize", "normalizer"]


class ContentType(StrEnum):
    """`ObjectTypeField.ContentType` (the model's FieldContentType); a field without one is STRING."""

    STRING = "STRING"
    NUMBER = "NUMBER"
    PHONE_NUMBER = "PHONE_NUMBER"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    NAME = "NAME"


_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
#: Beyond this decimal exponent a canonical number is written in scientific notation.
_MAX_PLAIN_EXPONENT = 100


def _e164(text: str, default_region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: A North American number already in E.164 (+1 and ten digits): phonenumbers gives it back
#: unchanged (ten digits is NANP's possible length, and it strips a leading national prefix 1 only
#: when the nine digits left would be a possible length, which they never are), so parsing it (tens
#: of microseconds, on every search by phone) can be skipped.
_NANP_E164 = re.compile(r"\+1[0-9]{10}")


@functools.lru_cache(maxsize=65536)
def _phone(value: str, default_region: str) -> str:
    """E.164 of a number phonenumbers parses as a possible number (read in `default_region`
    unless it has a country code). Otherwise the digits only, after a "+" if the text had one;
    and when those digits do parse (`"000000:0"` → `"0000000"`), their E.164, so that
    normalising twice changes nothing."""
    e164 = _e164(value, default_region)
    if e164 is not None:
        return e164
    digits = "".join(str(int(char)) for char in value if char.isdecimal())
    fallback = f"+{digits}" if "+" in value else digits
    return _e164(fallback, default_region) or fallback


@functools.lru_cache(maxsize=65536)
def _number_key(value: str) -> str:
    """The canonical decimal text of a number: no sign on zero, no leading or trailing zeros."""
    text = value.strip()
    if not _NUMBER.fullmatch(text):
        return text
    number = Decimal(text)
    if not number:
        return "0"
    exact = Context(prec=len(number.as_tuple().digits), Emax=MAX_EMAX, Emin=MIN_EMIN)
    number = number.normalize(exact)
    if abs(number.adjusted()) > _MAX_PLAIN_EXPONENT:
        return str(number)
    return format(number, "f")


def _email(value: str) -> str:
    return value.strip().lower()


def _name(value: str) -> str:
    return " ".join(value.split())


def _name_key(value: str) -> str:
    if value.isascii():
        return "".join(value.lower().split())
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return unicodedata.normalize("NFKC", "".join(folded.split()))  # compose across removed spaces


# Plain str keys and comparisons: a StrEnum member on either side makes each lookup slower.
_PHONE = ContentType.PHONE_NUMBER.value
_STORED: dict[str, Callable[[str], str]] = {
    ContentType.STRING.value: str.strip,
    ContentType.NUMBER.value: str.strip,
    ContentType.EMAIL_ADDRESS.value: _email,
    ContentType.NAME.value: _name,
}
_INDEXED: dict[str, Callable[[str], str]] = {
    ContentType.STRING.value: str.strip,
    ContentType.NUMBER.value: _number_key,
    ContentType.EMAIL_ADDRESS.value: _email,
    ContentType.NAME.value: _name_key,
}


def _rule(rules: dict[str, Callable[[str], str]], content_type: str) -> Callable[[str], str]:
    try:
        return rules[content_type]
    except KeyError:
        raise Invalid(f"ContentType {content_type!r} must be one of {', '.join(ContentType)}") from None


def normalize(content_type: str, value: str, default_region: str = "US") -> str:
    """The form of value stored for a field of this content type.

    PHONE_NUMBER gives E.164, reading numbers without a country code in `default_region`; text
    phonenumbers cannot parse as a possible number falls back to its digits only, after a "+" if
    the text had one (and to their E.164 when those digits do parse, so this is idempotent).
    """
    if content_type == _PHONE:
        return value if _NANP_E164.fullmatch(value) else _phone(value, default_region)
    return _rule(_STORED, content_type)(value)


def index_form(content_type: str, value: str, default_region: str = "US") -> str:
    """The form of value that search and matching compare for this content type (see `normalize`)."""
    if content_type == _PHONE:
        return value if _NANP_E164.fullmatch(value) else _phone(value, default_region)
    return _rule(_INDEXED, content_type)(value)


def _phone_rule(default_region: str) -> Callable[[str], str]:
    def rule(value: str) -> str:
        return value if _NANP_E164.fullmatch(value) else _phone(value, default_region)

    return rule


def normalizer(content_type: str, default_region: str = "US") -> Callable[[str], str]:
    """`normalize` for one content type, as a function of the value (for loops over many values)."""
    return _phone_rule(default_region) if content_type == _PHONE else _rule(_STORED, content_type)


def index_former(content_type: str, default_region: str = "US") -> Callable[[str], str]:
    """`index_form` for one content type, as a function of the value."""
    return _phone_rule(default_region) if content_type == _PHONE else _rule(_INDEXED, content_type)
