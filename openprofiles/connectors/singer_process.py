"""One run of an operator-allowed Singer tap, held to what the operator granted.

The tap runs in a fresh temporary working directory (its HOME and TMPDIR, removed afterwards) with a
clean environment: a fixed PATH, the locale and TZ=UTC, and nothing of the server's own (no
`OPENPROFILES_*`, AWS or PostgreSQL variables). It runs in its own process group, which is killed
when the run ends, fails or is abandoned, so no child of the tap outlives it. Its stdout is read
with a deadline (`Grants.singer_timeout`) and a byte budget (`Grants.singer_max_output`); its
stderr is kept only as a bounded tail, and reaches the caller as a short excerpt with the values of
the tap's configuration replaced by `***`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from openprofiles.connectors.base import ConnectorAuthError, ConnectorError

#: The PATH a tap gets: the system's programs, never the server's own PATH.
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
#: Characters of the tap's stderr an error quotes, and bytes of it kept to choose them from.
STDERR_EXCERPT = 500
STDERR_KEPT = 64 * 1024
#: Seconds a tap gets to exit after SIGTERM before its process group is killed.
STOP_GRACE = 5.0
#: Shortest configuration value scrubbed from stderr (shorter ones would garble the excerpt).
SCRUB_MIN = 3
_CHUNK = 64 * 1024
_POLL = 0.25
#: Words in a failed tap's stderr that mean its source refused the credentials.
_AUTH_WORDS = re.compile(r"\b(401|403|unauthori[sz]ed|forbidden|authentication failed|invalid (api key|token|credentials)"
                         r"|access denied|bad credentials)\b", re.IGNORECASE)
_TIMEOUT_SETTING = "--singer-timeout / OPENPROFILES_SINGER_TIMEOUT"
_OUTPUT_SETTING = "--singer-max-output / OPENPROFILES_SINGER_MAX_OUTPUT"


def clean_environment(home: Path) -> dict[str, str]:
    """All the environment a tap gets."""
    return {"PATH": SAFE_PATH, "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "TZ": "UTC"}


class Scrubber:
    """Replaces the given secret values (as written, and as JSON-escaped) in a text with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for secret in secrets if len(secret) >= SCRUB_MIN
                 for form in (secret, json.dumps(secret)[1:-1])}
        self._pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))) if forms \
            else None
        #: The longest form replaced: a text cut short may begin with the end of one, as long at most.
        self.longest = max(map(len, forms), default=0)

    def __call__(self, text: str) -> str:
        return self._pattern.sub("***", text) if self._pattern else text


class _StderrTail(threading.Thread):
    """Reads a tap's stderr to its end, keeping the last STDERR_KEPT bytes."""

    def __init__(self, stream: IO[bytes]) -> None:  # unbuffered: read() returns what is there
        super().__init__(name="singer-stderr", daemon=True)
        self.stream = stream
        self.kept = bytearray()
        self.cut = False

    def run(self) -> None:
        with self.stream:
            while chunk := self.stream.read(_CHUNK):
                self.kept += chunk
                if len(self.kept) > STDERR_KEPT:
                    del self.kept[:len(self.kept) - STDERR_KEPT]
                    self.cut = True

    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")


