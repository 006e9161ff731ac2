"""A fake Slack Web API for the calls the Slack connector makes, as Slack documents them.

- Auth: `Authorization: Bearer <token>` (or a `token` parameter); a wrong token gets HTTP 200
  `{"ok": false, "error": "invalid_auth"}`, none gets `not_authed`.
- auth.test, conversations.list (`types`, `exclude_archived`), conversations.history (`channel`,
  `oldest`, `latest`, `inclusive`; newest first, `has_more`) and users.list, each paged by `limit`
  and an opaque `cursor` answered in `response_metadata.next_cursor` ("" on the last page); a bad
  cursor gets `invalid_cursor`, an unknown channel `channel_not_found`.
- `FakeSlack.rate_limit(n)` makes the next n calls answer HTTP 429 with `Retry-After: 1` and
  `{"ok": false, "error": "ratelimited"}` (Slack's tier limits).
- Data changes through `post`, `update_user` and `add_user`, so tests can see incremental pulls.
"""

from __future__ import annotations

import base64
import bisect
import threading
import time
from collections import deque
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.access import Throttle, bearer_token

TOKEN = "xoxb-fake-token"
START = 1_700_000_000  # 2023-11-14T22:13:20Z: generated data starts here

class JSONResponse(StarletteJSONResponse):
    """Starlette's JSON response, encoded with orjson (the fake serves 100k records quickly)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

#: How many calls a fake remembers for tests to inspect.
CALLS_KEPT = 100


def make_user(n: int, updated: int | None = None) -> dict[str, Any]:
    """A users.list member as Slack documents it."""
    return {
        "id": f"U{n:08d}", "team_id": "T0001", "name": f"user{n}", "deleted": False, "color": "9f69e7",
        "real_name": f"User {n}", "tz": "Europe/London", "tz_label": "Greenwich Mean Time", "tz_offset": 0,
        "profile": {
            "title": "Engineer", "phone": f"+4420794600{n % 100:02d}", "real_name": f"User {n}",
            "display_name": f"user{n}", "first_name": "User", "last_name": str(n), "email": f"user{n}@example.com",
            "status_text": "", "status_emoji": "", "team": "T0001",
        },
        "is_admin": False, "is_owner": False, "is_bot": False, "is_app_user": False,
        "updated": updated if updated is not None else START + n,
    }


def make_message(n: int, ts: str | None = None) -> dict[str, Any]:
    """A conversations.history message, `n` seconds after START unless `ts` is given."""
    return {"type": "message", "user": f"U{n % 50:08d}", "text": f"message {n}",
            "ts": ts or f"{START + n}.{n % 1_000_000:06d}"}


def _encode(kind: str, value: str) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _decode(kind: str, cursor: str) -> str | None:
    try:
        found, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return value if found == kind and value else None


def _ts(value: str | None, default: Decimal) -> Decimal | None:
    if value is None or value == "":
        return default
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


class FakeSlack:
    """The workspace the fake serves: channels with messages, and users."""

    def __init__(self, channels: dict[str, Iterable[dict[str, Any]]] | None = None,
                 users: Iterable[dict[str, Any]] = (), token: str = TOKEN) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.names: dict[str, str] = {}
        #: channel id -> (ascending ts keys, messages in that order)
        self.history: dict[str, tuple[list[Decimal], list[dict[str, Any]]]] = {}
        for channel, messages in (channels or {}).items():
            self.add_channel(channel, f"channel-{channel.lower()}", messages)
        self.users = sorted(users, key=lambda u: u["id"])
        #: The latest calls (method or path, parameters), oldest first.
        self.calls: deque[tuple[str, dict[str, str]]] = deque(maxlen=CALLS_KEPT)
        #: Slack may return fewer items than `limit` asks for; the lists return at most this many.
        self.page_cap: int | None = None
        self._throttle = Throttle()

    # Changing the data.

    def add_channel(self, channel: str, name: str, messages: Iterable[dict[str, Any]] = ()) -> None:
        ordered = sorted(messages, key=lambda m: Decimal(m["ts"]))
        with self.lock:
            self.names[channel] = name
            self.history[channel] = ([Decimal(m["ts"]) for m in ordered], ordered)

    def post(self, channel: str, text: str, user: str = "U00000001", ts: str | None = None) -> dict[str, Any]:
        """A new message (now, or at `ts`), as chat.postMessage would add it."""
        message = {"type": "message", "user": user, "text": text, "ts": ts or f"{time.time():.6f}"}
        with self.lock:
            keys, messages = self.history[channel]
            at = bisect.bisect_right(keys, Decimal(message["ts"]))
            keys.insert(at, Decimal(message["ts"]))
            messages.insert(at, message)
        return message

    def update_user(self, user_id: str, updated: int | None = None, **profile: Any) -> dict[str, Any]:
        with self.lock:
            (user,) = [u for u in self.users if u["id"] == user_id]
            user["profile"].update(profile)
            user["updated"] = updated if updated is not None else int(time.time())
            return user

    def add_user(self, user: dict[str, Any]) -> None:
        with self.lock:
            bisect.insort(self.users, user, key=lambda u: u["id"])

    def rate_limit(self, calls: int) -> None:
        """The next `calls` calls are refused with HTTP 429."""
        self._throttle.arm(calls)

    # The API.

    async def dispatch(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(parse_qsl((await request.body()).decode()))  # application/x-www-form-urlencoded
        method = request.path_params["method"]
        self.calls.append((method, params))
        if (throttled := self._throttle.take()) is not None:
            return JSONResponse({"ok": False, "error": "ratelimited"}, 429, headers=throttled)
        token = bearer_token(request) or params.get("token")
        if not token:
            return _error("not_authed")
        if token != self.token:
            return _error("invalid_auth")
        handler = {
            "auth.test": self.auth_test, "conversations.list": self.conversations_list,
            "conversations.history": self.conversations_history, "users.list": self.users_list,
        }.get(method)
        if handler is None:
            return _error("unknown_method")
        with self.lock:
            return handler(request, params)

    def auth_test(self, request: Request, params: dict[str, str]) -> Response:
        return JSONResponse({"ok": True, "url": str(request.base_url), "team": "Acme", "user": "openprofiles",
                             "team_id": "T0001", "user_id": "U0BOT0001", "bot_id": "B0001"})

    @staticmethod
    def _limit(params: dict[str, str], default: int, most: int) -> int | None:
        try:
            limit = int(params.get("limit") or default)
        except ValueError:
            return None
        return min(limit, most) if limit > 0 else default

    def _capped(self, size: int) -> int:
        return min(size, self.page_cap) if self.page_cap else size

    def conversations_list(self, request: Request, params: dict[str, str]) -> Response:
        limit = self._limit(params, 100, 1000)
        if limit is None:
            return _error("invalid_limit")
        types = set((params.get("types") or "public_channel").split(","))
        if not types <= {"public_channel", "private_channel", "mpim", "im"}:
            return _error("invalid_types")
        ids = sorted(self.history) if "public_channel" in types else []
        start = 0
        if params.get("cursor"):
            after = _decode("channel", params["cursor"])
            if after is None:
                return _error("invalid_cursor")
            start = bisect.bisect_left(ids, after)
        limit = self._capped(limit)
        chosen = ids[start:start + limit]
        following = _encode("channel", ids[start + limit]) if start + limit < len(ids) else ""
        channels = [{"id": c, "name": self.names[c], "is_channel": True, "is_private": False, "is_archived": False,
                     "created": START, "purpose": {"value": f"About {self.names[c]}"}} for c in chosen]
        return JSONResponse({"ok": True, "channels": channels, "response_metadata": {"next_cursor": following}})

    def conversations_history(self, request: Request, params: dict[str, str]) -> Response:
        channel = params.get("channel")
        if not channel:
            return _error("channel_not_found")
        if channel not in self.history:
            return _error("channel_not_found")
        limit = self._limit(params, 100, 999)
        oldest, latest = _ts(params.get("oldest"), Decimal(0)), _ts(params.get("latest"), Decimal(time.time()))
        if limit is None or oldest is None or latest is None:
            return _error("invalid_arguments")
        inclusive = params.get("inclusive") in ("true", "1")
        keys, messages = self.history[channel]
        low = bisect.bisect_left(keys, oldest) if inclusive else bisect.bisect_right(keys, oldest)
        high = bisect.bisect_right(keys, latest) if inclusive else bisect.bisect_left(keys, latest)
        if params.get("cursor"):  # continue with the messages at or before the cursor's ts
            position = _decode("next_ts", params["cursor"])
            if position is None or _ts(position, Decimal(0)) is None:
                return _error("invalid_cursor")
            high = min(high, bisect.bisect_right(keys, Decimal(position)))
        chosen = messages[max(low, high - limit):high][::-1]
        more = high - limit > low
        body: dict[str, Any] = {"ok": True, "messages": chosen, "has_more": more, "pin_count": 0}
        body["response_metadata"] = {"next_cursor": _encode("next_ts", messages[high - limit - 1]["ts"]) if more else ""}
        return JSONResponse(body)

    def users_list(self, request: Request, params: dict[str, str]) -> Response:
        limit = self._limit(params, 0, 1000)
        if limit is None:
            return _error("invalid_limit")
        ids = [u["id"] for u in self.users]
        start = 0
        if params.get("cursor"):
            after = _decode("user", params["cursor"])
            if after is None:
                return _error("invalid_cursor")
            start = bisect.bisect_left(ids, after)
        size = self._capped(limit or len(ids))
        following = _encode("user", ids[start + size]) if start + size < len(ids) else ""
        return JSONResponse({"ok": True, "members": self.users[start:start + size], "cache_ts": int(time.time()),
                             "response_metadata": {"next_cursor": following}})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/{method}", self.dispatch, methods=["GET", "POST"])])


def _error(code: str) -> Response:
    return JSONResponse({"ok": False, "error": code})


def make_app(channels: dict[str, Iterable[dict[str, Any]]] | None = None, users: Iterable[dict[str, Any]] = (),
             token: str = TOKEN) -> tuple[FakeSlack, Starlette]:
    """The fake and its ASGI app (serve it with `tests.fakes.server.serving`)."""
    fake = FakeSlack(channels, users, token)
    return fake, fake.app()
