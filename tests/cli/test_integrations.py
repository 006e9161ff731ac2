"""`openprofiles integrations list`: every domain's integrations or one's, PENDING until their flow's
first successful run and ACTIVE after, as JSON or a table."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from openprofiles.cli.integrations import all_domains
from openprofiles.services.customer_profiles.integrations import IntegrationRequest
from tests.cli.invoke import command
from tests.cli.sources import Site, caller, domain, files_profile, flow


def test_list_shows_state_and_flow_status(database_url: str, tmp_path: Path) -> None:
    site = Site(tmp_path, database_url)
    with site.runtime() as runtime:
        ctx = caller()
        domain(runtime, ctx)
        domain(runtime, ctx, "e")
        files_profile(runtime, ctx, site, [{"id": "1", "email": "a@x.com"}])
        arn = flow(runtime, ctx, "feed", {"triggerType": "OnDemand"}, object_type=None)
        runtime.integrations.put(ctx, "d", IntegrationRequest(uri=arn, object_type_name="crm"))

        def listed(*args: str) -> list[dict[str, Any]]:
            result = command("integrations", "list", "--json", *args, *site.storage())
            assert result.exit_code == 0, result.output
            return list(json.loads(result.stdout))

        (row,) = listed("--domain", "d")
        assert set(row) == {"DomainName", "Uri", "ObjectTypeName", "ObjectTypeNames", "Status", "FlowName",
                            "FlowStatus", "WorkflowId", "CreatedAt"}
        assert (row["DomainName"], row["Uri"], row["FlowName"], row["ObjectTypeName"], row["Status"]) == (
            "d", arn, "feed", "crm", "PENDING")
        assert listed("--domain", "e") == []
        other = command("integrations", "list", "--account-id", "111111111111", "--json", *site.storage())
        assert other.exit_code == 0 and json.loads(other.stdout) == []  # another account's domains
        _, execution_id = runtime.runner.start(ctx, "feed")
        assert execution_id is not None and runtime.runner.wait(execution_id, timeout=60) is not None
        (row,) = listed()  # every domain
        assert (row["DomainName"], row["Status"]) == ("d", "ACTIVE")

        table = command("integrations", "list", *site.storage())
        assert table.exit_code == 0
        (line,) = [line for line in table.stdout.splitlines() if " feed " in line]
        assert "ACTIVE" in line and " crm " in line and row["CreatedAt"][:10] in line

        runtime.flows.delete(ctx, "feed", force=True)
    shown = command("integrations", "list", *site.storage()).stdout
    assert "(deleted)" in shown


def test_a_domain_that_does_not_exist(database_url: str, tmp_path: Path) -> None:
    site = Site(tmp_path, database_url)
    missing = command("integrations", "list", "--domain", "nope", *site.storage())
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_all_domains_reads_every_page() -> None:
    names = [f"d{i:03}" for i in range(250)]
    asked: list[str | None] = []

    def page(ctx: object, after: str | None, limit: int) -> list[SimpleNamespace]:
        asked.append(after)
        start = names.index(after) + 1 if after else 0
        return [SimpleNamespace(name=name) for name in names[start:start + limit]]

    runtime: Any = SimpleNamespace(domains=SimpleNamespace(list=page))
    assert all_domains(runtime, caller()) == names
    assert asked == [None, "d099", "d199"]
