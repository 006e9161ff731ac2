"""Docs that cannot drift from the command line.

1. Every `openprofiles …` command line written in README.md and docs/**/*.md exists in the click
   command tree (`openprofiles.cli.main`, imported lazily). A command line is looked for in code only:
   a line of a fenced code block (with `\\` continuations joined) or an inline code span, in which
   `openprofiles` (or `…/bin/openprofiles`) starts the line or span or follows `$ `, `&&`, `;`, `|` or
   `(`. Its words are read like a shell would (a `#` comment, `|`, `<`, `>`, `&&` or `;` ends it), then
   checked: each word after a group names one of its subcommands (a group may also end the line);
   each `--option`/`-o` is an option of the command it follows (or `--help`), and its value, when it
   takes one, follows as `=value` or as the next word; the remaining words are no more than the
   command's arguments. Optional parts are written in `[…]`: the options inside are checked alike,
   plain words inside (`[flow run options]`) are placeholders. `…` and `...` alone are placeholders.
2. Every command of the tree has a command line in docs/configuration.md, and each of its options
   and environment variables is written there.
3. Every module (tests/test_layout.py `modules()`: openprofiles/**/*.py without empty `__init__.py`s
   and migration revisions) is named in docs/architecture.md, in an inline code span, in one of two ways:
   - inside a package's part of the document, by its path relative to that package (`bulk.py` or
     `appflow/flows.py`); a span that names no module of that package is read as below;
   - elsewhere, by its path relative to openprofiles/ (`storage/wal_checkpoints.py`, `app.py`);
   - anywhere, by `openprofiles/` and that path.
   A package's part is a paragraph (text between blank lines) that begins with the package path in
   bold code (`**`storage/`**`), or a section under a heading whose text begins with the package
   path in code (`### `storage/``), down to the next heading of the same or a higher level.
   Patterns (`handlers_*.py`) name nothing.
4. Every file and module that README.md and docs/**/*.md name exists: in an inline code span or a fenced
   code block, a path ending in `.py` with a `/` is the end of an existing path of the repository
   (`tests/web/test_console.py`, `customer_profiles/integrations.py`), a bare `name.py` the name of
   a file under openprofiles/, tests/, benchmarks/ or scripts/, and a dotted `openprofiles.X.…` whose
   `X` is a module or package of openprofiles imports (its longest module prefix, then attributes).
Each checker is proven by synthetic docs that must fail.
"""

from __future__ import annotations

import importlib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from tests.test_layout import modules

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
CONFIGURATION = ROOT / "docs" / "configuration.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# Where a command starts: the line's (or span's) start, a prompt, or after a shell separator.
_START = re.compile(r"(?:^|\$ |&& |; |\| |\()\s*(?:[\w./-]*/)?openprofiles(?=\s|$)")
_ENDS = {"|", "||", "&&", ";", "<", ">", ">>", "2>", "&"}
_PLACEHOLDERS = {"…", "..."}


