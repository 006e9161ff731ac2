"""Object type field Sources (accessors and templates) and Targets."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprofiles.errors import Invalid
from openprofiles.services.customer_profiles.field_expressions import (
    PROFILE_FIELDS,
    Target,
    compile_source,
    compile_target,
)

RECORD: dict[str, Any] = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "first name": "Ada L.",
    "e-mail": "ada@example.com",
    "it's": "quoted",
    "address": {"zip": "02139", "city": "Cambridge", "lines": ["1 Main St", "Apt 2"]},
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
    "tags": ["vip", "beta"],
    "count": 5,
    "zero": 0,
    "price": 1.5,
    "big": 1e20,
    "active": True,
    "inactive": False,
    "nothing": None,
    "empty": "",
    "blank": "   ",
    "padded": "  x ",
    "html": "<b>&</b>",
    "unicode": "Zoë",
    "noItems": [],
    "emptyObject": {},
    "numbers": {"0": "zero-key"},
}


def evaluate(source: str, record: dict[str, Any] = RECORD) -> str | None:
    return compile_source(source).evaluate(record)


# --- plain accessors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("_source.firstName", "Ada"),
        ("_source.address.zip", "02139"),
        ("_source.address.lines[1]", "Apt 2"),
        ("_source.address.lines.1", "Apt 2"),
        ("_source.items[0].sku", "A-1"),
        ("_source.items.[1].sku", "B-2"),
        ("_source['first name']", "Ada L."),
        ('_source["first name"]', "Ada L."),
        ("_source.[first name]", "Ada L."),
        ("_source.e-mail", "ada@example.com"),
        ("_source['e-mail']", "ada@example.com"),
        ("_source['it\\'s']", "quoted"),
        ("_source.numbers[0]", "zero-key"),
        ("  _source.firstName  ", "Ada"),
        ("_source.unicode", "Zoë"),
    ],
)
def test_accessor_reads_nested_values(source: str, expected: str) -> None:
    assert evaluate(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("_source.count", "5"),
        ("_source.zero", "0"),
        ("_source.price", "1.5"),
        ("_source.big", "1e+20"),
        ("_source.active", "true"),
        ("_source.inactive", "false"),
        ("_source.address", '{"zip":"02139","city":"Cambridge","lines":["1 Main St","Apt 2"]}'),
        ("_source.tags", '["vip","beta"]'),
        ("_source.emptyObject", "{}"),
        ("_source.noItems", "[]"),
        ("_source.empty", ""),
        ("_source.padded", "  x "),
        ("_source.html", "<b>&</b>"),
    ],
)
def test_accessor_renders_scalars_and_containers_like_json(source: str, expected: str) -> None:
    assert evaluate(source) == expected


def test_accessor_of_the_whole_record_renders_it_as_json() -> None:
    assert evaluate("_source", {"a": [1, "é"]}) == '{"a":[1,"é"]}'


@pytest.mark.parametrize(
    "source",
    [
        "_source.missing",
        "_source.nothing",
        "_source.address.missing",
        "_source.firstName.length",
        "_source.tags[2]",
        "_source.tags.first",
        "_source.tags[01]",
        "_source.missing.deeper[0]",
    ],
)
def test_accessor_of_missing_data_is_none(source: str) -> None:
    assert evaluate(source) is None


def test_accessor_accepts_tuples_and_other_mappings() -> None:
    from types import MappingProxyType

    record = MappingProxyType({"a": MappingProxyType({"b": ("x", "y")})})
    assert compile_source("_source.a.b[1]").evaluate(record) == "y"
    assert compile_source("_source.a").evaluate(record) == '{"b":["x","y"]}'


# --- templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{_source.firstName}} {{_source.lastName}}", "Ada Lovelace"),
        ("{{ _source.firstName }}-{{  _source['e-mail']  }}", "Ada-ada@example.com"),
        ("Name: {{_source.firstName}}", "Name: Ada"),
        ("{{_source.firstName}} {{_source.missing}}", "Ada "),
        ("{{_source.count}}/{{_source.price}}/{{_source.active}}", "5/1.5/true"),
        ("{{_source.tags}}", '["vip","beta"]'),
        ('{{"US"}}', "US"),
        ("{{'it\\'s'}}", "it's"),
        ('{{"a}}b"}}', "a}}b"),
        ("{{{_source.html}}} {{_source.html}}", "<b>&</b> <b>&</b>"),
        ("{{_source['a}}b']}}{{_source.firstName}}", "Ada"),
        ("x{y}{{_source.count}}", "x{y}5"),
        ("{{_source.padded}}", "  x "),
    ],
)
def test_template_concatenates_text_and_placeholders(source: str, expected: str) -> None:
    assert evaluate(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{_source.missing}}",
        "{{_source.missing}} {{_source.nothing}}",
        "Name: {{_source.missing}}",
        "{{_source.blank}}",
        "{{_source.empty}}",
        "   {{_source.empty}}  ",
        "{{#if _source.missing}}yes{{/if}}",
        "{{#each _source.noItems}}{{this}}{{/each}}",
    ],
)
def test_template_with_no_data_or_only_whitespace_is_none(source: str) -> None:
    assert evaluate(source) is None


def test_template_without_placeholders_is_a_constant() -> None:
    assert evaluate("{{#if _source.missing}}VIP{{else}}regular{{/if}}") == "regular"
    assert evaluate("Items: {{#each _source.missing}}{{this}}{{/each}}") == "Items: "


@pytest.mark.parametrize(
    ("condition", "truthy"),
    [
        ("_source.firstName", True),
        ("_source.count", True),
        ("_source.tags", True),
        ("_source.emptyObject", True),
        ("_source.active", True),
        ("_source.blank", True),
        ("_source.missing", False),
        ("_source.nothing", False),
        ("_source.zero", False),
        ("_source.empty", False),
        ("_source.inactive", False),
        ("_source.noItems", False),
    ],
)
def test_if_and_unless_follow_handlebars_truth(condition: str, truthy: bool) -> None:
    assert evaluate(f"{{{{#if {condition}}}}}yes{{{{else}}}}no{{{{/if}}}}") == ("yes" if truthy else "no")
    assert evaluate(f"{{{{#unless {condition}}}}}no{{{{else}}}}yes{{{{/unless}}}}") == ("yes" if truthy else "no")
    assert evaluate(f"{{{{#if {condition}}}}}yes{{{{/if}}}}") == ("yes" if truthy else None)


def test_if_blocks_nest_and_tolerate_whitespace() -> None:
    source = (
        "{{# if _source.active }}{{#if _source.missing}}A{{ else }}B{{/if}}"
        "{{else}}{{#if _source.count}}C{{/if}}{{/ if }}"
    )
    assert evaluate(source) == "B"
    assert evaluate(source, {"count": 1}) == "C"
    assert evaluate(source, {"active": 1, "missing": 1}) == "A"
    assert evaluate("{{#if\t_source.active}}ok{{/if}}") == "ok"


def test_each_iterates_arrays_with_this_and_data() -> None:
    assert evaluate("{{#each _source.tags}}{{@index}}={{this}};{{/each}}") == "0=vip;1=beta;"
    assert evaluate("{{#each _source.items}}{{this.sku}}x{{this.qty}}{{#unless @last}}, {{/unless}}{{/each}}") == (
        "A-1x2, B-2x1"
    )
    assert evaluate("{{#each _source.tags}}{{#if @first}}[{{/if}}{{this}}{{#if @last}}]{{/if}}{{/each}}") == (
        "[vipbeta]"
    )
    assert evaluate("{{#each _source.items}}{{this}}{{/each}}") == '{"sku":"A-1","qty":2}{"sku":"B-2","qty":1}'


def test_each_reads_the_record_through_source_and_nests() -> None:
    record = {"name": "n", "groups": [{"id": "g1", "members": ["a", "b"]}, {"id": "g2", "members": ["c"]}]}
    source = (
        "{{#each _source.groups}}{{this.id}}({{#each this.members}}{{@index}}{{this}}{{_source.name}}{{/each}})"
        "{{/each}}"
    )
    assert evaluate(source, record) == "g1(0an1bn)g2(0cn)"


def test_each_else_renders_for_empty_missing_or_non_arrays() -> None:
    template = "{{#each _source.%s}}{{this}}{{else}}none{{/each}}"
    assert evaluate(template % "noItems") == "none"
    assert evaluate(template % "missing") == "none"
    assert evaluate(template % "address") == "none"
    assert evaluate(template % "tags") == "vipbeta"


def test_each_else_is_rendered_in_the_outer_context() -> None:
    record = {"outer": [{"inner": [], "id": "o1"}]}
    source = "{{#each _source.outer}}{{#each this.inner}}{{this}}{{else}}{{this.id}}{{/each}}{{/each}}"
    assert evaluate(source, record) == "o1"
    assert compile_source(source).paths == {
        "_source.outer", "_source.outer[*].inner", "_source.outer[*].inner[*]", "_source.outer[*].id",
    }


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        ("_source.address.zip", {"_source.address.zip"}),
        ("_source['first name']", {"_source['first name']"}),
        ("_source.items.0.sku", {"_source.items[0].sku"}),
        ('_source["it\'s"]', {"_source['it\\'s']"}),
        ("_source", {"_source"}),
        ("{{_source.a}} {{_source.b}} {{_source.a}}", {"_source.a", "_source.b"}),
        ("{{#if _source.vip}}VIP{{/if}}", {"_source.vip"}),
        ('{{"US"}}', set()),
        ("{{#each _source.items}}{{this}}{{this.sku}}{{@index}}{{/each}}", {
            "_source.items", "_source.items[*]", "_source.items[*].sku",
        }),
    ],
)  # fmt: skip
def test_paths_are_the_canonical_source_paths_read(source: str, paths: set[str]) -> None:
    assert compile_source(source).paths == paths


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "",
        "firstName",
        "$.firstName",
        "_profile.FirstName",
        "_sourcex.a",
        "_source.",
        "_source..a",
        "_source.a b",
        "_source[]",
        "_source['a'",
        "_source['a]",
        "_source.a}}",
        "{{_source.a",
        "{{_source.a}}}}",
        "{{{_source.a}}",
        "{{}}",
        "{{ }}",
        "{{firstName}}",
        "{{_profile.FirstName}}",
        "{{_source.a _source.b}}",
        "{{'x' y}}",
        "{{this}}",
        "{{this.sku}}",
        "{{@index}}",
        "{{#each _source.a}}{{@key}}{{/each}}",
        "{{#with _source.a}}x{{/with}}",
        "{{#if}}x{{/if}}",
        "{{#if _source.a}}x",
        "{{#if _source.a}}x{{/each}}",
        "{{/if}}",
        "{{else}}",
        "{{#if _source.a}}x{{else}}y{{else}}z{{/if}}",
        "{{#each @index}}{{/each}}",
        "{{#each 'x'}}{{/each}}",
        "{{{#if _source.a}}}x{{/if}}",
        "{{#if _source.a}}x{{{/if}}}",
        "{{#if _source.a}}x{{{else}}}{{/if}}",
    ],
)
def test_invalid_sources_raise_invalid_naming_them(source: str) -> None:
    with pytest.raises(Invalid) as error:
        compile_source(source)
    assert repr(source) in error.value.message


def test_compiled_sources_are_reused() -> None:
    assert compile_source("_source.firstName") is compile_source("_source.firstName")


# --- properties ----------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
records = st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=5)


DOT_NAME = re.compile(r"[^.\[\]\s'\"{}]+")


def quote(key: str, mark: str) -> str:
    return mark + key.replace("\\", "\\\\").replace(mark, "\\" + mark) + mark


def accessor_step(key: str | int, draw: st.DrawFn) -> str:
    """One step of an accessor in any of the spellings the syntax allows."""
    if isinstance(key, int):
        return draw(st.sampled_from([f"[{key}]", f".{key}", f".[{key}]", f"['{key}']"]))
    spellings = ["[" + quote(key, "'") + "]", "[" + quote(key, '"') + "]"]
    if DOT_NAME.fullmatch(key):
        spellings.append(f".{key}")
    return draw(st.sampled_from(spellings))


@st.composite
def record_and_path(draw: st.DrawFn) -> tuple[dict[str, Any], str, Any]:
    """A record, an accessor into it (spelled at random) and the value it names."""
    record = draw(records)
    value: Any = record
    accessor = "_source"
    while True:
        if isinstance(value, dict) and value:
            key: str | int = draw(st.sampled_from(sorted(value)))
        elif isinstance(value, list) and value:
            key = draw(st.integers(0, len(value) - 1))
        else:
            break
        accessor += accessor_step(key, draw)
        value = value[key]
        if draw(st.booleans()):
            break
    return record, accessor, value


def json_rendering(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@given(record_and_path())
def test_accessor_returns_the_json_rendering_of_the_value(case: tuple[dict[str, Any], str, Any]) -> None:
    record, accessor, value = case
    assert compile_source(accessor).evaluate(record) == json_rendering(value)
    if not isinstance(value, str):
        assert value is None or json.loads(compile_source(accessor).evaluate(record) or "") == value


@given(record_and_path())
def test_placeholder_renders_like_the_accessor(case: tuple[dict[str, Any], str, Any]) -> None:
    record, accessor, value = case
    expected = json_rendering(value)
    assert compile_source("{{" + accessor + "}}").evaluate(record) == (expected if expected and expected.strip() else None)


@given(record_and_path())
def test_canonical_paths_compile_to_themselves(case: tuple[dict[str, Any], str, Any]) -> None:
    record, accessor, _ = case
    (canonical,) = compile_source(accessor).paths
    again = compile_source(canonical)
    assert again.paths == {canonical}
    assert again.evaluate(record) == compile_source(accessor).evaluate(record)


literals = st.text(st.characters(blacklist_characters="{}"), max_size=5)


@given(st.lists(st.tuples(literals, st.text(max_size=5)), min_size=1, max_size=5), literals)
def test_concatenation_equals_the_joined_parts(parts: list[tuple[str, str]], tail: str) -> None:
    record = {f"k{i}": value for i, (_, value) in enumerate(parts)}
    source = "".join(f"{text}{{{{_source.k{i}}}}}" for i, (text, _) in enumerate(parts)) + tail
    joined = "".join(text + value for text, value in parts) + tail
    assert compile_source(source).evaluate(record) == (joined if joined.strip() else None)


@given(st.lists(st.text(min_size=1, max_size=5), max_size=5))
def test_each_joins_array_elements(items: list[str]) -> None:
    source = "{{#each _source.xs}}{{this}}{{#unless @last}},{{/unless}}{{/each}}"
    joined = ",".join(items)
    assert compile_source(source).evaluate({"xs": items}) == (joined if joined.strip() else None)


# --- targets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "root", "path"),
    [
        ("_profile.FirstName", "_profile", ("FirstName",)),
        ("_profile.ShippingAddress.PostalCode", "_profile", ("ShippingAddress", "PostalCode")),
        ("_profile.Attributes.ZendeskUserId", "_profile", ("Attributes", "ZendeskUserId")),
        ("_profile.Attributes.with space-and:colon", "_profile", ("Attributes", "with space-and:colon")),
        ("_profile.PartyTypeString", "_profile", ("PartyTypeString",)),
        ("_asset.AssetId", "_asset", ("AssetId",)),
        ("_asset.Attributes.x", "_asset", ("Attributes", "x")),
        ("_case.Status", "_case", ("Status",)),
        ("_order.TotalPrice", "_order", ("TotalPrice",)),
        ("_order.ShippingAddress.City", "_order", ("ShippingAddress", "City")),
        ("_order.BillingAddress.Name", "_order", ("BillingAddress", "Name")),
        ("_order.OrderItems", "_order", ("OrderItems",)),
    ],
)
def test_targets_parse_into_root_and_path(text: str, root: str, path: tuple[str, ...]) -> None:
    target = compile_target(text)
    assert (target.root, target.path) == (root, path)
    assert str(target) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "FirstName",
        "profile.FirstName",
        "_source.FirstName",
        "_contact.Name",
        "_profile",
        "_profile.",
        "_profile.firstName",
        "_profile.ProfileId",
        "_profile.FoundByItems",
        "_profile.EngagementPreferences",
        "_profile.EngagementPreferences.Phone",
        "_profile.Address",
        "_profile.Address.Street",
        "_profile.ShippingAddress.Name",
        "_profile.FirstName.x",
        "_profile.Attributes",
        "_profile.Attributes.",
        "_profile.Attributes.a.b",
        "_profile.Attributes." + "x" * 256,
        "_profile..FirstName",
        "_asset.OrderId",
        "_case.AssetId",
        "_order.OrderItems.Title",
        "_order.OrderItems.0.Title",
        "_order.ShippingAddress",
    ],
)
def test_unknown_targets_raise_invalid_naming_them(text: str) -> None:
    with pytest.raises(Invalid) as error:
        compile_target(text)
    assert repr(text) in error.value.message


def test_profile_fields_follow_the_botocore_model() -> None:
    model = botocore.session.get_session().get_service_model("customer-profiles")
    address = set(model.shape_for("Address").members)
    assert address == {"Address1", "Address2", "Address3", "Address4", "City", "County", "State", "Province",
                       "Country", "PostalCode"}  # fmt: skip
    assert {"FirstName", "LastName", "EmailAddress", "PhoneNumber", "AccountNumber", "GenderString"} <= PROFILE_FIELDS
    for member in ("Address", "ShippingAddress", "MailingAddress", "BillingAddress"):
        assert {f"{member}.{sub}" for sub in address} <= PROFILE_FIELDS
    assert not PROFILE_FIELDS & {"ProfileId", "FoundByItems", "EngagementPreferences", "Attributes", "Address"}
    for field in PROFILE_FIELDS:
        assert compile_target(f"_profile.{field}").path == tuple(field.split("."))


def test_target_set_creates_nested_objects_and_keeps_siblings() -> None:
    document: dict[str, Any] = {"FirstName": "Ada", "ShippingAddress": {"City": "Paris"}, "Attributes": "junk"}
    compile_target("_profile.ShippingAddress.PostalCode").set(document, "75001")
    compile_target("_profile.LastName").set(document, "Lovelace")
    compile_target("_profile.Attributes.tier").set(document, "gold")
    compile_target("_profile.FirstName").set(document, "Augusta")
    assert document == {
        "FirstName": "Augusta",
        "LastName": "Lovelace",
        "ShippingAddress": {"City": "Paris", "PostalCode": "75001"},
        "Attributes": {"tier": "gold"},
    }


def test_target_get_reads_or_gives_none() -> None:
    document = {"ShippingAddress": {"City": "Paris"}, "FirstName": "Ada"}
    assert compile_target("_profile.ShippingAddress.City").get(document) == "Paris"
    assert compile_target("_profile.FirstName").get(document) == "Ada"
    assert compile_target("_profile.LastName").get(document) is None
    assert compile_target("_profile.Address.City").get(document) is None
    assert compile_target("_profile.FirstName").get({}) is None
    assert Target("_profile", ("FirstName", "x")).get(document) is None


@given(st.sampled_from(sorted(PROFILE_FIELDS)), st.text(min_size=1))
def test_target_get_returns_what_set_wrote(field: str, value: str) -> None:
    target = compile_target(f"_profile.{field}")
    document: dict[str, Any] = {}
    target.set(document, value)
    assert target.get(document) == value
