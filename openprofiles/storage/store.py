"""Units of work: one transaction and the repositories that act inside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import Connection

from openprofiles.storage.access_keys import AccessKeyRepository
from openprofiles.storage.database import Database
from openprofiles.storage.domains import DomainRepository
from openprofiles.storage.tags import TagRepository


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


class Store:
    """The way services reach storage: `with store.write() as uow: uow.domains.add(...)`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        with self.db.write() as conn:
            yield UnitOfWork(conn)

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        with self.db.read() as conn:
            yield UnitOfWork(conn)