@dataclass(frozen=True)
class CommandLine:
    """One documented `openprofiles …` command line: where it is written and its words after `openprofiles`."""

    where: str
    text: str

    def words(self) -> list[str]:
        text = re.sub(r"\s#.*$", "", self.text)
        lexer = shlex.shlex(text.replace("[", " [ ").replace("]", " ] "), posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        words: list[str] = []
        for word in lexer:
            if word in _ENDS:
                break
            words.append(word)
        return words


def command_lines(text: str, where: str) -> Iterator[CommandLine]:
    """The command lines written in one Markdown document (see the module docstring)."""
    fenced = False
    pending, first = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            pending = ""
            continue
        if fenced:
            first = first if pending else number
            joined = pending + line
            if joined.rstrip().endswith("\\"):
                pending = joined.rstrip()[:-1] + " "
                continue
            pending = ""
            yield from _commands_in(joined, f"{where}:{first}")
        else:
            for span in _INLINE.finditer(line):
                yield from _commands_in(span.group(1), f"{where}:{number}")


def _commands_in(code: str, where: str) -> Iterator[CommandLine]:
    for start in _START.finditer(code):
        yield CommandLine(where, code[start.end():].strip())


def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def check(line: CommandLine, root: click.Group) -> list[str]:
    """What is wrong with one command line, as messages (empty when it exists as written)."""
    return read(line, root)[1]


def read(line: CommandLine, root: click.Group) -> tuple[str, list[str]]:
    """The command a line names (`keys create`) and what is wrong with the line."""
    words = line.words()
    command: click.Command = root
    path = ["openprofiles"]
    positional: list[str] = []
    problems: list[str] = []
    optional = 0
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word in ("[", "]"):
            optional += 1 if word == "[" else -1
            continue
        if word in _PLACEHOLDERS:
            continue
        if word.startswith("-") and word != "-":
            name, has_value, _ = word.partition("=")
            if name == "--help":
                continue
            option = _option(command, name)
            if option is None:
                problems.append(f"{' '.join(path)} has no option {name}")
                break  # whether it takes a value is unknown, so the words after it cannot be read
            if not option.is_flag and not option.count and not has_value:
                if index >= len(words) or words[index] in ("[", "]"):
                    problems.append(f"{' '.join(path)} {name} needs a value")
                else:
                    index += option.nargs
            continue
        if optional:
            continue  # a placeholder inside [...]
        if isinstance(command, click.Group) and not positional:
            sub = command.commands.get(word)
            if sub is None:
                problems.append(f"{' '.join(path)} has no command {word!r}")
                break
            command = sub
            path.append(word)
            continue
        positional.append(word)
    arguments = [param for param in command.params if isinstance(param, click.Argument)]
    if not any(argument.nargs == -1 for argument in arguments) and len(positional) > sum(
        argument.nargs for argument in arguments
    ):
        problems.append(f"{' '.join(path)} takes {len(arguments)} argument(s), not {positional}")
    return " ".join(path[1:]), [f"{line.where}: `openprofiles {line.text}`: {problem}" for problem in problems]


def _documented() -> list[CommandLine]:
    lines: list[CommandLine] = []
    for doc in DOCS:
        lines += command_lines(doc.read_text(), str(doc.relative_to(ROOT)))
    return lines


def _root() -> click.Group:
    from openprofiles.cli import main  # lazily: the command tree is imported by the test, not at collection

    assert isinstance(main, click.Group)
    return main


def _tree(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _tree(command, f"{prefix}{name} ")


@pytest.mark.parametrize("line", _documented(), ids=lambda line: line.where)
def test_documented_command_lines_exist(line: CommandLine) -> None:
    assert check(line, _root()) == []


def undocumented(text: str, root: click.Group) -> list[str]:
    """The commands, options and variables of the tree that a configuration document does not write."""
    written = {read(line, root)[0] for line in command_lines(text, "")}
    problems: list[str] = []
    for name, command in _tree(root):
        if not any(path == name or path.startswith(name + " ") for path in written):
            problems.append(f"command {name!r} has no command line")
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            if param.envvar and f"`{param.envvar}`" not in text:
                problems.append(f"{param.envvar} ({name}) is not documented")
            flag = param.opts[0]
            if flag.startswith("--") and not re.search(re.escape(flag) + r"(?![\w-])", text):
                problems.append(f"{name} {flag} is not documented")
    return problems


def test_every_command_and_its_options_and_variables_are_in_configuration_md() -> None:
    assert undocumented(CONFIGURATION.read_text(), _root()) == []


def test_configuration_md_check_fails_when_something_is_left_out() -> None:
    text = CONFIGURATION.read_text()
    root = _root()
    assert "command 'expire' has no command line" in undocumented(text.replace("`openprofiles expire`", ""), root)
    assert "serve --host is not documented" in undocumented(re.sub(r"--host(?![\w-])", "", text), root)
    without_variable = text.replace("`OPENPROFILES_SESSION_TTL`", "")
    assert "OPENPROFILES_SESSION_TTL (serve) is not documented" in undocumented(without_variable, root)


def test_commands_are_found_in_code_only() -> None:
    doc = "\n".join(
        [
            "Run openprofiles serve in prose: not a command line. `openprofiles keys list` is one.",
            "```sh",
            "$ .venv/bin/openprofiles serve --host 0.0.0.0 \\",
            "      --port 9000   # a comment",
            "aws customer-profiles list-domains --profile openprofiles",
            "make run && openprofiles keys create --json | jq .",
            "```",
            "`[openprofiles]` and `openprofiles.connectors` are not commands.",
        ]
    )
    found = [(line.where, line.words()) for line in command_lines(doc, "x.md")]
    assert found == [
        ("x.md:1", ["keys", "list"]),
        ("x.md:3", ["serve", "--host", "0.0.0.0", "--port", "9000"]),
        ("x.md:6", ["keys", "create", "--json"]),
    ]


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ("`openprofiles keys crate`", "openprofiles keys has no command 'crate'"),
        ("`openprofiles sevre --port 1`", "openprofiles has no command 'sevre'"),
        ("```\nopenprofiles serve --prot 8000\n```", "openprofiles serve has no option --prot"),
        ("`openprofiles keys list [--account-id ID]`", "openprofiles keys list has no option --account-id"),
        ("`openprofiles keys create --account-id`", "openprofiles keys create --account-id needs a value"),
        ("`openprofiles keys revoke AKIA1 AKIA2`", "openprofiles keys revoke takes 1 argument(s)"),
        ("`openprofiles expire now`", "openprofiles expire takes 0 argument(s)"),
        ("```\nopenprofiles serve \\\n  --host 0.0.0.0 \\\n  --singer-taps x=/y\n```", "has no option --singer-taps"),
    ],
)
def test_the_checker_fails_on_bad_docs(doc: str, problem: str) -> None:
    lines = list(command_lines(doc, "bad.md"))
    assert len(lines) == 1
    problems = check(lines[0], _root())
    assert len(problems) == 1 and problem in problems[0]


