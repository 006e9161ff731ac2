"""Every command-line option and environment variable is documented in docs/configuration.md."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from openprofiles.cli import main

DOC = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in group.commands.items():
        out.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix}{name} ")
    return out


@pytest.mark.parametrize(("name", "command"), _commands(main), ids=lambda v: v if isinstance(v, str) else "")
def test_options_and_variables_are_documented(name: str, command: click.Command) -> None:
    assert f"`{name}`" in DOC or f"{name}" in DOC, f"command {name!r} is not in docs/configuration.md"
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar:
            assert f"`{param.envvar}`" in DOC, f"{param.envvar} ({name}) is not documented"
        if isinstance(param, click.Option) and param.opts[0].startswith("--") and param.name not in ("help",):
            assert re.search(re.escape(param.opts[0]) + r"(?![\w-])", DOC), f"{name} {param.opts[0]} is not documented"
