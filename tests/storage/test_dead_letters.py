"""Dead letters: added per batch (pending when the domain has a queue), paged per domain or all,
the pending ones with their queue, marked sent or failed (attempts counted), redriven."""

from __future__ import annotations

from datetime import timedelta

from openprofiles.storage.dead_letters import NO_QUEUE, PENDING, SENT, NewDeadLetter
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import Store
from tests.storage.conftest import ACCOUNT, NOW, REGION


def _letters(*reasons: str) -> list[NewDeadLetter]:
    return [NewDeadLetter("Contact", "test", reason, reason.encode()) for reason in reasons]


def test_letters_are_paged_per_domain_in_order(store: Store, domain: DomainRecord) -> None:
    with store.write() as uow:
        other = uow.domains.add(ACCOUNT, REGION, "other", default_expiration_days=None, default_encryption_key=None,
                                dead_letter_queue_url=None, settings={}, now=NOW)
        uow.dead_letters.add(domain.id, _letters("r1", "r2"), NOW, queued=False)
        uow.dead_letters.add(other.id, _letters("r3"), NOW, queued=False)
        uow.dead_letters.add(domain.id, [], NOW, queued=False)
    with store.read() as uow:
        mine = uow.dead_letters.page(domain.id, None, 10)
        assert [d.reason for d in mine] == ["r1", "r2"]
        assert [d.reason for d in uow.dead_letters.page(domain.id, mine[0].id, 10)] == ["r2"]
        assert [d.reason for d in uow.dead_letters.page(None, None, 10)] == ["r1", "r2", "r3"]
        letter = uow.dead_letters.get(mine[0].id)
    assert letter is not None and letter.payload == b"r1" and isinstance(letter.payload, bytes)
    assert (letter.queue_state, letter.queue_attempts, letter.created_at) == (NO_QUEUE, 0, NOW)


def test_queued_letters_wait_until_sent(store: Store) -> None:
    with store.write() as uow:
        queued = uow.domains.add(ACCOUNT, REGION, "q", default_expiration_days=None, default_encryption_key=None,
                                 dead_letter_queue_url="https://sqs/q", settings={}, now=NOW)
        uow.dead_letters.add(queued.id, _letters("a", "b"), NOW, queued=True)
    with store.read() as uow:
        pending = uow.dead_letters.pending(10)
    assert [(row.reason, url, name) for row, url, name in pending] == [("a", "https://sqs/q", "q"),
                                                                       ("b", "https://sqs/q", "q")]
    assert all(row.queue_state == PENDING for row, _, _ in pending)
    first, second = (row.id for row, _, _ in pending)
    with store.write() as uow:
        uow.dead_letters.mark(first, SENT)
        uow.dead_letters.mark(second, PENDING, "unreachable")
        uow.dead_letters.mark_redriven(first, NOW + timedelta(hours=1))
    with store.read() as uow:
        assert [row.id for row, _, _ in uow.dead_letters.pending(10)] == [second]
        failed, sent = uow.dead_letters.get(second), uow.dead_letters.get(first)
    assert failed is not None and (failed.queue_attempts, failed.queue_error) == (1, "unreachable")
    assert sent is not None and sent.queue_state == SENT and sent.redriven_at == NOW + timedelta(hours=1)