@pytest.mark.parametrize(
    "doc",
    [
        "`openprofiles keys create [--account-id 123456789012] [--json]`",
        "`openprofiles worker [--scheduler-interval S] [flow run options]`",
        "`openprofiles dead-letters redrive LETTER_ID…`",
        "`openprofiles serve --port=9000 --auth open`",
        "`openprofiles --version`",
        "`openprofiles keys`",
        "`openprofiles`",
        "`openprofiles flows push NAME - < records.jsonl`",
    ],
)
def test_the_checker_accepts_good_docs(doc: str) -> None:
    (line,) = command_lines(doc, "good.md")
    assert check(line, _root()) == []


_PARAGRAPH_PACKAGE = re.compile(r"\A\*\*`([\w/]+/)`\*\*")
_HEADING = re.compile(r"\A(#+)\s+(.*)\Z")
_HEADING_PACKAGE = re.compile(r"\A`([\w/]+/)`")


def _blocks(text: str) -> Iterator[tuple[str | None, str]]:
    """Each paragraph and heading of a document with the package whose part it is in (or None)."""
    section: tuple[str, int] | None = None  # the package of the enclosing heading, and its level
    for block in re.split(r"\n(?:\s*\n|(?=#))", text):
        block = block.strip()
        if heading := _HEADING.match(block):
            level = len(heading.group(1))
            if section and level <= section[1]:
                section = None
            if package := _HEADING_PACKAGE.match(heading.group(2)):
                section = (package.group(1), level)
            yield (section[0] if section else None), block
        elif package := _PARAGRAPH_PACKAGE.match(block):
            yield package.group(1), block
        else:
            yield (section[0] if section else None), block


def named_modules(text: str, known: list[str]) -> set[str]:
    """The modules among `known` (paths relative to openprofiles/) that a document names."""
    names = set(known)
    named = set()
    for package, block in _blocks(text):
        for span in _INLINE.findall(block):
            if span.startswith("openprofiles/"):
                named |= {span.removeprefix("openprofiles/")} & names
            elif package and package + span in names:
                named.add(package + span)
            else:
                named |= {span} & names
    return named