class TapProcess:
    """A running tap: `with TapProcess(...) as tap:` then `tap.lines()` or `tap.output()`.

    Leaving the block ends the run: SIGTERM to the tap's process group if it is still running,
    SIGKILL to the group after STOP_GRACE seconds (at once when the tap has exited, for any child
    it left), and the working directory is removed."""

    def __init__(self, executable: Path, arguments: list[str], directory: Path, *, timeout: float, max_output: int,
                 scrub: Scrubber) -> None:
        self.scrub = scrub
        self.timeout = timeout
        self.max_output = max_output
        self.deadline = time.monotonic() + timeout
        self.written = 0
        try:
            self.process = subprocess.Popen(
                [str(executable), *arguments], cwd=directory, env=clean_environment(directory),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, process_group=0)
        except OSError as error:
            raise ConnectorError(f"the Singer tap could not be started: {error.strerror}") from None
        assert self.process.stdout is not None and self.process.stderr is not None
        self.stdout = self.process.stdout
        self.stderr = _StderrTail(self.process.stderr)
        self.stderr.start()

    def __enter__(self) -> TapProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # Reading.

    def _chunk(self) -> bytes:
        """The next bytes of stdout (b"" at its end); the tap is stopped and the run fails beyond
        the deadline or the output budget."""
        fd = self.stdout.fileno()
        exited: float | None = None
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise self._over_time()
            ready, _, _ = select.select([fd], [], [], min(left, _POLL))
            if ready:
                break
            if self.process.poll() is not None:  # the tap exited but stdout is still open: a child holds it
                if exited is None:
                    exited = time.monotonic()
                    self._signal_group(signal.SIGKILL)
                elif time.monotonic() - exited > 2 * _POLL:
                    return b""  # held by a process that left the tap's group: the output ends with the tap
        chunk = self.stdout.read(min(_CHUNK, self.max_output - self.written + 1))
        self.written += len(chunk)
        if self.written > self.max_output:
            self.stop()
            raise ConnectorError(f"the Singer tap wrote more than {self.max_output} bytes in one run "
                                 f"({_OUTPUT_SETTING}) and was stopped")
        return chunk

    def lines(self, when: str) -> Iterator[bytes]:
        """stdout line by line (without line ends); at its end the tap must exit 0 (else the run fails)."""
        buffer = bytearray()
        while chunk := self._chunk():
            searched = len(buffer)
            buffer += chunk
            end = buffer.rfind(b"\n", searched)
            if end >= 0:
                complete = bytes(buffer[:end])
                del buffer[:end + 1]
                yield from complete.split(b"\n")
        self.finish(when)
        if buffer:
            yield bytes(buffer)

    def output(self, when: str) -> bytes:
        """All of stdout, once the tap has exited 0."""
        chunks = []
        while chunk := self._chunk():
            chunks.append(chunk)
        self.finish(when)
        return b"".join(chunks)

    def finish(self, when: str) -> None:
        """Wait (within the deadline) for the tap to exit; a ConnectorError when it failed."""
        try:
            code = self.process.wait(max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise self._over_time() from None
        if code != 0:
            raise self._failure(f"exited with code {code} {when}")

    # Ending.

    def _over_time(self) -> ConnectorError:
        self.stop()
        return ConnectorError(f"the Singer tap ran longer than {self.timeout:g} s ({_TIMEOUT_SETTING}) and was stopped")

    def _failure(self, what: str) -> ConnectorError:
        """The error for a tap that `what`, quoting the end of its stderr: ConnectorAuthError when
        that speaks of refused credentials."""
        self.stop()
        message = f"the Singer tap {what}: {self.excerpt() or '(nothing on stderr)'}"
        return ConnectorAuthError(message) if _AUTH_WORDS.search(self.stderr.text()) else ConnectorError(message)

    def excerpt(self) -> str:
        """The end of the tap's stderr, scrubbed: at most STDERR_EXCERPT characters."""
        text = self.scrub(self.stderr.text())
        if self.stderr.cut:  # what was kept may begin with the end of a secret
            text = text[self.scrub.longest:]
        text = text.strip()
        return text if len(text) <= STDERR_EXCERPT else "…" + text[-STDERR_EXCERPT + 1:]

    def quote(self, line: bytes) -> str:
        """The start of a line of the tap's output (200 characters), scrubbed, for an error."""
        return self.scrub(line[:STDERR_KEPT].decode("utf-8", "replace"))[:200]

    def _signal_group(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, number)

    def stop(self) -> None:
        """End the tap and every process of its group; idempotent."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE)
        self._signal_group(signal.SIGKILL)
        self.process.wait()
        self.stderr.join(1)  # a process outside the group may hold stderr: the thread then ends with it
        self.stdout.close()
