"""docs/configuration.md is complete: every Settings field, every option of every command and every
OPENPROFILES_* variable the code reads is written there, and it names no variable the code does not
read. The check is a function of the document, so it is proven on synthetic cases that must fail."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import click
import pytest

from openprofiles.cli import main
from openprofiles.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "configuration.md").read_text()
VARIABLE = re.compile(r"OPENPROFILES_[A-Z][A-Z0-9_]*")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    """Every command under `group` with its full name ("keys create"), groups included."""
    out: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        out.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            out += commands(command, f"{prefix}{name} ")
    return out


def variables_read(package: Path) -> set[str]:
    """The OPENPROFILES_* names the code reads by name: string literals that are exactly one (an
    `os.environ` key, a constant), besides the options' `envvar`s."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.fullmatch(node.value):
                names.add(node.value)
    return names


def _flag(flag: str) -> re.Pattern[str]:
    return re.compile(re.escape(flag) + r"(?![\w-])")


def undocumented(doc: str, root: click.Group, fields: list[str], read: set[str]) -> list[str]:
    """What `doc` leaves out, one line each, or names that does not exist. An option is documented in its
    command's row of the commands table (the line with `openprofiles NAME`) or as the first cell of an
    option table (`| `--flag`…`); a variable in backticks; a Settings field by the option that sets it,
    or, when none does, by its own variable (OPENPROFILES_<FIELD>)."""
    missing: list[str] = []
    option_rows = [line for line in doc.splitlines() if line.startswith("| `--")]
    variables: set[str] = set(read)
    options_by_field: dict[str, list[str]] = {}
    for name, command in commands(root):
        rows = [line for line in doc.splitlines() if _flag(f"`openprofiles {name}").search(line)]
        if not rows:
            missing.append(f"command `openprofiles {name}`")
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            flag = param.opts[0]
            options_by_field.setdefault(str(param.name), []).append(flag)
            if not any(_flag(flag).search(line) for line in rows + [row.split("|")[1] for row in option_rows]):
                missing.append(f"option `{name} {flag}`")
            for envvar in [param.envvar] if isinstance(param.envvar, str) else param.envvar or []:
                variables.add(envvar)
    for envvar in sorted(variables):
        if f"`{envvar}`" not in doc:
            missing.append(f"variable `{envvar}`")
    for field in fields:
        own = f"OPENPROFILES_{field.upper()}"
        if field not in options_by_field and not (own in read and f"`{own}`" in doc):
            missing.append(f"Settings field `{field}` (no option sets it, and no documented {own} is read)")
    missing += [f"variable `{name}` (the code does not read it)" for name in sorted(set(VARIABLE.findall(doc)) - variables)]
    return missing


FIELDS = [field.name for field in dataclasses.fields(Settings)]
READ = variables_read(ROOT / "openprofiles")


def test_every_setting_option_and_variable_is_documented() -> None:
    assert undocumented(DOC, main, FIELDS, READ) == []


def test_the_code_reads_the_master_key_by_name() -> None:
    """The one setting without an option: if this stops holding, the scan above finds nothing."""
    assert "OPENPROFILES_MASTER_KEY" in READ


def _without(doc: str, needle: str) -> str:
    lines = [line for line in doc.splitlines() if needle not in line]
    assert len(lines) < len(doc.splitlines()), needle
    return "\n".join(lines)


def test_fails_on_a_missing_option_row() -> None:
    doc = _without(DOC, "| `--session-ttl`")
    assert undocumented(doc, main, FIELDS, READ) == ["option `serve --session-ttl`",
                                                     "variable `OPENPROFILES_SESSION_TTL`"]


def test_fails_on_an_option_missing_from_its_command_row() -> None:
    doc = DOC.replace("`openprofiles workflows list --domain NAME [--status S]", "`openprofiles workflows list --domain NAME")
    assert undocumented(doc, main, FIELDS, READ) == ["option `workflows list --status`"]


def test_fails_on_a_missing_command() -> None:
    doc = _without(DOC, "`openprofiles expire`")
    assert undocumented(doc, main, FIELDS, READ) == ["command `openprofiles expire`"]


def test_fails_on_a_new_option_setting_or_variable() -> None:
    @click.group()
    def root() -> None: ...

    @root.command()
    @click.option("--shiny", envvar="OPENPROFILES_SHINY")
    def serve(shiny: str) -> None: ...

    doc = "| command |\n|---|\n| `openprofiles serve` |\n`OPENPROFILES_GONE`\n"
    assert undocumented(doc, root, ["shiny", "secret"], {"OPENPROFILES_SECRET"}) == [
        "option `serve --shiny`",
        "variable `OPENPROFILES_SECRET`",
        "variable `OPENPROFILES_SHINY`",
        "Settings field `secret` (no option sets it, and no documented OPENPROFILES_SECRET is read)",
        "variable `OPENPROFILES_GONE` (the code does not read it)",
    ]


@pytest.mark.parametrize("source", ['ENV = "OPENPROFILES_X"', 'os.environ.get("OPENPROFILES_X")'])
def test_variables_read_are_found(source: str, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(f'"""Mentions OPENPROFILES_* and OPENPROFILES_Y in prose."""\n{source}\n')
    assert variables_read(tmp_path) == {"OPENPROFILES_X"}
