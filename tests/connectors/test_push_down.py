"""The flow and every connector's push-down agree: for generated records and Filter tasks, what a
pushed-down query selects holds every record the flow's Filter task keeps, and exactly those where
the connector says its query language compares as the flow does. In process: SQLite, and the
fakes' own SOQL and encoded-query engines."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openprofiles.connectors import operands, soql, sql_query
from openprofiles.connectors.base import ExtractRequest, RecordFilter
from openprofiles.connectors.marketo import Window
from openprofiles.connectors.operands import COMPARISONS, Family
from openprofiles.connectors.servicenow import pushed_condition
from openprofiles.connectors.values import plain
from openprofiles.connectors.zendesk import _lower_bound
from openprofiles.errors import Invalid
from openprofiles.flows.tasks import Output, TaskPipeline, compile_tasks
from tests.fakes import servicenow as fake_servicenow
from tests.fakes import soql as fake_soql
from tests.fakes.salesforce import rendered

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
#: Operand strings by the family they are meant for; every pool holds edge inputs and junk.
TEXTS = {
    Family.NUMBER: ["0", "1", " 2 ", "-3", "1.5", "2.0", "1e1", "-0", "NaN", "x", ""],
    Family.INSTANT: ["1704067200000", "1704067201000.9", "-1", "2024-01-01T00:00:00.0005Z", "2024-01-01T00:00:01",
                     "2024-01-01", "2024-01-01T01:00:02+01:00", "1704067202500", "soon"],
    Family.DATE: ["2024-01-01", "2024-01-02", "2024-01-01T23:30:00-01:00", "1704067200000", "20240103", "x"],
    Family.BOOLEAN: ["true", "FALSE", " 1", "0", "yes"],
    Family.STRING: ["a", "A", "ab", "", " a", "b", "B"],
}
DATA_TYPES = {
    Family.NUMBER: ["integer", "double", "Int", "currency", "bigint", "number"],
    Family.INSTANT: ["datetime", "timestamp", "DateTime"],
    Family.DATE: ["date", "Date"],
    Family.BOOLEAN: ["boolean", "bool"],
    Family.STRING: ["string", "picklist", "varchar", "text"],
}
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def filter_tasks(draw: st.DrawFn, field: str, meant: Family) -> dict[str, Any]:
    """A wire Filter task on `field`: mostly typed for the field's family, sometimes for another."""
    kind = meant if draw(st.integers(0, 4)) else draw(st.sampled_from(list(Family)))
    pool = TEXTS[kind] if draw(st.integers(0, 5)) else TEXTS[draw(st.sampled_from(list(Family)))]
    operator = draw(st.sampled_from(sorted(COMPARISONS)))
    properties = {"DATA_TYPE": draw(st.sampled_from(DATA_TYPES[kind]))}
    if operator == "BETWEEN":
        properties["LOWER_BOUND"] = draw(st.sampled_from(pool)) or "0"
        properties["UPPER_BOUND"] = draw(st.sampled_from(pool)) or "0"
    elif draw(st.booleans()):
        properties["VALUES"] = ",".join(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)))
    else:
        properties["VALUE"] = draw(st.sampled_from(pool)) or " "
    return {"taskType": "Filter", "sourceFields": [field], "connectorOperator": {"CustomConnector": operator},
            "taskProperties": properties}


def flow(task: dict[str, Any]) -> TaskPipeline | None:
    """The compiled Filter task, or None when the flow refuses it (and the reader refuses its filter alike)."""
    try:
        pipeline = compile_tasks([task], "CustomConnector")
    except Invalid:
        return None
    assert operands.read(pipeline.record_filters[0]).operator == task["connectorOperator"]["CustomConnector"]
    return pipeline


def kept(pipeline: TaskPipeline, records: Sequence[Mapping[str, Any]], delivered: Callable[[Mapping[str, Any]], Any],
         key: str) -> set[Any]:
    return {record[key] for record in records if isinstance(pipeline.apply(delivered(record)), Output)}


def agree(flow_keeps: set[Any], selected: set[Any], exact: bool) -> None:
    assert flow_keeps <= selected, f"the push-down loses {sorted(flow_keeps - selected, key=str)}"
    if exact:
        assert selected == flow_keeps


# --- SQL -----------------------------------------------------------------------------------------

