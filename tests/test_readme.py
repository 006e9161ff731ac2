"""README.md says what works today: its Status section agrees with docs/api-coverage.md and the
connector registry, its links lead to files, and its boto3 example runs against a server.

The Status section is read like this: `**<Service>: N of M operations**` gives the service's counts;
each bullet `- **<family>** (n): Op, Op, …` under it names n operations, which must be implemented
(the families together name each implemented operation of the service once); `Not built yet:` lists
`**<family>** (n)`, and each family's n is the number of unimplemented operations its pattern in
`NOT_BUILT` matches (the patterns together match each unimplemented operation once). The connectors
paragraph links each built-in connector's page, `docs/connectors/<its module>.md`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openprofiles.connectors.registry import BUILT_IN
from tests.harness import Server

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COVERAGE = ROOT / "docs" / "api-coverage.md"
SERVICES = {"Customer Profiles": "customer-profiles", "AppFlow": "appflow"}
#: The families of Customer Profiles operations not built yet, as patterns on operation names.
NOT_BUILT = {
    "calculated attributes": r"CalculatedAttribute",
    "segments": r"Segment",
    "identity resolution and matching": r"IdentityResolution|AutoMerging|Matches|MergeProfiles|SimilarProfiles",
    "recommenders": r"Recommend",
    "event streams": r"EventStream",
    "event triggers": r"EventTrigger",
    "domain layouts": r"DomainLayout",
    "domain object types": r"DomainObjectType",
    "upload jobs": r"UploadJob",
    "attribute statistics and values": r"ObjectTypeAttribute(Statistics|Values)",
}
NUMBERS = {"nine": 9, "ten": 10, "eleven": 11, "twelve": 12}


def coverage(text: str) -> dict[str, dict[str, bool]]:
    """Each service's operations (by its short name) and whether each is implemented, from api-coverage.md."""
    services: dict[str, dict[str, bool]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = re.match(r".*?\(`([\w-]+)` ", section)
        assert name, section[:80]
        rows = re.findall(r"^\| (\w+) \| \w+ \| `[^`]*` \| (yes|no) \|$", section, flags=re.M)
        services[name.group(1)] = {operation: mark == "yes" for operation, mark in rows}
    return services


def status(text: str) -> str:
    return text.split("\n## Status\n", 1)[1].split("\n## ", 1)[0]


def service_parts(section: str) -> dict[str, tuple[int, int, str]]:
    """Each service's (implemented, total, its part of the Status section)."""
    pattern = re.compile(r"^\*\*(" + "|".join(SERVICES) + r"): (\d+) of (\d+) operations", flags=re.M)
    found = list(pattern.finditer(section))
    assert [match.group(1) for match in found] == list(SERVICES), "one bold count line per service"
    ends = [match.start() for match in found[1:]] + [len(section)]
    return {
        SERVICES[match.group(1)]: (int(match.group(2)), int(match.group(3)), section[match.end():end])
        for match, end in zip(found, ends, strict=True)
    }


def families(part: str) -> dict[str, tuple[int, list[str]]]:
    """The bullets `- **family** (n): …` of a service's part, with the CamelCase words of each."""
    bullets = re.findall(r"^- \*\*([\w ]+)\*\* \((\d+)\): (.*?)(?=^- |^\S|\Z)", part, flags=re.M | re.S)
    return {name: (int(count), re.findall(r"\b[A-Z][a-z]+(?:[A-Z][a-z]*)+\b", body)) for name, count, body in bullets}


def problems_of(readme: str, operations: dict[str, dict[str, bool]]) -> list[str]:
    """Where the README's Status section disagrees with the operations of api-coverage.md."""
    problems = []
    for service, (done, total, part) in service_parts(status(readme)).items():
        ops = operations[service]
        implemented = {op for op, yes in ops.items() if yes}
        if (done, total) != (len(implemented), len(ops)):
            problems.append(f"{service}: {done} of {total}, api-coverage.md says {len(implemented)} of {len(ops)}")
        named: list[str] = []
        for family, (count, words) in families(part).items():
            listed = [word for word in words if word in ops]
            named += listed
            if count != len(listed):
                problems.append(f"{service} {family}: says {count}, names {len(listed)}")
            problems += [f"{service} {family}: {op} is not implemented" for op in listed if op not in implemented]
        if sorted(named) != sorted(implemented):
            problems.append(f"{service}: the families name {sorted(named)}, implemented are {sorted(implemented)}")
        missing = set(ops) - implemented
        _, _, not_built = part.partition("Not built yet:")
        listed_not_built = dict(re.findall(r"\*\*([\w ]+)\*\*\s+\((\d+)\)", not_built))
        if missing and sorted(listed_not_built) != sorted(NOT_BUILT):
            problems.append(f"{service}: not built yet lists {sorted(listed_not_built)}, not {sorted(NOT_BUILT)}")
        for family, count in listed_not_built.items():
            matched = {op for op in missing if re.search(NOT_BUILT.get(family, r"(?!)"), op)}
            if int(count) != len(matched):
                problems.append(f"{service} not built {family}: says {count}, api-coverage.md has {len(matched)}")
        if missing and sum(len({op for op in missing if re.search(p, op)}) for p in NOT_BUILT.values()) != len(missing):
            problems.append(f"{service}: the not-built families do not cover each missing operation once")
    return problems


def test_status_agrees_with_api_coverage() -> None:
    assert problems_of(README.read_text(), coverage(COVERAGE.read_text())) == []


def test_status_check_fails_on_a_wrong_readme() -> None:
    readme, operations = README.read_text(), coverage(COVERAGE.read_text())
    assert problems_of(readme.replace("39 of 106", "40 of 106"), operations) == [
        "customer-profiles: 40 of 106, api-coverage.md says 39 of 106"
    ]
    dropped = problems_of(readme.replace("CreateDomain, GetDomain", "GetDomain"), operations)
    assert dropped[0] == "customer-profiles domains: says 5, names 4" and len(dropped) == 2
    assert problems_of(readme.replace("**segments** (9)", "**segments** (8)"), operations) == [
        "customer-profiles not built segments: says 8, api-coverage.md has 9"
    ]
    newly_built = {**operations, "customer-profiles": {**operations["customer-profiles"], "GetMatches": True}}
    assert "customer-profiles: 39 of 106, api-coverage.md says 40 of 106" in problems_of(readme, newly_built)


def test_the_connectors_are_the_registry_s_built_ins() -> None:
    paragraph = re.search(r"^The (\w+) connectors: (.*?)\n\n", status(README.read_text()), flags=re.M | re.S)
    assert paragraph
    pages = re.findall(r"\]\(docs/connectors/(\w+)\.md\)", paragraph.group(2))
    modules = {path.split(":")[0].rsplit(".", 1)[1] for path in BUILT_IN.values()}
    assert sorted(pages) == sorted(modules)
    assert NUMBERS[paragraph.group(1)] == len(BUILT_IN)


def test_links_lead_to_files() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    assert targets and [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()] == []


@pytest.fixture(scope="module")
def server(open_server: Server) -> Server:
    return open_server


def test_the_boto3_example_runs(server: Server) -> None:
    (code,) = re.findall(r"^## boto3\n\n```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    exec(compile(code.replace("http://127.0.0.1:8000", server.endpoint), "README.md", "exec"), {})
