"""Units of work: one transaction and the repositories that act inside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from openprofiles.storage.access_keys import AccessKeyRepository
from openprofiles.storage.connector_profiles import ConnectorProfileRepository
from openprofiles.storage.connector_registrations import ConnectorRegistrationRepository
from openprofiles.storage.console_sessions import ConsoleSessionRepository, SignInAttemptRepository
from openprofiles.storage.database import Database
from openprofiles.storage.dead_letters import DeadLetterRepository
from openprofiles.storage.dialect import lock_domain
from openprofiles.storage.domains import DomainRepository
from openprofiles.storage.event_batches import EventBatchRepository
from openprofiles.storage.executions import ExecutionRepository
from openprofiles.storage.flows import FlowRepository
from openprofiles.storage.history import HistoryRepository
from openprofiles.storage.integrations import IntegrationRepository
from openprofiles.storage.integrity import violation
from openprofiles.storage.object_types import ObjectTypeRepository
from openprofiles.storage.objects import ObjectRepository
from openprofiles.storage.profiles import KeyIndexRepository, ProfileRepository
from openprofiles.storage.tags import TagRepository
from openprofiles.storage.workflows import WorkflowRepository


class UnitOfWork:
    """Repositories sharing one transaction; it commits when the `with` block ends cleanly."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @cached_property
    def access_keys(self) -> AccessKeyRepository:
        return AccessKeyRepository(self.conn)

    @cached_property
    def domains(self) -> DomainRepository:
        return DomainRepository(self.conn)

    @cached_property
    def tags(self) -> TagRepository:
        return TagRepository(self.conn)

    @cached_property
    def object_types(self) -> ObjectTypeRepository:
        return ObjectTypeRepository(self.conn)

    @cached_property
    def profiles(self) -> ProfileRepository:
        return ProfileRepository(self.conn)

    @cached_property
    def keys(self) -> KeyIndexRepository:
        return KeyIndexRepository(self.conn)

    @cached_property
    def objects(self) -> ObjectRepository:
        return ObjectRepository(self.conn)

    @cached_property
    def history(self) -> HistoryRepository:
        return HistoryRepository(self.conn)

    @cached_property
    def dead_letters(self) -> DeadLetterRepository:
        return DeadLetterRepository(self.conn)

    @cached_property
    def flows(self) -> FlowRepository:
        return FlowRepository(self.conn)

    @cached_property
    def executions(self) -> ExecutionRepository:
        return ExecutionRepository(self.conn)

    @cached_property
    def connector_profiles(self) -> ConnectorProfileRepository:
        return ConnectorProfileRepository(self.conn)

    @cached_property
    def connector_registrations(self) -> ConnectorRegistrationRepository:
        return ConnectorRegistrationRepository(self.conn)

    @cached_property
    def event_batches(self) -> EventBatchRepository:
        return EventBatchRepository(self.conn)

    @cached_property
    def integrations(self) -> IntegrationRepository:
        return IntegrationRepository(self.conn)

    @cached_property
    def workflows(self) -> WorkflowRepository:
        return WorkflowRepository(self.conn)

    @cached_property
    def console_sessions(self) -> ConsoleSessionRepository:
        return ConsoleSessionRepository(self.conn)

    @cached_property
    def sign_in_attempts(self) -> SignInAttemptRepository:
        return SignInAttemptRepository(self.conn)

    def lock_domain(self, domain_id: int) -> None:
        """Serialise profile writers of this domain until the transaction ends."""
        lock_domain(self.conn, domain_id)


class Store:
    """The way services reach storage: `with store.write() as uow: uow.domains.add(...)`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # The driver's own error, raised by the statements run on its cursor (`bulk`).
        self._driver_integrity_error: type[Exception] = db.engine.dialect.loaded_dbapi.IntegrityError

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        """A write transaction; a unique or foreign-key violation, at a statement or at the commit,
        rolls it back and raises DuplicateKey or MissingReference."""
        try:
            with self.db.write() as conn:
                yield UnitOfWork(conn)
        except (IntegrityError, self._driver_integrity_error) as error:
            typed = violation(error)
            if typed is None:
                raise
            raise typed from error

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        with self.db.read() as conn:
            yield UnitOfWork(conn)
