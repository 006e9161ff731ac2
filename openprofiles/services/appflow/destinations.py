"""The port to a flow's destination: what AppFlow needs from Customer Profiles.

AppFlow does not import the Customer Profiles service; `ProfilesDestination` says what flows and
runs ask of it, `services/customer_profiles/flow_destination.py` implements it, and `app.py`
wires the two. CreateFlow/UpdateFlow `check` the destination; StartFlow, the scheduler and event
pushes ask for the domain's `integration` of the flow (its mapping decides the object type when
the flow names none, flows/engine.py `routing`); a run `open`s the domain to resolve its object
types, seal its checkpoints under the domain's key and ingest its batches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from openprofiles.context import RequestContext
from openprofiles.storage.store import UnitOfWork

#: Runs in a batch's transaction after its records, with each record's rejection reason (None: stored).
Within = Callable[[UnitOfWork, list[str | None]], None]


@dataclass(frozen=True)
class FlowIntegration:
    """The mapping of the domain's integration for a flow (exactly one of the two is set)."""

    object_type_name: str | None
    object_type_names: Mapping[str, str] | None


class DomainDestination(Protocol):
    """One destination domain, opened for one run."""

    @property
    def scope(self) -> str:
        """The domain's sealing scope (crypto/envelope.py): a run's checkpoints are sealed like its records."""

    @property
    def key_ref(self) -> str | None:
        """The KMS key that wraps the scope's data key, or None for the local keyring."""

    def resolve(self, object_type: str) -> None:
        """Check that the object type (or template) exists in the domain; NotFound otherwise."""

    def load(self, object_type: str, bodies: Sequence[str], *, dropped: Sequence[tuple[str, str]], source: str,
             performed_by: str, now: datetime, within: Within) -> None:
        """Ingest one batch in one transaction, `dropped` (text, reason) as dead letters, `within` last."""


class ProfilesDestination(Protocol):
    """The Customer Profiles destination of flows."""

    def check(self, ctx: RequestContext, where: str, properties: Mapping[str, Any]) -> None:
        """CreateFlow/UpdateFlow: `properties` (destinationConnectorProperties.CustomerProfiles, at
        `where`) name a domain of the caller, and an object type of it when they name one; Invalid otherwise."""

    def integration(self, ctx: RequestContext, domain_name: str, flow_arn: str) -> FlowIntegration | None:
        """The mapping of the domain's integration for the flow; None without one (or without the domain)."""

    def open(self, ctx: RequestContext, domain_name: str) -> DomainDestination:
        """The caller's domain, for a run; NotFound when it does not exist."""
