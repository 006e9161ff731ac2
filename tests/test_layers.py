"""The layer table of docs/architecture.md ("## Layers"), enforced: every import of every module of
openprofiles/ (module level, in a function, under TYPE_CHECKING, relative, `import_module` of a
constant name) is read with `ast` and checked against the table parsed from the doc, so the doc and
the check cannot drift. Synthetic trees prove each rule can fail."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "openprofiles"
DOC = ROOT / "docs" / "architecture.md"
BASE = "base"
_NAME = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Row:
    """One row of the table: the modules it names and the rows they may import."""

    modules: tuple[str, ...]
    may_import: frozenset[str]
    anything: bool


@dataclass(frozen=True)
class Source:
    """A module to check: where it is (for messages), whether it is a package, its text."""

    path: str
    is_package: bool
    text: str


def parse_layers(markdown: str) -> dict[str, Row]:
    """The rows of the table in the `## Layers` section; ValueError when the table is malformed."""
    section = markdown.split("\n## Layers\n", 1)
    if len(section) != 2:
        raise ValueError("no '## Layers' section")
    lines = section[1].split("\n## ", 1)[0].splitlines()
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    rows: dict[str, Row] = {}
    for cell in cells[2:]:  # after the header and its separator
        if len(cell) != 3:
            raise ValueError(f"a row of the layer table needs 3 cells: {cell}")
        (layer,), modules, may = _NAME.findall(cell[0]), tuple(_NAME.findall(cell[1])), cell[2]
        rows[layer] = Row(modules, frozenset(_NAME.findall(may)), may.startswith("anything"))
    if BASE not in rows:
        raise ValueError(f"the layer table has no '{BASE}' row")
    seen: dict[str, str] = {}
    for layer, row in rows.items():
        for name in row.modules:
            if name in seen:
                raise ValueError(f"{name} is in two rows: {seen[name]} and {layer}")
            seen[name] = layer
        if unknown := row.may_import - rows.keys():
            raise ValueError(f"row {layer} may import unknown rows {sorted(unknown)}")
    if cycle := _cycle({layer: set(row.may_import) - {layer} for layer, row in rows.items()}):
        raise ValueError(f"the table itself allows a cycle: {' -> '.join(cycle)}")
    return rows


def layer_of(rows: Mapping[str, Row], module: str) -> str | None:
    """The row of a dotted module name: the longest package or module naming it."""
    best: tuple[int, str] | None = None
    for layer, row in rows.items():
        for name in row.modules:
            full = PACKAGE if name == PACKAGE else f"{PACKAGE}.{name}"
            covers = module == full or (name != PACKAGE and module.startswith(full + "."))
            if covers and (best is None or len(full) > best[0]):
                best = (len(full), layer)
    return best[1] if best else None


def imports_in(module: str, source: Source, known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, imported module) for each import of an openprofiles module, wherever it stands."""
    package = module if source.is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source.text, source.path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            if origin.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                yield node.lineno, sub if sub in known else origin
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and node.args[0].value.split(".")[0] == PACKAGE
              and _called_name(node.func) in ("import_module", "__import__")):
            yield node.lineno, node.args[0].value


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as its nodes, the first repeated at the end; None when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def check(rows: Mapping[str, Row], modules: Mapping[str, Source]) -> list[str]:
    """Every import the table forbids, every module no row names and every cycle between rows (the
    modules of `base` count one by one), as messages naming file, line and rule."""
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    witness: dict[tuple[str, str], str] = {}
    for module, source in sorted(modules.items()):
        layer = layer_of(rows, module)
        if layer is None:
            problems.append(f"{source.path}: {module} is in no row of the layer table")
            continue
        row = rows[layer]
        for line, target in sorted(set(imports_in(module, source, set(modules)))):  # once per line and module
            target_layer = layer_of(rows, target)
            where = f"{source.path}:{line}: {module} ({layer}) imports {target} ({target_layer or 'no row'})"
            if target_layer is None:
                problems.append(f"{where}: the imported module is in no row of the layer table")
                continue
            if not (row.anything or target_layer in (layer, BASE) or target_layer in row.may_import):
                allowed = ", ".join(sorted(row.may_import)) or "nothing"
                problems.append(f"{where}: {layer} may import only its own row, base and: {allowed}")
            ends = (module if layer == BASE else layer, target if target_layer == BASE else target_layer)
            if ends[0] != ends[1]:
                graph.setdefault(ends[0], set()).add(ends[1])
                witness.setdefault(ends, f"{source.path}:{line}")
    found = _cycle(graph)
    if found:
        steps = ", ".join(f"{a} -> {b} at {witness[a, b]}" for a, b in pairwise(found))
        problems.append(f"cycle between packages: {' -> '.join(found)} ({steps})")
    return problems


def tree_sources(root: Path) -> dict[str, Source]:
    """Every module of the package under `root`, by dotted name."""
    sources = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = Source(str(path.relative_to(root)), is_package, path.read_text())
    return sources


# --- the real tree ---------------------------------------------------------------------------------


def test_the_tree_keeps_the_documented_layers() -> None:
    problems = check(parse_layers(DOC.read_text()), tree_sources(ROOT))
    assert problems == [], "imports against docs/architecture.md's layer table:\n" + "\n".join(problems)


def test_the_documented_table_names_every_layer_of_the_brief() -> None:
    rows = parse_layers(DOC.read_text())
    assert rows["entry"].anything and not rows["api"].may_import and rows["api"].modules == ("api",)
    assert "services.customer_profiles" not in rows["services.appflow"].may_import
    assert "storage" not in rows["web"].may_import and layer_of(rows, "openprofiles") == BASE
    assert layer_of(rows, "openprofiles.services.appflow.flows") == "services.appflow"
    assert layer_of(rows, "openprofiles.services.tags") == "services"
    assert layer_of(rows, "openprofiles.servicesx") is None


