"""Files only the server's user may read: directories 0700, files 0600, whatever the umask.

The data directory holds the SQLite database (every tenant's sealed data and its wrapped keys) and
`master.key`. Both are created private, and an existing data directory, database or key file with
group or other access is tightened when a process opens it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Make `path` exist as a 0700 directory; an existing one loses group and other access
    (unless `tighten` is false: a directory the operator chose that may hold other things)."""
    if not path.exists():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask
    elif tighten:
        _tighten(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Make `path` exist as a 0600 file (created empty if missing); an existing one loses group and other access."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.chmod(path, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)


def tighten_if_present(path: Path) -> None:
    """Take group and other access away from `path` if it exists."""
    if path.exists():
        _tighten(path, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        os.chmod(path, current & mode)
