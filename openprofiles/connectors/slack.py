"""Slack as a flow source, through the Web API (`{instanceUrl}/api/{method}`).

Entities: `users` (users.list) and, under `conversations`, one entity per channel named
`conversations/<channel id>` whose records are the channel's messages (conversations.history).
Every list is paged with Slack's cursors (`response_metadata.next_cursor`). Messages are pulled
incrementally with `oldest`/`latest` on their `ts`; users.list has no time filter, so users are
filtered on their `updated` time as they are read.

Slack answers most errors with HTTP 200 and `{"ok": false, "error": "<code>"}`: the refused-token
codes become `ConnectorAuthError`, the others a terminal `ConnectorError` naming the code. HTTP 429
(Tier rate limits, with Retry-After) is retried by `VendorApi`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from openprofiles.connectors.base import (
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    Page,
)
from openprofiles.connectors.http import RefreshingBearer, VendorApi, response_json, shorten
from openprofiles.connectors.times import in_window, parse_instant

#: Slack error codes meaning the token is not (or no longer) accepted.
AUTH_ERRORS = frozenset({
    "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "no_permission",
    "missing_scope", "not_allowed_token_type", "org_login_required", "ekm_access_denied",
})
USERS = "users"
CONVERSATIONS = "conversations"
#: The most items Slack returns per call: conversations.history takes up to 999, the lists 1000.
HISTORY_LIMIT = 999
LIST_LIMIT = 1000

MESSAGE_FIELDS = [
    EntityField("channel", "string", "Channel", "The channel's id (added by OpenProfiles)"),
    EntityField("ts", "string", "Timestamp", "Epoch seconds with microseconds; unique within the channel"),
    EntityField("type", "string", "Type", "Always message"),
    EntityField("subtype", "string", "Subtype", "bot_message, channel_join, …; absent for plain messages"),
    EntityField("user", "string", "User", "The author's user id"),
    EntityField("bot_id", "string", "Bot", "The posting bot's id"),
    EntityField("text", "string", "Text"),
    EntityField("thread_ts", "string", "Thread", "The ts of the thread's parent message"),
    EntityField("reply_count", "integer", "Replies"),
    EntityField("reply_users_count", "integer", "Repliers"),
    EntityField("latest_reply", "string", "Latest reply", "The ts of the thread's latest reply"),
    EntityField("edited", "struct", "Edited", "{user, ts} of the last edit"),
    EntityField("reactions", "list", "Reactions", "[{name, count, users}]"),
    EntityField("files", "list", "Files"),
    EntityField("attachments", "list", "Attachments"),
    EntityField("blocks", "list", "Blocks"),
]
PROFILE_FIELDS = [
    ("title", "string"), ("phone", "string"), ("skype", "string"), ("real_name", "string"),
    ("real_name_normalized", "string"), ("display_name", "string"), ("display_name_normalized", "string"),
    ("first_name", "string"), ("last_name", "string"), ("email", "string"), ("status_text", "string"),
    ("status_emoji", "string"), ("status_expiration", "integer"), ("avatar_hash", "string"),
    ("image_original", "string"), ("image_24", "string"), ("image_32", "string"), ("image_48", "string"),
    ("image_72", "string"), ("image_192", "string"), ("image_512", "string"), ("team", "string"),
]
USER_FIELDS = [
    EntityField("id", "string", "User ID"),
    EntityField("team_id", "string", "Workspace ID"),
    EntityField("name", "string", "Username"),
    EntityField("deleted", "boolean", "Deactivated"),
    EntityField("color", "string", "Colour"),
    EntityField("real_name", "string", "Real name"),
    EntityField("tz", "string", "Time zone"),
    EntityField("tz_label", "string", "Time zone label"),
    EntityField("tz_offset", "integer", "Time zone offset", "Seconds from UTC"),
    EntityField("is_admin", "boolean", "Admin"),
    EntityField("is_owner", "boolean", "Owner"),
    EntityField("is_primary_owner", "boolean", "Primary owner"),
    EntityField("is_restricted", "boolean", "Guest"),
    EntityField("is_ultra_restricted", "boolean", "Single-channel guest"),
    EntityField("is_bot", "boolean", "Bot"),
    EntityField("is_app_user", "boolean", "App user"),
    EntityField("is_email_confirmed", "boolean", "E-mail confirmed"),
    EntityField("has_2fa", "boolean", "Two-factor authentication"),
    EntityField("locale", "string", "Locale"),
    EntityField("updated", "integer", "Updated", "Epoch seconds of the user's last change"),
    *(EntityField(f"profile.{name}", kind, f"Profile {name.replace('_', ' ')}") for name, kind in PROFILE_FIELDS),
]


def flatten_user(member: Mapping[str, Any]) -> dict[str, Any]:
    """A users.list member with its `profile` object spread into `profile.<key>` fields (nested
    objects inside it, such as custom `fields`, spread the same way)."""
    record = {key: value for key, value in member.items() if key != "profile"}

    def spread(prefix: str, value: Mapping[str, Any]) -> None:
        for key, item in value.items():
            if isinstance(item, Mapping) and item:
                spread(f"{prefix}{key}.", item)
            else:
                record[f"{prefix}{key}"] = item

    spread("profile.", member.get("profile") or {})
    return record


def slack_ts(moment: datetime) -> str:
    """A datetime as a Slack timestamp string (epoch seconds, six decimals)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    micros = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _slack_error(response: Any) -> str:
    try:
        body = response_json(response)
    except ValueError:
        return shorten(response.text) or str(response.reason_phrase)
    return shorten(str(body.get("error") or body) if isinstance(body, dict) else str(body))