METADATA = sa.MetaData()
TABLE = sa.Table("t", METADATA, sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer),
                 sa.Column("name", sa.String), sa.Column("flag", sa.Boolean), sa.Column("day", sa.Date))
ENGINE = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
METADATA.create_all(ENGINE)
SQL_COLUMNS = {"n": Family.NUMBER, "name": Family.STRING, "flag": Family.BOOLEAN, "day": Family.DATE}
SQL_ROWS = st.lists(st.fixed_dictionaries({
    "n": st.none() | st.integers(-4, 4),
    "name": st.none() | st.sampled_from(["a", "A", "ab", "", " a", "b"]),
    "flag": st.none() | st.booleans(),
    "day": st.none() | st.dates(date(2023, 12, 30), date(2024, 1, 4)),
}), max_size=10)


@EXAMPLES
@given(rows=SQL_ROWS, data=st.data())
def test_sql_selects_exactly_what_the_flow_keeps(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    column = data.draw(st.sampled_from(sorted(SQL_COLUMNS)))
    pipeline = flow(data.draw(filter_tasks(column, SQL_COLUMNS[column])))
    if pipeline is None:
        return
    clause = sql_query.pushed_filter(pipeline.record_filters[0], TABLE.c[column], "sqlite")
    event("pushed down" if clause is not None else "left to the flow")
    if clause is None:
        return
    records = [{"id": index, **row} for index, row in enumerate(rows)]
    with ENGINE.begin() as connection:
        connection.execute(TABLE.delete())
        if records:
            connection.execute(TABLE.insert(), records)
        selected = set(connection.scalars(sa.select(TABLE.c.id).where(clause)))
    agree(kept(pipeline, records, lambda r: {k: plain(v) for k, v in r.items()}, "id"), selected, exact=True)


# --- Salesforce (SOQL) ---------------------------------------------------------------------------

SOQL_TYPES = {"Id": "id", "Name": "string", "Count__c": "int", "Score__c": "double", "Flag__c": "boolean",
              "Day__c": "date", "At__c": "datetime"}
SOQL_FIELDS = {"Name": Family.STRING, "Count__c": Family.NUMBER, "Score__c": Family.NUMBER,
               "Flag__c": Family.BOOLEAN, "Day__c": Family.DATE, "At__c": Family.INSTANT}
MOMENTS = st.integers(-3000, 4000).map(lambda ms: JAN1 + timedelta(milliseconds=ms))
SOQL_RECORDS = st.lists(st.fixed_dictionaries({
    "Name": st.none() | st.sampled_from(["a", "A", "ab", " a", "b", "B"]),
    "Count__c": st.none() | st.integers(-4, 4),
    "Score__c": st.none() | st.sampled_from([-3.0, 0.0, 1.0, 1.5, 2.0, 10.0]),
    "Flag__c": st.booleans(),
    "Day__c": st.none() | st.dates(date(2023, 12, 30), date(2024, 1, 4)),
    "At__c": st.none() | MOMENTS,
}), max_size=10)


@EXAMPLES
@given(rows=SOQL_RECORDS, data=st.data())
def test_soql_keeps_everything_the_flow_keeps(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(SOQL_FIELDS)))
    pipeline = flow(data.draw(filter_tasks(field, SOQL_FIELDS[field])))
    if pipeline is None:
        return
    condition = soql.condition(pipeline.record_filters[0], SOQL_TYPES[field])
    event("pushed down" if condition is not None else "left to the flow")
    if condition is None:
        return
    records = [{"Id": f"00Q{index:03d}", **row} for index, row in enumerate(rows)]
    query = fake_soql.parse(f"SELECT Id FROM Lead WHERE {condition}", lambda _: SOQL_TYPES)
    selected = {record["Id"] for record in fake_soql.run(query, records, SOQL_TYPES)}
    exact = SOQL_FIELDS[field] in (Family.NUMBER, Family.BOOLEAN, Family.DATE)  # text ignores case, times whole seconds
    agree(kept(pipeline, records, lambda r: {k: rendered(v) for k, v in r.items()}, "Id"), selected, exact)


# --- ServiceNow (encoded queries) ----------------------------------------------------------------

SERVICENOW_TYPES = {"name": "string", "state": "integer", "score": "decimal", "vip": "boolean", "day": "glide_date",
                    "at": "glide_date_time"}
SERVICENOW_FIELDS = {"name": Family.STRING, "state": Family.NUMBER, "score": Family.NUMBER, "vip": Family.BOOLEAN,
                     "day": Family.DATE, "at": Family.INSTANT}
