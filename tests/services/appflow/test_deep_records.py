"""A flow whose source holds records nested deeper than `json_depth.MAX_DEPTH` (128 levels): each
becomes a dead letter with its reason, the rest of its batch is ingested, the run is Successful,
and so is a rerun. Before, one record 1000 levels deep failed the whole run (RecursionError) and
lost its batch's good records, on every rerun. On SQLite and PostgreSQL, Files source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from openprofiles.json_depth import MAX_DEPTH
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.harness import cli_in_process
from tests.live_flows import PEOPLE, create_domain, create_profile, into_profiles, map_all, run_on_demand

#: Decoded by the JSON reader, refused by the run; too deep for Python's decoder; beyond orjson's too.
DEPTHS = (MAX_DEPTH + 1, 1000, 5000)


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deep-records-root").resolve()


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         files_root: Path) -> Iterator[LiveServer]:
    with live_server(request, tmp_path_factory.mktemp(f"deep-records-{request.param}"),
                     args=(*FAKE_VENDOR_HOSTS, "--files-root", str(files_root))) as server:
        yield server


def deep_record(number: int, depth: int) -> str:
    """A person record whose `history` nests `depth` - 1 more levels (the record is `depth` deep)."""
    nested = '{"h":' * (depth - 2) + "[1]" + "}" * (depth - 2)
    return f'{{"id": "{number}", "email": "p{number}@example.com", "name": "Deep{number}", "history": {nested}}}'


def good_record(number: int) -> str:
    return json.dumps({"id": str(number), "email": f"p{number}@example.com", "name": f"Good{number}",
                       "history": {"h": [1, 2]}})


@pytest.mark.parametrize("form", ["jsonl", "json"])
def test_records_nested_too_deep_become_dead_letters_and_the_batch_is_ingested(
        live: LiveServer, files_root: Path, unique: str, form: str) -> None:
    source = files_root / unique
    source.mkdir()
    lines = [good_record(1), deep_record(2, DEPTHS[0]), good_record(3), deep_record(4, DEPTHS[1]),
             good_record(5), deep_record(6, DEPTHS[2]), good_record(7)]
    text = "\n".join(lines) + "\n" if form == "jsonl" else "[" + ",\n".join(lines) + "]"
    (source / f"people.{form}").write_text(text)
    cp, appflow = live.client("customer-profiles"), live.client("appflow")
    create_domain(cp, unique, "people", **PEOPLE)
    create_profile(appflow, unique, "CustomConnector", {"path": str(source)}, label="Files")
    appflow.create_flow(
        flowName=unique, triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": unique,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": f"people.{form}"}}},
        destinationFlowConfigList=into_profiles(unique, "people"), tasks=map_all("CustomConnector"))

    for run in (1, 2):  # a rerun reads the same file, and ends the same way
        record = run_on_demand(appflow, unique)
        assert record["executionStatus"] == "Successful", record
        assert record["executionResult"]["recordsProcessed"] == len(lines)
        assert record["executionResult"]["errorInfo"]["putFailuresCount"] == len(DEPTHS)
        names = sorted(p["FirstName"] for p in cp.search_profiles(
            DomainName=unique, KeyName="_email", Values=[f"p{i}@example.com" for i in range(1, 8)])["Items"])
        assert names == ["Good1", "Good3", "Good5", "Good7"], (run, names)

        letters = json.loads(cli_in_process("dead-letters", "list", "--domain", unique, "--json",
                                            *live.server.storage_args()).stdout)
        assert len(letters) == len(DEPTHS) * run
        for letter in letters:
            assert letter["Source"].startswith("flow-execution:")
            assert f"nested deeper than {MAX_DEPTH} levels" in letter["Reason"], letter["Reason"]
            assert f"at most {MAX_DEPTH} levels deep" in letter["Reason"], letter["Reason"]
        kept = [json.loads(cli_in_process("dead-letters", "show", str(letter["Id"]),
                                          *live.server.storage_args()).stdout)["Object"]
                for letter in sorted(letters, key=lambda letter: letter["Id"])[-len(DEPTHS):]]
        # Each dead letter keeps its whole record (as the source wrote it, when too deep to decode).
        assert [text.count('{"h":') for text in kept] == [depth - 2 for depth in DEPTHS]
        assert all('"email"' in text for text in kept)

    log = (live.server.data_dir / f"server-{live.server.port}.log").read_text()
    assert "RecursionError" not in log and "flow run" not in log, log[-3000:]


def test_describing_an_entity_with_a_record_too_deep_to_decode(live: LiveServer, files_root: Path,
                                                                unique: str) -> None:
    """DescribeConnectorEntity samples the file's first records: one too deep to decode is skipped."""
    source = files_root / unique
    source.mkdir()
    (source / "people.jsonl").write_text(deep_record(1, 5000) + "\n" + good_record(2) + "\n")
    appflow = live.client("appflow")
    create_profile(appflow, unique, "CustomConnector", {"path": str(source)}, label="Files")
    fields = appflow.describe_connector_entity(connectorProfileName=unique, connectorEntityName="people.jsonl")
    assert {f["identifier"] for f in fields["connectorEntityFields"]} == {"id", "email", "name", "history"}