# --- the checker on synthetic trees ---------------------------------------------------------------

TABLE = """# Synthetic

## Layers

| layer | packages and modules | may import |
|---|---|---|
| `top` | `top`, `cli` | anything |
| `mid` | `mid` | `low`: not top |
| `mid.special` | `mid.special` | `mid` |
| `low` | `low` | base only |
| `base` | `openprofiles`, `errors`, `clock` | one another |

## Next section

| `ignored` | `x` | `y` |
"""


def _tree(**texts: str) -> dict[str, Source]:
    """Modules by dotted name (`__` for a dot, a trailing `__init` for a package) and their text."""
    sources = {}
    for key, text in texts.items():
        name = "openprofiles." + key.replace("__init", "").replace("__", ".").rstrip(".")
        is_package = key.endswith("__init")
        path = name.replace(".", "/") + ("/__init__.py" if is_package else ".py")
        sources[name] = Source(path, is_package, text)
    return sources


def test_allowed_imports_pass() -> None:
    tree = _tree(mid__a="from openprofiles.low.b import x\nfrom openprofiles import errors\n",
                 low__b="import openprofiles.clock\n", errors="", clock="from openprofiles.errors import E\n",
                 top="from openprofiles.mid.a import y\n", mid__special__c="from openprofiles.mid import a\n")
    assert check(parse_layers(TABLE), tree) == []


@pytest.mark.parametrize("text", [
    "from openprofiles.mid.a import y\n",
    "def f():\n    from openprofiles.mid import a\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import openprofiles.mid.a\n",
    "from ..mid import a\n",
    "import importlib\nimportlib.import_module('openprofiles.mid.a')\n",
])
def test_a_forbidden_import_is_named_by_file_line_and_rule(text: str) -> None:
    tree = _tree(low__b=text, mid__a="")
    problems = check(parse_layers(TABLE), tree)
    line = len(text.splitlines())
    assert problems[0] == (f"openprofiles/low/b.py:{line}: openprofiles.low.b (low) imports openprofiles.mid.a "
                           "(mid): low may import only its own row, base and: nothing")


def test_a_subpackage_is_its_own_row() -> None:
    """`mid` may not import `mid.special` although its name starts with `mid`."""
    problems = check(parse_layers(TABLE), _tree(mid__a="from openprofiles.mid.special import c\n", mid__special__c=""))
    assert problems == ["openprofiles/mid/a.py:1: openprofiles.mid.a (mid) imports openprofiles.mid.special.c "
                        "(mid.special): mid may import only its own row, base and: low"]


def test_a_cycle_between_packages_fails() -> None:
    """`top` may import anything and here `low` may import `top`: no import is forbidden, the cycle
    between them still fails."""
    table = TABLE.replace("| `low` | `low` | base only |", "| `low` | `low` | `top` |")
    tree = _tree(top="from openprofiles.low import b\n", low__b="def f():\n    from openprofiles import top\n")
    assert check(parse_layers(table), tree) == [
        "cycle between packages: low -> top -> low (low -> top at openprofiles/low/b.py:2, "
        "top -> low at openprofiles/top.py:1)"]


def test_a_table_allowing_a_cycle_is_refused() -> None:
    table = TABLE.replace("| `low` | `low` | base only |", "| `low` | `low` | `mid` |")
    with pytest.raises(ValueError, match="allows a cycle: low -> mid -> low"):
        parse_layers(table)


def test_a_cycle_between_base_modules_fails() -> None:
    tree = _tree(errors="from openprofiles.clock import now\n", clock="def f():\n    from openprofiles import errors\n")
    assert check(parse_layers(TABLE), tree) == [
        "cycle between packages: openprofiles.clock -> openprofiles.errors -> openprofiles.clock "
        "(openprofiles.clock -> openprofiles.errors at openprofiles/clock.py:2, "
        "openprofiles.errors -> openprofiles.clock at openprofiles/errors.py:1)"]


def test_an_unlisted_module_fails_and_so_does_importing_one() -> None:
    tree = _tree(stray="", low__b="from openprofiles.stray import x\n")
    assert check(parse_layers(TABLE), tree) == [
        "openprofiles/low/b.py:1: openprofiles.low.b (low) imports openprofiles.stray (no row): the imported "
        "module is in no row of the layer table",
        "openprofiles/stray.py: openprofiles.stray is in no row of the layer table"]


def test_one_message_per_imported_module_and_line() -> None:
    tree = _tree(low__b="from openprofiles.mid.a import x, y\n", mid__a="")
    assert len(check(parse_layers(TABLE), tree)) == 1


def test_relative_imports_resolve_against_the_package() -> None:
    tree = _tree(mid____init="from . import a\nfrom .a import y\n", mid__a="from .. import errors\n", errors="")
    found = {name: list(imports_in(name, source, set(tree))) for name, source in tree.items()}
    assert found == {"openprofiles.mid": [(1, "openprofiles.mid.a"), (2, "openprofiles.mid.a")],
                     "openprofiles.mid.a": [(1, "openprofiles.errors")], "openprofiles.errors": []}


@pytest.mark.parametrize(("change", "message"), [
    (("| `low` | `low` | base only |", "| `low` | `low` | `nowhere` |"), "unknown rows"),
    (("| `low` | `low` |", "| `low` | `mid` |"), "in two rows"),
    (("| `base` | `openprofiles`", "| `bottom` | `openprofiles`"), "no 'base' row"),
    (("| `low` | `low` | base only |", "| `low` | `low` |"), "needs 3 cells"),
    (("## Layers", "## Strata"), "no '## Layers' section"),
])
def test_a_malformed_table_is_refused(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_layers(TABLE.replace(*change))