SERVICENOW_ROWS = st.lists(st.fixed_dictionaries({
    "name": st.sampled_from(["a", "A", "ab", "", "b", "B"]),
    "state": st.sampled_from(["", "-3", "0", "1", "2", "4"]),
    "score": st.sampled_from(["", "-3", "0", "1.5", "2", "10"]),
    "vip": st.sampled_from(["", "true", "false"]),
    "day": st.sampled_from(["", "2023-12-31", "2024-01-01", "2024-01-02", "2024-01-03"]),
    "at": st.one_of(st.just(""), st.integers(-3, 4).map(
        lambda s: (JAN1 + timedelta(seconds=s)).strftime("%Y-%m-%d %H:%M:%S"))),
}), max_size=10)


@EXAMPLES
@given(rows=SERVICENOW_ROWS, data=st.data())
def test_servicenow_keeps_everything_the_flow_keeps(rows: list[dict[str, str]], data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(SERVICENOW_FIELDS)))
    pipeline = flow(data.draw(filter_tasks(field, SERVICENOW_FIELDS[field])))
    if pipeline is None:
        return
    condition = pushed_condition(pipeline.record_filters[0], SERVICENOW_TYPES[field])
    event("pushed down" if condition is not None else "left to the flow")
    if condition is None:
        return
    records = [{"sys_id": str(index), **row} for index, row in enumerate(rows)]
    test = fake_servicenow.parse_query(condition, SERVICENOW_TYPES).test
    selected = {record["sys_id"] for record in records if test(record)}
    exact = SERVICENOW_FIELDS[field] in (Family.NUMBER, Family.BOOLEAN, Family.DATE)
    agree(kept(pipeline, records, dict, "sys_id"), selected, exact)


# --- Marketo (activity window) and Zendesk (export start) ----------------------------------------

TIMES = st.lists(st.integers(-3000, 4000).map(lambda ms: JAN1 + timedelta(milliseconds=ms)), max_size=10)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@EXAMPLES
@given(moments=TIMES, data=st.data())
def test_marketos_window_keeps_everything_the_flow_keeps(moments: list[datetime], data: st.DataObject) -> None:
    pipeline = flow(data.draw(filter_tasks("activityDate", Family.INSTANT)))
    if pipeline is None:
        return
    window = Window(ExtractRequest("activities/1", filters=pipeline.record_filters), "activityDate")
    feed = sorted(moment for moment in moments if window.start is None or moment >= window.start)
    selected: set[str] = set()
    for moment in feed:
        if window.beyond(moment):
            break
        selected.add(iso(moment))
    records = [{"activityDate": iso(moment)} for moment in moments]
    agree(kept(pipeline, records, dict, "activityDate"), selected, exact=False)


@EXAMPLES
@given(moments=TIMES, data=st.data())
def test_zendesks_export_start_keeps_everything_the_flow_keeps(moments: list[datetime], data: st.DataObject) -> None:
    pipeline = flow(data.draw(filter_tasks("updated_at", Family.INSTANT)))
    if pipeline is None:
        return
    start = _lower_bound(ExtractRequest("tickets", filters=pipeline.record_filters))
    records = [{"updated_at": iso(moment)} for moment in moments]
    selected = {r["updated_at"] for r, m in zip(records, moments, strict=True)
                if start is None or int(m.timestamp()) >= int(start.timestamp())}
    agree(kept(pipeline, records, dict, "updated_at"), selected, exact=False)


def test_the_strategies_reach_push_downs() -> None:
    """A push-down is written for a filter of each family, so the properties above are not vacuous."""
    def pushed(operator: str, declared: str, value: str, column: str) -> bool:
        spec = RecordFilter(column, operator, (value,), declared)
        return sql_query.pushed_filter(spec, TABLE.c[column], "sqlite") is not None
    assert pushed("EQUAL_TO", "integer", "1", "n") and pushed("EQUAL_TO", "string", "a", "name")
    assert pushed("EQUAL_TO", "bool", "1", "flag") and pushed("LESS_THAN", "date", "2024-01-02", "day")
    assert soql.condition(RecordFilter("At__c", "LESS_THAN", ("1704067202500",), "timestamp"), "datetime")
    assert pushed_condition(RecordFilter("at", "BETWEEN", ("-1", "2024-01-01"), "datetime"), "glide_date_time")
