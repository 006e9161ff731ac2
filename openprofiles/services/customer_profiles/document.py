"""The unified profile document: standard fields, and where each value came from.

A document holds the standard profile (`FirstName`, `Address.City`, `Attributes.tier`, …), the
set of fields an API caller or agent set by hand (ingestion never overwrites those), and for
every field filled by ingestion its source: object type, SourcePriority and source timestamp.
Between two sources the lower SourcePriority wins (unset is lowest); at equal priority a value
with an older source timestamp never replaces a newer one. It also keeps each object type's latest
offer for a field, so that when a type is deleted the field falls back to the best remaining one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
    #: path -> object type -> (value, its source): every type's latest value for the path, most
    #: recent last, including the one that holds it; kept only for paths that more than one type
    #: has offered (with one type, the value it holds is its latest offer).
    offers: dict[str, dict[str, tuple[str, Source]]] = field(default_factory=dict)

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
        current = self.sources.get(path)
        offers = self.offers.get(path)
        if offers is None and current is not None and current.object_type != source.object_type:
            # A second type offers this path: from now on each type's latest offer is kept.
            offers = self.offers[path] = {current.object_type: (self.get(path), current)}
        if offers is not None:
            previous = offers.get(source.object_type)
            if previous is None or source.outranks(previous[1]):
                if previous is not None:
                    del offers[source.object_type]  # re-inserted last: the most recent offer
                offers[source.object_type] = (value, source)
        if path in self.manual:
            return False
        if current is not None and not source.outranks(current) and self.get(path) is not None:
            return False
        self._put(path, value)
        self.sources[path] = source
        return True

    def set_all_from_object(self, values: Iterable[tuple[str, str]], source: Source) -> None:
        """`set_from_object` for each (path, value) of one object; a field no other type has
        offered and no hand set takes the value straight away (the common case, kept short)."""
        sources, offers, manual = self.sources, self.offers, self.manual
        for path, value in values:
            current = sources.get(path)
            if path in offers or path in manual or (current is not None and current.object_type != source.object_type):
                self.set_from_object(path, value, source)
                continue
            if current is not None and not source.outranks(current) and self.get(path) is not None:
                continue
            self._put(path, value)
            sources[path] = source

    def clear_source(self, object_type: str) -> bool:
        """Remove the values that came only from this object type; whether anything changed.

        A field this type filled falls back to the best value another type offered for it."""
        for path in [p for p, offers in self.offers.items() if offers.pop(object_type, None) and not offers]:
            del self.offers[path]
        paths = [p for p, s in self.sources.items() if s.object_type == object_type and p not in self.manual]
        for path in paths:
            del self.sources[path]
            best: tuple[str, Source] | None = None
            for offer in self.offers.get(path, {}).values():  # oldest first: the newest wins a tie
                if best is None or offer[1].outranks(best[1]):
                    best = offer
            self._put(path, best[0] if best else None)
            if best:
                self.sources[path] = best[1]
        return bool(paths)

    # Keys this document contributes to the search index.

    def standard_keys(self) -> list[tuple[str, str, str]]:
        """(key name, content type, value) for `_email`, `_phone`, `_account` and `_fullName`
        (`_profileId` needs no index entry: search reads the profile by its id)."""
        out: list[tuple[str, str, str]] = []
        for key, (content_type, paths) in STANDARD_KEYS.items():
            out += [(key, content_type, v) for p in paths if (v := self.fields.get(p))]
        full = " ".join(v for p in ("FirstName", "MiddleName", "LastName") if (v := self.fields.get(p)))
        if full:
            out.append((FULL_NAME_KEY, "NAME", full))
        return out

    # Persistence.

    def profile_json(self) -> bytes:
        """The standard profile as the API shows it (the content of CREATED/UPDATED history records)."""
        return orjson.dumps({"ProfileId": self.profile_id, **self.fields})

    def to_bytes(self) -> bytes:
        """The stored form. Sources are grouped ("g": [object type, priority, timestamp, paths]):
        one object usually fills many fields, and each would otherwise repeat its source."""
        groups: dict[tuple[str, int | None, float | None], list[str]] = {}
        for path, source in self.sources.items():
            key = (source.object_type, source.priority, source.timestamp)
            paths = groups.get(key)
            if paths is None:
                groups[key] = [path]
            else:
                paths.append(path)
        return orjson.dumps(
            {
                "f": self.fields,
                "m": sorted(self.manual),
                "g": [[*key, paths] for key, paths in groups.items()],
                "o": {p: [[v, s.object_type, s.priority, s.timestamp] for v, s in o.values()]
                      for p, o in self.offers.items()},
            }
        )

    @staticmethod
    def fields_from_bytes(data: bytes) -> dict[str, Any]:
        """Only the standard profile of a stored document (what a read shows), without its sources."""
        fields: dict[str, Any] = orjson.loads(data)["f"]
        return fields

    @classmethod
    def from_bytes(cls, profile_id: str, data: bytes) -> ProfileDocument:
        raw = orjson.loads(data)
        return cls(
            profile_id=profile_id,
            fields=raw["f"],
            manual=set(raw["m"]),
            sources=_sources(raw),
            offers={p: {o[1]: (o[0], Source(*o[1:])) for o in offers} for p, offers in raw.get("o", {}).items()},
        )


def _sources(raw: Mapping[str, Any]) -> dict[str, Source]:
    """Field sources of a stored document: grouped ("g"), or one per path ("s", as written before)."""
    if "s" in raw:
        return {path: Source(*source) for path, source in raw["s"].items()}
    sources: dict[str, Source] = {}
    for object_type, priority, timestamp, paths in raw["g"]:
        source = Source(object_type, priority, timestamp)
        for path in paths:
            sources[path] = source
    return sources
