"""Tests mirror the package: every module with logic has its own test module.

The rule: `openprofiles/<path>/<module>.py` is tested by `tests/<path>/test_<module>.py`
(`openprofiles/logs.py` by `tests/test_logs.py`, `openprofiles/cli/keys.py` by `tests/cli/test_keys.py`).
Not counted: an `__init__.py` that holds nothing but a docstring, and the Alembic revisions in
`storage/migrations/versions/`. Every other module without a test module is in `EXEMPT` with the
reason it has no logic of its own. Every directory of tests/ that holds test modules is a package
(an `__init__.py`), so test modules of the same name in two directories do not collide.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "openprofiles"
TESTS = ROOT / "tests"

#: Modules without logic of their own, by path relative to openprofiles/, each with why.
EXEMPT: dict[str, str] = {
    "__init__.py": "the package version only",
    "__main__.py": "calls the click root, `python -m openprofiles`",
    "cli/__init__.py": "re-exports the click root of cli/root.py",
    "flows/tasks/__init__.py": "re-exports the task compiler's public names",
    "context.py": "the RequestContext dataclass",
    "errors.py": "the ServiceError exception family, no behaviour",
    "api/errors.py": "the wire error classes (code, message, status), no behaviour",
    "api/ports.py": "Protocols that app.py fills in (access-key lookup, providers)",
    "services/appflow/destinations.py": "the Protocol AppFlow asks of the Customer Profiles destination",
    "flows/tasks/outcomes.py": "the outcome dataclasses and the Drop/Halt exceptions of a record",
    "storage/tables.py": "the schema as SQLAlchemy Core tables, declarations only",
    "storage/migrations/env.py": "Alembic's environment script, run by Database.migrate (tests/storage/test_database.py)",
}


def is_empty_init(path: Path) -> bool:
    """An `__init__.py` whose only statement, if any, is its docstring."""
    if path.name != "__init__.py":
        return False
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def modules() -> list[str]:
    """The package's modules, relative to openprofiles/, without empty `__init__.py`s and migration revisions."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[:3] == ("storage", "migrations", "versions") or is_empty_init(path):
            continue
        found.append(relative.as_posix())
    return found


def mirror(module: str) -> Path:
    """Where the tests of one module (relative to openprofiles/) live."""
    relative = Path(module)
    return TESTS.joinpath(*relative.parts[:-1], f"test_{relative.name}")


def untested(names: list[str], exempt: dict[str, str]) -> list[str]:
    """The modules among `names` that have neither a test module nor an exemption."""
    return [name for name in names if name not in exempt and not mirror(name).exists()]


def test_every_module_with_logic_has_its_test_module() -> None:
    missing = [f"{name} -> {mirror(name).relative_to(ROOT)}" for name in untested(modules(), EXEMPT)]
    assert not missing, f"{len(missing)} modules without their test module:\n" + "\n".join(missing)


def test_every_exemption_names_a_module_and_says_why() -> None:
    names = set(modules())
    assert [name for name in EXEMPT if name not in names] == []
    assert all(reason.strip() for reason in EXEMPT.values())


def test_test_directories_are_packages() -> None:
    directories = {path.parent for path in TESTS.rglob("test_*.py")}
    assert sorted(str(d.relative_to(ROOT)) for d in directories if not (d / "__init__.py").exists()) == []


def test_the_rule_maps_and_fails() -> None:
    assert mirror("logs.py") == TESTS / "test_logs.py"
    assert mirror("services/appflow/flows.py") == TESTS / "services" / "appflow" / "test_flows.py"
    assert untested(["logs.py", "no_such/module.py", "storage/tables.py"], {"storage/tables.py": "schema"}) == [
        "no_such/module.py"
    ]
    assert "storage/tables.py" in untested(["storage/tables.py"], {})


def test_empty_init_is_a_docstring_at_most(tmp_path: Path) -> None:
    init = tmp_path / "__init__.py"
    init.write_text('"""A package."""\n')
    assert is_empty_init(init)
    init.write_text('"""A package."""\n\nfrom x import y\n')
    assert not is_empty_init(init)
    (tmp_path / "other.py").write_text("")
    assert not is_empty_init(tmp_path / "other.py")
