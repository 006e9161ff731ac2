"""Retention: profiles and objects whose expiration time has passed are removed by a sweep.

An object expires ExpirationDays (of its type, else the domain's DefaultExpirationDays, else 365)
after it was last written; a profile the same time after it was last updated. `serve` sweeps
periodically; `openprofiles expire` sweeps once.
"""

from __future__ import annotations

from dataclasses import dataclass

from openprofiles.clock import Clock
from openprofiles.services.customer_profiles.profiles import deletion_record
from openprofiles.storage.store import Store

BATCH = 1000


@dataclass(frozen=True)
class SweepResult:
    profiles: int
    objects: int


class ExpiryService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def sweep(self) -> SweepResult:
        """Remove everything expired now; returns how much went."""
        now = self.clock.now()
        profiles = objects = 0
        while True:
            with self.store.write() as uow:
                ids = uow.objects.expired(now, BATCH)
                uow.objects.delete_ids(ids)
            objects += len(ids)
            if len(ids) < BATCH:
                break
        while True:
            with self.store.write() as uow:
                expired = uow.profiles.expired(now, BATCH)
                for domain_id, profile_id in expired:
                    uow.objects.delete_for_profile(domain_id, profile_id)
                    uow.profiles.delete(domain_id, profile_id)
                    uow.history.add(domain_id, [deletion_record(profile_id, "EXPIRED", "OpenProfiles", now)])
            profiles += len(expired)
            if len(expired) < BATCH:
                break
        return SweepResult(profiles, objects)
