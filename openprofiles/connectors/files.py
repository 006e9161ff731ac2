"""A local directory as a flow source: its CSV, JSON Lines, JSON and Parquet files (an OpenProfiles connector).

For users without AppFlow's SaaS sources: point a CustomConnector profile labelled "Files" at a
directory (`profileProperties: {"path": "/data/exports"}`) and drop exports there. Entities are
paths relative to that directory: sub-directories (nested) and `.csv`, `.jsonl`, `.ndjson`, `.json`
and `.parquet` files. Incremental pulls go by each file's modification time, or by a record field.

The operator grants directories (`--files-root`, `Grants.files_roots`): the connector is off without
one, and the profile's directory and every file read must lie, symbolic links and `..` resolved,
inside a root and outside the server's data directory.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from openprofiles.connectors.base import (
    Connector,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    NotGranted,
    Page,
)
from openprofiles.connectors.parquet import PARQUET
from openprofiles.connectors.tabular import CHUNK, SUFFIXES, SourceFile, describe_file, extract_pages

#: The operator setting that enables the connector and names what it may read.
SETTING = "--files-root DIR (or OPENPROFILES_FILES_ROOTS)"
#: The suffixes the Files connector reads: those of the S3 connector, and Parquet (which needs random access).
FILE_SUFFIXES = {**SUFFIXES, ".parquet": PARQUET}


def suffix_format(name: str) -> str | None:
    """The format a file name's suffix names; None for other names."""
    dot = name.rfind(".")
    return FILE_SUFFIXES.get(name[dot:].lower()) if dot > name.rfind("/") else None


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _opened_path(raw: io.FileIO, path: Path) -> Path:
    """The file an open descriptor reads (Linux names it in /proc), else `path` resolved."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{raw.fileno()}"))
    except OSError:
        return path.resolve()


class FilesConnector(Connector):
    """CSV, JSON and Parquet record files in a directory on the OpenProfiles server."""

    connector_type = "CustomConnector"
    label = "Files"

    @cached_property
    def root(self) -> Path:
        """The directory named by the profile's `path` property, resolved; NotGranted outside the roots."""
        grants = self.connection.grants
        if not grants.files_roots:
            raise NotGranted(f"the Files connector is off: the operator enables it with {SETTING}")
        path = self.connection.properties.get("path")
        if not path or not isinstance(path, str):
            raise ConnectorError("the connector profile needs a 'path' property: the directory to read")
        if not Path(path).is_absolute():
            raise ConnectorError(f"the 'path' property {path!r} must be an absolute path")
        root = Path(path).resolve()
        if not self._granted(root):
            raise NotGranted(f"{path} is not inside a directory the operator allows: the operator names the "
                             f"directories the Files connector may read with {SETTING}")
        return root

    def _granted(self, path: Path) -> bool:
        """Whether a resolved path is inside one of the roots and outside the server's data directory."""
        grants = self.connection.grants
        if grants.data_dir is not None and path.is_relative_to(grants.data_dir.resolve()):
            return False
        return any(path.is_relative_to(root.resolve()) for root in grants.files_roots)

    def check(self) -> None:
        root = self.root
        if not root.is_dir():
            raise ConnectorError(f"{root} does not exist or is not a directory")
        if not os.access(root, os.R_OK | os.X_OK):
            raise ConnectorError(f"{root} is not readable by the server")

    def _inside(self, path: Path) -> bool:
        """Whether `path` (symbolic links followed) is within the root."""
        return path.resolve().is_relative_to(self.root)

    def _resolve(self, entity: str | None) -> Path:
        """The file or directory an entity names, refused outside the root."""
        self.check()
        target = (self.root / (entity or "").strip("/")).resolve()
        if not self._inside(target):
            raise ConnectorError(f"{entity!r} is outside {self.root}")
        if not target.exists():
            raise ConnectorError(f"{entity!r} does not exist in {self.root}")
        return target

    def _name(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def entities(self, path: str | None = None) -> list[Entity]:
        directory = self._resolve(path)
        if not directory.is_dir():
            raise ConnectorError(f"{path!r} is not a directory")
        folders: list[Entity] = []
        files: list[Entity] = []
        for child in sorted(directory.iterdir()):
            if not _visible(child.name) or not self._inside(child):
                continue
            if child.is_dir():
                folders.append(Entity(self._name(child), child.name, has_nested_entities=True))
            elif child.is_file() and suffix_format(child.name):
                files.append(Entity(self._name(child), child.name))
        return folders + files

    def _files(self, target: Path) -> list[SourceFile]:
        """The file `target` names, or every supported file below that directory (hidden ones, and
        links leading out of the root, skipped)."""
        if target.is_file():
            if not suffix_format(target.name):
                raise ConnectorError(f"{self._name(target)}: not one of {', '.join(FILE_SUFFIXES)}")
            paths = [target]
        else:
            paths = []
            for folder, subfolders, names in os.walk(target):
                subfolders[:] = [name for name in subfolders if _visible(name)]
                paths += [Path(folder, name) for name in names if _visible(name) and suffix_format(name)]
            paths = [path for path in paths if self._inside(path)]
        files = []
        for path in paths:
            try:
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError as error:
                raise ConnectorError(f"{self._name(path)}: {error.strerror}") from None
            files.append(SourceFile(self._name(path), modified, suffix_format(path.name)))
        return sorted(files, key=lambda file: file.key)

    @contextmanager
    def _open(self, file: SourceFile) -> Iterator[io.BufferedReader]:
        try:
            raw = io.FileIO(self.root / file.key)
        except OSError as error:
            raise ConnectorError(f"{file.key}: {error.strerror}") from None
        opened = _opened_path(raw, self.root / file.key)
        if not (opened.is_relative_to(self.root) and self._granted(opened)):
            raw.close()  # a link put in its place since the file was listed
            raise ConnectorError(f"{file.key!r} is outside {self.root}")
        binary: io.BufferedReader = io.BufferedReader(raw, CHUNK)
        with binary:
            yield binary

    def describe(self, entity: str) -> list[EntityField]:
        """Fields of the file `entity` names, or of the first file (in name order) under that directory."""
        files = self._files(self._resolve(entity))
        if not files:
            raise ConnectorError(f"{entity!r} holds no {', '.join(FILE_SUFFIXES)} files")
        with self._open(files[0]) as binary:
            return describe_file(binary, files[0].format, files[0].key)

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        """The records of the entity's file, or of every file below its directory, in name order."""
        yield from extract_pages(self._files(self._resolve(request.entity)), self._open, request)
