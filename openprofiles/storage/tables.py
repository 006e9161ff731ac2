"""The schema, as SQLAlchemy Core tables: one definition for SQLite and PostgreSQL.

Migrations in `migrations/versions/` create and change these tables; this module is what the
repositories query. Keep the two in step (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)

from openprofiles.storage.json_column import Json

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

# Console sessions: the SHA-256 of each session's random id (only the cookie holds the id), the
# access key it signed in with, and its times. Signing out sets revoked_at; sign-ins delete the
# records that are revoked or past expires_at.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", LargeBinary(32), primary_key=True),
    Column("access_key_id", String(32), ForeignKey("access_keys.access_key_id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

# Console sign-in attempts per subject (the SHA-256 of an access key id or a client address) in
# a fixed window that starts with the first counted attempt; the row goes at expires_at.
console_sign_in_attempts = Table(
    "console_sign_in_attempts",
    metadata,
    Column("subject", LargeBinary(32), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("window_started_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# Data keys, one per scope ("system", "domain:<id>", ...), wrapped by a local master key
# (master_key_id: its fingerprint) or an AWS KMS key (master_key_id: the key's ARN, up to 2048).
data_keys = Table(
    "data_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(300), nullable=False, unique=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("master_key_id", String(2048), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

domains = Table(
    "domains",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("default_expiration_days", Integer),
    Column("default_encryption_key", String(255)),
    Column("dead_letter_queue_url", String(255)),
    # Matching, RuleBasedMatching and DataStore settings as the JSON the caller sent.
    Column("settings", Json, nullable=False, default=dict),
    # Counters kept by the repositories in the transactions that change them (GetDomain Stats).
    Column("profile_count", BigInteger, nullable=False, default=0),
    Column("object_count", BigInteger, nullable=False, default=0),
    Column("total_size", BigInteger, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "region", "name"),
    sqlite_autoincrement=True,  # a deleted domain's id (and so its data key scope) is never reused
)

tags = Table(
    "tags",
    metadata,
    Column("resource_arn", String(1011), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

_BIGID = BigInteger().with_variant(Integer, "sqlite")


def _domain_fk() -> Column[int]:
    return Column("domain_id", Integer, ForeignKey("domains.id", ondelete="CASCADE"), nullable=False)


# Object types (data mappings): the definition as the JSON the caller sent.
object_types = Table(
    "object_types",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _domain_fk(),
    Column("name", String(255), nullable=False),
    Column("definition", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("domain_id", "name"),
)

# Unified profiles; the document (standard fields, which were set by hand, where values came
# from) is sealed with the domain's data key.
profiles = Table(
    "profiles",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    _domain_fk(),
    Column("profile_id", String(32), nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    UniqueConstraint("domain_id", "profile_id"),
    Index("ix_profiles_expires_at", "expires_at"),
)

# The search index: key name + blind index (HMAC) of the normalised value -> profile. `source`
# says where the entry came from: "_profile" (standard fields), "_manual" (AddProfileKey) or an
# object type name.
profile_keys = Table(
    "profile_keys",
    metadata,
    _domain_fk(),
    Column("key_name", String(64), nullable=False),
    Column("value_index", LargeBinary(32), nullable=False),
    Column("profile_id", String(32), nullable=False),
    Column("source", String(255), nullable=False),
    PrimaryKeyConstraint("domain_id", "key_name", "value_index", "profile_id", "source", name="pk_profile_keys"),
    Index("ix_profile_keys_domain_id_profile_id", "domain_id", "profile_id"),
    sqlite_with_rowid=False,
)

# Profile objects and standard objects (_asset, _case, _order); payloads sealed. The value of a UNIQUE
# key with no other role finds the object's profile through `unique_index` (the key index holds no
# entry for it) unless DeleteProfileKey removed it (`unique_key_removed`, cleared on the next ingest).
profile_objects = Table(
    "profile_objects",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    _domain_fk(),
    Column("profile_id", String(32), nullable=False),
    Column("object_type_name", String(255), nullable=False),
    Column("object_key", String(64), nullable=False),
    Column("unique_index", LargeBinary(32), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("source_updated_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("unique_key_removed", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("domain_id", "object_type_name", "unique_index"),
    UniqueConstraint("domain_id", "object_key"),
    Index("ix_profile_objects_profile", "domain_id", "profile_id", "object_type_name", "id"),
    Index("ix_profile_objects_expires_at", "expires_at"),
)

# Every change to a profile: what, when, by whom; content sealed.
profile_history = Table(
    "profile_history",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    _domain_fk(),
    Column("record_id", String(32), nullable=False, unique=True),
    Column("profile_id", String(32), nullable=False),
    Column("object_type_name", String(255), nullable=False),
    Column("action_type", String(32), nullable=False),
    Column("performed_by", String(255)),
    Column("profile_object_unique_key", String(255)),
    Column("content", LargeBinary),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_profile_history_profile", "domain_id", "profile_id", "id"),
)

# Objects that could not be ingested, with the reason; payload sealed.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    _domain_fk(),
    Column("object_type_name", String(255), nullable=False),
    Column("source", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("queue_state", String(16), nullable=False),
    Column("queue_attempts", Integer, nullable=False),
    Column("queue_error", Text),
    Column("redriven_at", UtcDateTime),
    Index("ix_dead_letters_queue_state", "queue_state"),
    Index("ix_dead_letters_domain_id", "domain_id", "id"),
)

# AppFlow: connector profiles (credentials sealed), flows, their executions and cursors.
connector_profiles = Table(
    "connector_profiles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("connector_type", String(64), nullable=False),
    Column("connector_label", String(256)),
    Column("connection_mode", String(16), nullable=False),
    Column("properties", Json, nullable=False),
    Column("credentials", LargeBinary),
    Column("kms_arn", String(2048)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "region", "name"),
    sqlite_autoincrement=True,
)

flows = Table(
    "flows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    # The CreateFlow/UpdateFlow members as sent (tags and clientToken aside).
    Column("definition", Json, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_message", Text),
    Column("client_token", String(256)),
    Column("created_by", String(256)),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_run_at", UtcDateTime),
    # The incremental pull's position (JSON), committed with the batch it covers.
    Column("cursor", Json),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "region", "name"),
    Index("ix_flows_next_run_at", "next_run_at"),
    sqlite_autoincrement=True,
)

flow_executions = Table(
    "flow_executions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow_id", Integer, ForeignKey("flows.id", ondelete="CASCADE"), nullable=False),
    Column("execution_id", String(64), nullable=False, unique=True),
    Column("trigger", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text),
    Column("records_processed", BigInteger, nullable=False, default=0),
    Column("bytes_processed", BigInteger, nullable=False, default=0),
    Column("bytes_written", BigInteger, nullable=False, default=0),
    Column("put_failures", BigInteger, nullable=False, default=0),
    # Where a resumed run starts again, committed with each batch: JSON sealed with the destination
    # domain's data key (`sealed_checkpoint`); `checkpoint` is plaintext JSON from before 0009.
    Column("checkpoint", Json),
    Column("sealed_checkpoint", LargeBinary),
    Column("worker", String(128)),
    Column("heartbeat_at", UtcDateTime),
    Column("data_pull_start", UtcDateTime),
    Column("data_pull_end", UtcDateTime),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    Index("ix_flow_executions_flow", "flow_id", "id"),
    Index("ix_flow_executions_status", "status"),
)

# The records pushed to an Event-triggered flow for one execution (sealed JSON list), until the
# run has read them all.
flow_event_batches = Table(
    "flow_event_batches",
    metadata,
    Column(
        "execution_id",
        String(64),
        ForeignKey("flow_executions.execution_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("record_count", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# AppFlow custom connectors registered by an account (RegisterConnector): a label naming an
# installed `openprofiles.connectors` entry point.
connector_registrations = Table(
    "connector_registrations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("label", String(256), nullable=False),
    Column("entry_point", String(256), nullable=False),
    Column("lambda_arn", String(512), nullable=False),
    Column("description", String(1024)),
    Column("client_token", String(256)),
    Column("registered_by", String(512), nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "region", "label"),
    sqlite_autoincrement=True,
)

# Customer Profiles integrations: a domain's link to a flow (its URI, the flow ARN) and the
# object type(s) its records map to; the mapping never changes once created.
integrations = Table(
    "integrations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _domain_fk(),
    Column("uri", String(255), nullable=False),
    Column("object_type_name", String(255)),
    # ObjectTypeNames (event type → object type) as JSON.
    Column("object_type_names", Json),
    Column("workflow_id", String(255)),
    Column("is_unstructured", Boolean, nullable=False, default=False),
    Column("role_arn", String(512)),
    # EventTriggerNames as a JSON list.
    Column("event_trigger_names", Json),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    # Whether Customer Profiles created the flow (FlowDefinition, workflows): deleted with the integration.
    Column("flow_created", Boolean, nullable=False, default=False),
    UniqueConstraint("domain_id", "uri"),
    sqlite_autoincrement=True,
)

# Integration workflows (CreateIntegrationWorkflow): a flow Customer Profiles created, run once
# per batch (a step) over the batch's time window, then set up for ongoing sync.
workflows = Table(
    "workflows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_id", String(32), nullable=False, unique=True),
    _domain_fk(),
    Column("workflow_type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_description", Text),
    Column("flow_name", String(256), nullable=False),
    Column("object_type_name", String(255), nullable=False),
    Column("role_arn", String(512)),
    # Tags (JSON), given to the integration the workflow sets up.
    Column("tags", Json),
    Column("source_connector_type", String(32), nullable=False),
    Column("connector_profile_name", String(256)),
    # Set by DeleteWorkflow; the rows go once the workflow's run has stopped.
    Column("deleted_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    Index("ix_workflows_domain", "domain_id", "id"),
    Index("ix_workflows_status", "status"),
    sqlite_autoincrement=True,
)

workflow_steps = Table(
    "workflow_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_id", Integer, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("batch_start", UtcDateTime),
    Column("batch_end", UtcDateTime),
    Column("status", String(16), nullable=False),
    Column("execution_id", String(64)),
    Column("records_processed", BigInteger, nullable=False, default=0),
    Column("message", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("workflow_id", "position"),
)
