"""The dead-letter store: every object that could not be ingested, with its reason.

Letters are written in the same transaction as the batch that rejected them, so nothing is
lost. When the domain has a DeadLetterQueueUrl each letter is also sent to that SQS queue
(boto3; `AWS_ENDPOINT_URL_SQS` is honoured) with the client `openprofiles.aws_access` gives for the
domain's account: the server's own credentials only for a queue the operator mapped to the account,
else the account's role. A letter that cannot be sent (an unreachable queue, or one the account may
no longer use) stays `pending` with the reason and is retried by the next flush: none is lost.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

import orjson

from openprofiles.aws_access import AwsAccess, AwsAccessRefused
from openprofiles.clock import Clock
from openprofiles.crypto.envelope import Envelope
from openprofiles.errors import NotFound
from openprofiles.services.customer_profiles.ingest import DEAD_LETTER_AAD, IngestResult, IngestService
from openprofiles.services.customer_profiles.object_type_service import ObjectTypeService
from openprofiles.storage.dead_letters import PENDING, SENT, DeadLetterRow
from openprofiles.storage.store import Store

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class DeadLetter:
    id: int
    domain_id: int
    object_type_name: str
    source: str
    reason: str
    created_at: datetime
    queue_state: str
    queue_attempts: int
    queue_error: str | None
    redriven_at: datetime | None
    payload: str | None = None


class DeadLetterService:
    def __init__(self, store: Store, envelope: Envelope, clock: Clock, aws: AwsAccess | None = None) -> None:
        self.store = store
        self.envelope = envelope
        self.clock = clock
        self.aws = aws or AwsAccess()
        self._flush_lock = threading.Lock()

    def _letter(self, row: DeadLetterRow, with_payload: bool) -> DeadLetter:
        payload = None
        if with_payload:
            # Opening follows the data key named in the sealed value (the domain's, created when the
            # letter was sealed), so no domain cipher or encryption key is needed here.
            payload = self.envelope.open(row.payload, DEAD_LETTER_AAD).decode()
        return DeadLetter(row.id, row.domain_id, row.object_type_name, row.source, row.reason, row.created_at,
                          row.queue_state, row.queue_attempts, row.queue_error, row.redriven_at, payload)

    def page(self, domain_id: int | None, after: int | None, limit: int) -> list[DeadLetter]:
        with self.store.read() as uow:
            rows = uow.dead_letters.page(domain_id, after, limit)
        return [self._letter(r, False) for r in rows]

    def get(self, letter_id: int) -> DeadLetter:
        with self.store.read() as uow:
            row = uow.dead_letters.get(letter_id)
        if row is None:
            raise NotFound(f"Dead letter {letter_id} does not exist")
        return self._letter(row, True)

    def redrive(self, letter_id: int, ingest: IngestService, object_types: ObjectTypeService) -> IngestResult:
        """Ingest a letter's object again with the current object type; a success marks it redriven
        (a new rejection is kept as a new letter whose source names this one)."""
        letter = self.get(letter_id)
        with self.store.read() as uow:
            domain = uow.domains.get_by_id(letter.domain_id)
        assert domain is not None and letter.payload is not None
        otype = object_types.resolve(domain, letter.object_type_name)
        (result,) = ingest.ingest(domain, otype, [letter.payload], source=f"redrive:{letter_id}",
                                  performed_by="redrive", now=self.clock.now())
        if result.rejected is None:
            with self.store.write() as uow:
                uow.dead_letters.mark_redriven(letter_id, self.clock.now())
        return result

    def flush(self, limit: int = 500, wait: bool = True) -> int:
        """Send pending letters to their domains' queues; returns how many were sent. With
        `wait=False`, returns 0 at once if another flush is running (it will send them)."""
        if not self._flush_lock.acquire(blocking=wait):
            return 0
        try:
            with self.store.read() as uow:
                pending = uow.dead_letters.pending(limit)
            sent = 0
            accounts: dict[int, str] = {}
            for row, url, domain_name in pending:
                letter = self._letter(row, True)
                state, error = SENT, None
                try:
                    client = self.aws.queue_client(self._account(accounts, row.domain_id), url)
                    client.send_message(QueueUrl=url, MessageBody=_message(letter, domain_name))
                    sent += 1
                except AwsAccessRefused as refused:  # kept until the operator grants the queue again
                    state, error = PENDING, f"not sent: {refused.message}"[:1000]
                    log.warning("dead letter %d not sent to %s: %s", row.id, url, error)
                except Exception as exc:  # any failure keeps the letter pending for the next flush
                    state, error = PENDING, f"{type(exc).__name__}: {exc}"[:1000]
                    log.warning("dead letter %d not sent to %s: %s", row.id, url, error)
                with self.store.write() as uow:
                    uow.dead_letters.mark(row.id, state, error)
            return sent
        finally:
            self._flush_lock.release()

    def _account(self, accounts: dict[int, str], domain_id: int) -> str:
        """The account of a domain (remembered for one flush)."""
        if domain_id not in accounts:
            with self.store.read() as uow:
                record = uow.domains.get_by_id(domain_id)
            accounts[domain_id] = record.account_id if record else ""
        return accounts[domain_id]

    def flush_in_background(self) -> None:
        threading.Thread(target=self._safe_flush, name="dead-letter-flush", daemon=True).start()

    def _safe_flush(self) -> None:
        try:
            self.flush(wait=False)
        except Exception:
            log.exception("dead-letter flush failed; letters stay pending")


def _message(letter: DeadLetter, domain_name: str) -> str:
    return orjson.dumps(
        {
            "DeadLetterId": letter.id,
            "DomainName": domain_name,
            "ObjectTypeName": letter.object_type_name,
            "Source": letter.source,
            "Reason": letter.reason,
            "Object": letter.payload,
            "CreatedAt": letter.created_at.isoformat(),
        }
    ).decode()
