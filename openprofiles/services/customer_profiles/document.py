"""The unified profile document: standard fields, and where each value came from.

A document holds the standard profile (`FirstName`, `Address.City`, `Attributes.tier`, …), the
set of fields an API caller or agent set by hand (ingestion never overwrites those), and for
every field filled by ingestion its source: object type, SourcePriority and source timestamp.
Between two sources the lower SourcePriority wins (unset is lowest); at equal priority a value
with an older source timestamp never replaces a newer one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

#: Standard-profile key name -> (content type, the profile fields it indexes).
STANDARD_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "_email": ("EMAIL_ADDRESS", ("EmailAddress", "PersonalEmailAddress", "BusinessEmailAddress")),
    "_phone": ("PHONE_NUMBER", ("PhoneNumber", "MobilePhoneNumber", "HomePhoneNumber", "BusinessPhoneNumber")),
    "_account": ("STRING", ("AccountNumber",)),
}
FULL_NAME_KEY = "_fullName"
PROFILE_ID_KEY = "_profileId"

NESTED = ("Address", "ShippingAddress", "MailingAddress", "BillingAddress", "Attributes")


def flatten(fields: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every leaf of a standard profile."""
    for name, value in fields.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                yield f"{name}.{sub}", inner
        else:
            yield name, value


@dataclass
class Source:
    object_type: str
    priority: int | None
    timestamp: float | None

    def outranks(self, other: Source) -> bool:
        """Whether a value from `self` may replace one from `other`."""
        mine = self.priority if self.priority is not None else float("inf")
        theirs = other.priority if other.priority is not None else float("inf")
        if mine != theirs:
            return mine < theirs
        if self.timestamp is not None and other.timestamp is not None:
            return self.timestamp >= other.timestamp
        return True


@dataclass
class ProfileDocument:
    profile_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    manual: set[str] = field(default_factory=set)
    sources: dict[str, Source] = field(default_factory=dict)

    # Reading and writing one dotted path.

    def get(self, path: str) -> Any:
        head, _, tail = path.partition(".")
        value = self.fields.get(head)
        if tail:
            return value.get(tail) if isinstance(value, dict) else None
        return value

    def _put(self, path: str, value: Any) -> None:
        head, _, tail = path.partition(".")
        if tail:
            inner = self.fields.setdefault(head, {})
            if value is None:
                inner.pop(tail, None)
                if not inner:
                    self.fields.pop(head, None)
            else:
                inner[tail] = value
        elif value is None:
            self.fields.pop(head, None)
        else:
            self.fields[head] = value

    def set_by_hand(self, path: str, value: str | None) -> None:
        """CreateProfile/UpdateProfile: the value stays until changed by hand; None or "" clears."""
        self._put(path, value or None)
        self.sources.pop(path, None)
        if value:
            self.manual.add(path)
        else:
            self.manual.discard(path)

    def set_from_object(self, path: str, value: str, source: Source) -> bool:
        """Ingestion: write unless the field was set by hand or a better source holds it."""
        if path in self.manual:
            return False
        current = self.sources.get(path)
        if current is not None and self.get(path) is not None and not source.outranks(current):
            return False
        self._put(path, value)
        self.sources[path] = source
        return True

    def clear_source(self, object_type: str) -> bool:
        """Remove the values that came only from this object type; whether anything changed."""
        paths = [p for p, s in self.sources.items() if s.object_type == object_type and p not in self.manual]
        for path in paths:
            self._put(path, None)
            del self.sources[path]
        return bool(paths)

    # Keys this document contributes to the search index.

    def standard_keys(self) -> list[tuple[str, str, str]]:
        """(key name, content type, value) for `_email`, `_phone`, `_account`, `_fullName`, `_profileId`."""
        out = [(PROFILE_ID_KEY, "STRING", self.profile_id)]
        for key, (content_type, paths) in STANDARD_KEYS.items():
            out += [(key, content_type, v) for p in paths if (v := self.fields.get(p))]
        full = " ".join(v for p in ("FirstName", "MiddleName", "LastName") if (v := self.fields.get(p)))
        if full:
            out.append((FULL_NAME_KEY, "NAME", full))
        return out

    # Persistence.

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "f": self.fields,
                "m": sorted(self.manual),
                "s": {p: [s.object_type, s.priority, s.timestamp] for p, s in self.sources.items()},
            }
        )

    @classmethod
    def from_bytes(cls, profile_id: str, data: bytes) -> ProfileDocument:
        raw = orjson.loads(data)
        return cls(
            profile_id=profile_id,
            fields=raw["f"],
            manual=set(raw["m"]),
            sources={p: Source(*s) for p, s in raw["s"].items()},
        )
