"""SearchProfiles: profiles by key name and values, combined with AND or OR.

Each value is normalised like the key's fields (an e-mail key compares lower-cased, a phone key
by E.164 number), blind-indexed and looked up in the key index. Results are ordered by profile
id, so pages are stable; each result says which of the requested keys found it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openprofiles.crypto.envelope import Envelope
from openprofiles.services.customer_profiles.crypto_scope import DomainCipher
from openprofiles.services.customer_profiles.document import PROFILE_ID_KEY, ProfileDocument
from openprofiles.services.customer_profiles.normalize import index_form
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.fast_reads import FastReader
from openprofiles.storage.store import Store


@dataclass(frozen=True)
class SearchKey:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Found:
    profile_id: str
    #: The standard profile (ProfileDocument.fields).
    fields: dict[str, Any]
    found_by: list[SearchKey]


class SearchService:
    def __init__(self, store: Store, envelope: Envelope, object_types: ObjectTypeService, reader: FastReader) -> None:
        self.store = store
        self.envelope = envelope
        self.object_types = object_types
        self.reader = reader
        self._ciphers: dict[tuple[int, str | None], DomainCipher] = {}

    def _cipher(self, domain: DomainRecord) -> DomainCipher:
        slot = (domain.id, domain.default_encryption_key)
        cipher = self._ciphers.get(slot)
        if cipher is None:
            cipher = self._ciphers[slot] = DomainCipher(self.envelope, domain.id, domain.default_encryption_key)
        return cipher

    def search(
        self,
        domain: DomainRecord,
        keys: Sequence[SearchKey],
        logical_and: bool,
        after: str | None,
        limit: int,
    ) -> list[Found]:
        """Up to `limit` profiles after profile id `after`."""
        cipher = self._cipher(domain)
        search_keys = self.object_types.search_keys(domain)
        content_types, unique_types = search_keys.content_types, search_keys.unique_types
        if len(keys) == 1 and keys[0].name != PROFILE_ID_KEY:
            key = keys[0]
            return self._search_one(domain.id, cipher, key, content_types.get(key.name, "STRING"),
                                    unique_types.get(key.name, ()), logical_and, after, limit)
        matches: list[dict[str, set[str]]] = []  # per key: profile id -> values that found it
        with self.reader.session() as session:
            for key in keys:
                by_index = self._indexes(cipher, key, content_types.get(key.name, "STRING"))
                found: dict[str, set[str]] = {}
                if key.name == PROFILE_ID_KEY:
                    for profile_id in session.existing(domain.id, key.values):
                        found[profile_id] = {profile_id}
                for index, profile_id in session.lookup(domain.id, key.name, list(by_index),
                                                        unique_types.get(key.name, ())):
                    found.setdefault(profile_id, set()).update(by_index[index])
                matches.append(found)
            if logical_and:
                ids = set(matches[0]).intersection(*matches[1:]) if matches else set()
            else:
                ids = set().union(*matches)
            page = sorted(pid for pid in ids if after is None or pid > after)[:limit]
            documents = session.documents(domain.id, page) if page else {}
        results = []
        for profile_id in page:
            sealed = documents.get(profile_id)
            if sealed is None:
                continue
            found_by = [
                SearchKey(key.name, key.values if logical_and else tuple(sorted(found[profile_id])))
                for key, found in zip(keys, matches, strict=True)
                if profile_id in found
            ]
            fields = ProfileDocument.fields_from_bytes(cipher.open(sealed, profile_id.encode()))
            results.append(Found(profile_id, fields, found_by))
        return results

    @staticmethod
    def _indexes(cipher: DomainCipher, key: SearchKey, content_type: str) -> dict[bytes, list[str]]:
        """The blind index of each requested value, with the values (as sent) that share it."""
        by_index: dict[bytes, list[str]] = {}
        for value in key.values:
            by_index.setdefault(cipher.index(index_form(content_type, value)), []).append(value)
        return by_index

    def _search_one(self, domain_id: int, cipher: DomainCipher, key: SearchKey, content_type: str,
                    unique_types: tuple[str, ...], logical_and: bool, after: str | None, limit: int) -> list[Found]:
        """One key: the lookup and the documents in a single statement (the agent's common search)."""
        by_index = self._indexes(cipher, key, content_type)
        rows = self.reader.found_documents(domain_id, key.name, list(by_index), after, limit, unique_types)
        results: list[Found] = []
        values: set[str] = set()
        for i, (profile_id, index, sealed) in enumerate(rows):
            values.update(by_index[index])
            if i + 1 < len(rows) and rows[i + 1][0] == profile_id:
                continue  # the same profile, found by another value too
            fields = ProfileDocument.fields_from_bytes(cipher.open(sealed, profile_id.encode()))
            found_by = key if logical_and else SearchKey(key.name, tuple(sorted(values)))
            results.append(Found(profile_id, fields, [found_by]))
            values = set()
            if len(results) == limit:
                break
        return results