def _channel(entity: str) -> str:
    prefix, _, channel = entity.partition("/")
    if prefix != CONVERSATIONS or not channel or "/" in channel:
        raise ConnectorError(f"Slack has no entity {entity!r}: expected {USERS!r} or 'conversations/<channel id>'")
    return channel


def _checkpoint(following: str) -> dict[str, Any]:
    """The checkpoint after a page: the cursor of the next call, or `done` after the last."""
    return {"cursor": following} if following else {"done": True}


def _cursor(checkpoint: Any) -> str | None:
    """The cursor to resume from: None for the start, "" when the checkpoint is past the end."""
    if checkpoint is None:
        return None
    if isinstance(checkpoint, dict):
        if checkpoint.get("done") is True:
            return ""
        if isinstance(checkpoint.get("cursor"), str) and checkpoint["cursor"]:
            return str(checkpoint["cursor"])
    raise ConnectorError(f"invalid checkpoint {checkpoint!r}: expected {{'cursor': str}} or {{'done': true}}")


class SlackConnector(Connector):
    """Slack workspaces: users and the messages of channels."""

    connector_type = "Slack"
    default_modified_field = "ts"

    @cached_property
    def api(self) -> VendorApi:
        token = self.connection.credentials.get("accessToken")
        if not token:
            raise ConnectorAuthError(
                "Slack: the connector profile needs accessToken (a bot or user token from your Slack app's "
                "OAuth exchange); OpenProfiles does not exchange oAuthRequest codes"
            )
        return VendorApi("Slack", str(self.connection.properties.get("instanceUrl") or ""),
                         egress=self.connection.grants, auth=RefreshingBearer(str(token)), describe_error=_slack_error)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One Web API method's answer; its `ok: false` errors raised as connector errors."""
        body = self.api.get_json(f"/api/{method}", params={k: v for k, v in params.items() if v is not None})
        if not isinstance(body, dict):
            raise ConnectorError(f"Slack {method}: the answer is not a JSON object")
        if not body.get("ok"):
            code = shorten(str(body.get("error") or "unknown_error"))
            text = f"Slack {method}: {code}"
            if code in AUTH_ERRORS:
                raise ConnectorAuthError(text)
            raise ConnectorError(text, transient=code in ("ratelimited", "internal_error", "fatal_error",
                                                          "service_unavailable", "request_timeout"))
        return body

    def _pages(self, method: str, key: str, cursor: str | None, **params: Any) -> Iterator[tuple[list[Any], str]]:
        """(items, next cursor) for each call of a cursor-paged method, from `cursor` on (None: the
        start, "": past the end, nothing); the last call's next cursor is ""."""
        if cursor == "":
            return
        while True:
            body = self.call(method, cursor=cursor, **params)
            following = str((body.get("response_metadata") or {}).get("next_cursor") or "")
            yield list(body.get(key) or []), following
            if not following:
                return
            cursor = following

    def check(self) -> None:
        self.call("auth.test")

    def entities(self, path: str | None = None) -> list[Entity]:
        if not path:
            return [Entity(USERS, "Users", description="Members of the workspace (users.list)"),
                    Entity(CONVERSATIONS, "Conversations", has_nested_entities=True,
                           description="Channels; each one's records are its messages")]
        if path.strip("/") != CONVERSATIONS:
            raise ConnectorError(f"Slack has no entities under {path!r}")
        found = []
        for channels, _ in self._pages("conversations.list", "channels", None, limit=LIST_LIMIT,
                                       types="public_channel,private_channel", exclude_archived="false"):
            for channel in channels:
                label = f"#{channel['name']}" if channel.get("name") else str(channel["id"])
                found.append(Entity(f"{CONVERSATIONS}/{channel['id']}", label,
                                    description=(channel.get("purpose") or {}).get("value") or None))
        return found

    def describe(self, entity: str) -> list[EntityField]:
        if entity == USERS:
            return list(USER_FIELDS)
        _channel(entity)
        return list(MESSAGE_FIELDS)

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        if request.entity == USERS:
            yield from self._users(request)
        else:
            yield from self._messages(request, _channel(request.entity))

    def _messages(self, request: ExtractRequest, channel: str) -> Iterator[Page]:
        """conversations.history, newest first, in [since, until): `oldest`/`latest` with inclusive
        bounds (Slack's `inclusive` covers both), the `until` message itself dropped here."""
        until = slack_ts(request.until) if request.until else None
        window = {
            "oldest": slack_ts(request.since) if request.since else None,
            "latest": until,
            "inclusive": "true" if request.since or until else None,
        }
        limit = min(request.page_size, HISTORY_LIMIT)
        pages = self._pages("conversations.history", "messages", _cursor(request.checkpoint), channel=channel,
                            limit=limit, **window)
        for messages, following in pages:
            records = [{"channel": channel, **m} for m in messages if until is None or str(m.get("ts")) != until]
            high_water = max((m for r in records if (m := parse_instant(r.get("ts")))), default=None)
            if records:
                yield Page(records, _checkpoint(following), high_water)

    def _users(self, request: ExtractRequest) -> Iterator[Page]:
        """users.list, every member flattened; kept when its modification time (`updated`, or the
        flow's incremental field) is in [since, until)."""
        field = str(request.modified_field if request.modified_field not in (None, "ts") else "updated")

        def modified(record: dict[str, Any]) -> datetime | None:
            try:
                return parse_instant(record.get(field))
            except ValueError:
                raise ConnectorError(f"Slack user {record.get('id')}: {field} is not a time") from None

        since, until = request.since, request.until
        for members, following in self._pages("users.list", "members", _cursor(request.checkpoint),
                                              limit=min(request.page_size, LIST_LIMIT)):
            records, high_water = in_window(map(flatten_user, members), modified, since, until,
                                            unknown=since is None)
            if records:
                yield Page(records, _checkpoint(following), high_water)
