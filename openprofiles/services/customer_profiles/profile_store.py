"""Profile changes inside one transaction: documents sealed, standard keys kept in step, history.

Both the ingest engine and the profile API (CreateProfile, UpdateProfile, AddProfileKey, …)
write profiles through `ProfileWriter`, so the search index of the standard keys (`_email`,
`_phone`, `_account`, `_fullName`) always matches the documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from openprofiles.services.customer_profiles.crypto_scope import DomainCipher
from openprofiles.services.customer_profiles.document import ProfileDocument
from openprofiles.services.customer_profiles.ids import new_id
from openprofiles.services.customer_profiles.normalize import index_form
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.history import HistoryRow
from openprofiles.storage.profiles import KeyEntry, ProfileRow
from openprofiles.storage.store import UnitOfWork

DEFAULT_EXPIRATION_DAYS = 365
STANDARD_SOURCE = "_profile"


def open_document(cipher: DomainCipher, row: ProfileRow) -> ProfileDocument:
    return ProfileDocument.from_bytes(row.profile_id, cipher.open(row.document, row.profile_id.encode()))


class ProfileWriter:
    """Buffers profile writes of one transaction and applies them in bulk on `flush`."""

    def __init__(
        self,
        uow: UnitOfWork,
        domain: DomainRecord,
        cipher: DomainCipher,
        now: datetime,
        indexed: Callable[[KeyEntry], bool] | None = None,
    ) -> None:
        """`indexed` tells whether the key index already finds this profile by an entry's key name
        and value (from an object type's key): the standard entry is then not written twice."""
        self.uow = uow
        self.domain = domain
        self.cipher = cipher
        self.now = now
        self.docs: dict[str, ProfileDocument] = {}
        self.rows: dict[str, ProfileRow] = {}
        #: The standard key values each loaded or created profile had, as `standard_keys` lists them.
        self.before: dict[str, list[tuple[str, str, str]]] = {}
        self._indexes: dict[tuple[str, str], bytes] = {}
        self.created: set[str] = set()
        self.dirty: dict[str, datetime | None] = {}
        self.keys: list[KeyEntry] = []
        self.records: list[HistoryRow] = []
        self.indexed = indexed or (lambda entry: False)
        self.rewrite: set[str] = set()

    def _entries(self, profile_id: str, keys: list[tuple[str, str, str]]) -> set[KeyEntry]:
        """Index entries for standard key values (name, content type, value) of a profile."""
        out = set()
        for name, content_type, value in keys:
            index = self._indexes.get((content_type, value))
            if index is None:
                index = self._indexes[(content_type, value)] = self.cipher.index(index_form(content_type, value))
            out.add(KeyEntry(name, index, profile_id, STANDARD_SOURCE))
        return out

    def load(self, profile_ids: Iterable[str]) -> None:
        wanted = [pid for pid in set(profile_ids) if pid not in self.docs]
        if not wanted:
            return
        for pid, row in self.uow.profiles.get_many(self.domain.id, wanted).items():
            document = open_document(self.cipher, row)
            self.docs[pid] = document
            self.rows[pid] = row
            self.before[pid] = document.standard_keys()

    def exists(self, profile_id: str) -> bool:
        if profile_id not in self.docs:
            self.load([profile_id])
        return profile_id in self.docs

    def create(self, expires_at: datetime | None) -> str:
        profile_id = new_id()
        self.docs[profile_id] = ProfileDocument(profile_id)
        self.before[profile_id] = []
        self.created.add(profile_id)
        self.dirty[profile_id] = expires_at
        return profile_id

    def document(self, profile_id: str) -> ProfileDocument:
        if profile_id not in self.docs:
            self.load([profile_id])
        return self.docs[profile_id]

    def changed(self, profile_id: str, expires_at: datetime | None) -> None:
        """Mark a profile written; its retention starts again from now."""
        self.dirty[profile_id] = expires_at

    def reindex(self, profile_id: str) -> None:
        """Write every standard entry of the profile again (after entries of a source were removed)."""
        self.load([profile_id])
        self.rewrite.add(profile_id)
        self.dirty.setdefault(profile_id, self.rows[profile_id].expires_at)

    def add_keys(self, entries: Iterable[KeyEntry]) -> None:
        self.keys.extend(entries)

    def history(
        self,
        profile_id: str,
        action: str,
        object_type_name: str,
        performed_by: str | None,
        object_key: str | None,
        content: bytes | None,
    ) -> None:
        record_id = new_id()
        sealed = self.cipher.seal(content, record_id.encode()) if content is not None else None
        self.records.append(
            HistoryRow(record_id, profile_id, object_type_name, action, performed_by, object_key, sealed, self.now)
        )

    def flush(self) -> None:
        inserts, updates = [], []
        add: list[KeyEntry] = list(self.keys)
        remove: list[KeyEntry] = []
        for profile_id, expires_at in self.dirty.items():
            document = self.docs[profile_id]
            keys = document.standard_keys()
            before = self.before[profile_id]
            if keys != before or profile_id in self.rewrite:
                after = self._entries(profile_id, keys)
                old = self._entries(profile_id, before)
                # A rewritten profile gets all its entries again, but still loses those no longer true.
                new = after if profile_id in self.rewrite else after - old
                add += [e for e in new if not self.indexed(e)]
                remove += old - after
                self.before[profile_id] = keys
            sealed = self.cipher.seal(document.to_bytes(), profile_id.encode())
            if profile_id in self.created:
                inserts.append(ProfileRow(profile_id, sealed, self.now, self.now, expires_at))
            else:
                updates.append(ProfileRow(profile_id, sealed, self.rows[profile_id].created_at, self.now, expires_at))
        self.uow.profiles.insert_many(self.domain.id, inserts)
        self.uow.profiles.update_many(self.domain.id, updates)
        self.uow.keys.remove(self.domain.id, remove)
        self.uow.keys.add(self.domain.id, add)
        self.uow.history.add(self.domain.id, self.records)
        self.created.clear()
        self.rewrite.clear()
        self.dirty.clear()
        self.keys.clear()
        self.records.clear()
