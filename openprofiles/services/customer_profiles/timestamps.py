"""Source timestamps written in Java `SimpleDateFormat` patterns (SourceLastUpdatedTimestampFormat)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

from openprofiles.errors import Invalid

# Longest letter runs first so "yyyy" wins over "yy".
_TOKENS = {
    "yyyy": "%Y", "yy": "%y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%m",
    "dd": "%d", "d": "%d", "HH": "%H", "H": "%H", "hh": "%I", "h": "%I", "mm": "%M", "m": "%M",
    "ss": "%S", "s": "%S", "SSSSSS": "%f", "SSS": "%f", "a": "%p", "EEEE": "%A", "EEE": "%a",
    "XXX": "%z", "XX": "%z", "X": "%z", "ZZZ": "%z", "Z": "%z", "z": "%Z",
}
# A quoted literal may hold '' (a quote, as in 'o''clock'); '' alone is a quote too.
_PART = re.compile(r"'((?:[^']|'')*)'|([A-Za-z])\2*|([^A-Za-z']+)")


@lru_cache(maxsize=256)
def to_strptime(pattern: str) -> str:
    """The `datetime.strptime` format for a SimpleDateFormat pattern; Invalid if unsupported."""
    out = []
    for m in _PART.finditer(pattern):
        quoted, letters, literal = m.group(1), m.group(0) if m.group(2) else None, m.group(3)
        if quoted is not None:
            out.append(quoted.replace("''", "'").replace("%", "%%") if quoted else "'")
        elif letters is not None:
            if letters not in _TOKENS:
                raise Invalid(f"SourceLastUpdatedTimestampFormat {pattern!r}: unsupported pattern letters {letters!r}")
            out.append(_TOKENS[letters])
        else:
            out.append(literal.replace("%", "%%"))
    return "".join(out)


def parse_source_timestamp(value: str, pattern: str) -> datetime | None:
    """The instant a source says it last changed the object, or None if it does not parse.

    Epoch seconds or milliseconds are accepted whatever the pattern; a time without a zone is UTC."""
    text = value.strip()
    if text.isdigit():
        number = int(text)
        return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=UTC)
    fmt = to_strptime(pattern)
    if "%z" in fmt and text.endswith("Z"):
        text = text[:-1] + "+0000"
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