def test_every_module_is_named_in_architecture_md() -> None:
    known = modules()
    missing = sorted(set(known) - named_modules(ARCHITECTURE.read_text(), known))
    assert not missing, f"{len(missing)} modules not named in docs/architecture.md:\n" + "\n".join(missing)


def test_module_naming_rule_fails_on_synthetic_docs() -> None:
    known = ["app.py", "errors.py", "api/errors.py", "storage/bulk.py", "storage/tables.py",
             "services/appflow/flows.py", "flows/engine.py"]
    doc = "\n".join(
        [
            "# Architecture",
            "Entry points: `app.py`, and `bulk.py` outside any package's part names nothing.",
            "",
            "**`storage/`**: `tables.py` and `storage_*.py`.",
            "",
            "**`api/`**: `errors.py` is api/errors.py, and `flows/engine.py` is read from openprofiles/.",
            "",
            "## `services/`",
            "### Deeper",
            "`appflow/flows.py`",
            "## Other",
            "`tables.py` here names nothing.",
        ]
    )
    assert named_modules(doc, known) == {
        "app.py", "api/errors.py", "storage/tables.py", "flows/engine.py", "services/appflow/flows.py"
    }
    assert "storage/bulk.py" not in named_modules(doc, known)
    assert "errors.py" not in named_modules(doc, known)
    assert named_modules("`openprofiles/storage/bulk.py` and `errors.py`", known) == {"storage/bulk.py", "errors.py"}


_PY_PATH = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.py)(?![\w/-])")
_DOTTED = re.compile(r"(?<![\w.])openprofiles(?:\.\w+)+")
_SOURCE_DIRS = ("openprofiles", "tests", "benchmarks", "scripts")


def _code(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) for each inline code span and each line of a fenced code block."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
        elif fenced:
            yield number, line
        else:
            yield from ((number, span) for span in _INLINE.findall(line))


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for end in range(len(parts), 1, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for name in parts[end:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def dangling_names(text: str, files: set[str]) -> list[str]:
    """The paths, file names and dotted module names in a document's code that name nothing in `files`
    (paths relative to the repository), as `line: name`."""
    names = {Path(file).name for file in files if file.startswith(_SOURCE_DIRS)}
    paths = files | {str(Path(file).parent) for file in files}
    packages = {Path(file).parts[1].removesuffix(".py") for file in files if file.startswith("openprofiles/")}
    problems = []
    for number, code in _code(text):
        for path in _PY_PATH.findall(code):
            found = path in names if "/" not in path else any(p == path or p.endswith("/" + path) for p in paths)
            if not found:
                problems.append(f"{number}: {path}")
        for dotted in _DOTTED.findall(code):
            if dotted.split(".")[1] in packages and not _resolves(dotted):
                problems.append(f"{number}: {dotted}")
    return problems


def _repository_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for directory in _SOURCE_DIRS
        for path in (ROOT / directory).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_files_and_modules_named_in_docs_exist(doc: Path) -> None:
    dangling = dangling_names(doc.read_text(), _repository_files())
    assert not dangling, f"{doc.relative_to(ROOT)} names what does not exist:\n" + "\n".join(dangling)


def test_dangling_names_fail_on_synthetic_docs() -> None:
    files = {"openprofiles/scheduler/grammar.py", "openprofiles/services/customer_profiles/integrations.py",
             "tests/web/test_console.py", "openprofiles/connectors/base.py"}
    doc = "\n".join(
        [
            "`scheduler/grammar.py`, `customer_profiles/integrations.py`, `tests/web/test_console.py`, `grammar.py`",
            "`scheduler/scheduler.py` and `tasks.py`; `ar/grammar.py` is no path's end",
            "```python",
            "from openprofiles.connectors.base import Connector  # openprofiles.connectors.base.Connector",
            "import openprofiles.connectors.nothing_here",
            "```",
            "`openprofiles.db` is a file name; api/events.py in prose is not looked at",
        ]
    )
    assert dangling_names(doc, files) == [
        "2: scheduler/scheduler.py", "2: tasks.py", "2: ar/grammar.py", "5: openprofiles.connectors.nothing_here"
    ]
