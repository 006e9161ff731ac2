"""Profile history: records added in bulk, read per profile in order (filtered), newest first, one by id."""

from __future__ import annotations

from datetime import timedelta

from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.history import HistoryRow
from openprofiles.storage.store import Store
from tests.storage.conftest import NOW

P, Q = "p" * 32, "q" * 32


def _row(record_id: str, profile_id: str, action: str, by: str | None, content: bytes | None, minutes: int) -> HistoryRow:
    return HistoryRow(record_id, profile_id, "Contact", action, by, None, content, NOW + timedelta(minutes=minutes))


def test_records_of_a_profile_in_order_filtered_and_newest_first(store: Store, domain: DomainRecord) -> None:
    rows = [_row("r1", P, "CREATED", "API:1", None, 0), _row("r2", P, "INGESTED", "AppFlow", b"{}", 1),
            _row("r3", Q, "CREATED", "API:1", None, 2), _row("r4", P, "UPDATED", "API:1", b"x", 3)]
    with store.write() as uow:
        uow.history.add(domain.id, rows)
    with store.read() as uow:
        mine = uow.history.for_profile(domain.id, P, None, 10)
        assert [r.record_id for r in mine] == ["r1", "r2", "r4"]
        assert mine[1].content == b"{}" and mine[0].content is None and mine[1].created_at == NOW + timedelta(minutes=1)
        assert [r.record_id for r in uow.history.for_profile(domain.id, P, mine[0].id, 1)] == ["r2"]
        assert [r.record_id for r in uow.history.for_profile(domain.id, P, None, 10, action_type="UPDATED")] == ["r4"]
        assert [r.record_id for r in uow.history.for_profile(domain.id, P, None, 10, performed_by="API:1")] == ["r1", "r4"]
        assert uow.history.for_profile(domain.id, P, None, 10, object_type_name="Other") == []
        assert [r.record_id for r in uow.history.latest_for_profile(domain.id, P, 2)] == ["r4", "r2"]
        found = uow.history.get(domain.id, P, "r2")
        assert found is not None and found.action_type == "INGESTED"
        assert uow.history.get(domain.id, Q, "r2") is None  # another profile's record
