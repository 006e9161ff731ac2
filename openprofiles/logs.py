"""Logging for the long-running commands: one format, and no secret in any line at any level.

Two layers. Libraries that write request or statement contents at INFO or DEBUG (httpx's request
line carries the full URL, Marketo's `client_secret` in its query; botocore logs response bodies,
Secrets Manager's included; SQLAlchemy logs statements, their parameters and result rows) are held
at WARNING whatever `--log-level` says. Then every line, traceback included, is scrubbed on its
way out: passwords in URLs, URL query strings and credential-named values become `***`.
"""

from __future__ import annotations

import logging
import re

#: Loggers that write URLs, headers, bodies, statements or rows below WARNING.
QUIET = ("httpx", "httpcore", "botocore", "boto3", "s3transfer", "urllib3", "sqlalchemy", "psycopg",
         "multipart", "python_multipart", "h11", "h2", "hpack")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@'\"]*):[^\s/@'\"]*@")
_URL_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s?#'\"]*)\?[^\s#'\"]*")
_NAMED = re.compile(
    r"(?i)((?:password|passwd|secret|client_?secret|secret_?key|api_?key|token|access_?token|refresh_?token"
    r"|authorization|cookie|credentials?)['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|token)\s+)?[^\s'\",&;}\]]+"
)


def scrub(text: str) -> str:
    """`text` with URL passwords, URL query strings and credential-named values replaced by `***`."""
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    text = _URL_QUERY.sub(r"\1?***", text)
    return _NAMED.sub(r"\1***", text)


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose lines (message, exception and stack) pass through `scrub`."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure(level: str) -> None:
    """Log to stderr at `level` through the scrubbing formatter, the libraries in QUIET at WARNING at least."""
    handler = logging.StreamHandler()
    handler.setFormatter(ScrubbingFormatter(FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.raiseExceptions = False  # a line that fails to format is dropped, not printed raw with its arguments
    floor = max(logging.getLogger().getEffectiveLevel(), logging.WARNING)
    for name in QUIET:
        logging.getLogger(name).setLevel(floor)
