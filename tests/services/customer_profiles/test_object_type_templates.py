"""The shipped object-type templates: well-formed, valid against the model, and internally consistent."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
from botocore.model import Shape

from openprofiles.api.spec import load_services
from openprofiles.api.validator import validate
from openprofiles.services.customer_profiles.object_type_templates import Template, get_template, list_templates

REQUIRED = {
    "Salesforce-Account": "_salesforceAccountId",
    "Salesforce-Contact": "_salesforceContactId",
    "Salesforce-Case": "_salesforceCaseId",
    "Zendesk-users": "_zendeskUserId",
    "Zendesk-tickets": "_zendeskTicketId",
    "ServiceNow-sys_user": "_serviceNowSystemId",
    "ServiceNow-incident": "_serviceNowIncidentId",
    "Marketo-leads": "_marketoLeadId",
    "Segment-identify": "_segmentUserId",
    "Shopify-customers": "_shopifyCustomerId",
    "Shopify-orders": "_shopifyOrderId",
}
"""Required template id -> the name of its UNIQUE key."""

ADDRESS = {"Address1", "Address2", "Address3", "Address4", "City", "County", "State", "Province", "Country", "PostalCode"}  # fmt: skip
PROFILE_FIELDS = {
    "AccountNumber", "AdditionalInformation", "PartyType", "BusinessName", "FirstName", "MiddleName", "LastName",
    "BirthDate", "Gender", "PhoneNumber", "MobilePhoneNumber", "HomePhoneNumber", "BusinessPhoneNumber",
    "EmailAddress", "PersonalEmailAddress", "BusinessEmailAddress",
}  # fmt: skip
PROFILE_ADDRESSES = {"Address", "ShippingAddress", "MailingAddress", "BillingAddress"}
CASE_FIELDS = {
    "CaseId", "Title", "Summary", "Status", "Reason", "CreatedBy", "CreatedDate", "UpdatedDate", "ClosedDate",
    "AdditionalInformation", "DataSource",
}  # fmt: skip
ASSET_FIELDS = {
    "AssetId", "AssetName", "SerialNumber", "ModelNumber", "ModelName", "ProductSKU", "PurchaseDate",
    "UsageEndDate", "Status", "Price", "Quantity", "Description", "AdditionalInformation", "DataSource",
}  # fmt: skip
ORDER_FIELDS = {
    "OrderId", "CustomerEmail", "CustomerPhone", "CreatedDate", "UpdatedDate", "ProcessedDate", "ClosedDate",
    "CancelledDate", "CancelReason", "Name", "AdditionalInformation", "Gateway", "Status", "StatusCode",
    "StatusUrl", "CreditCardNumber", "CreditCardCompany", "FulfillmentStatus", "TotalPrice", "TotalTax",
    "TotalDiscounts", "TotalItemsPrice", "TotalShippingPrice", "TotalTipReceived", "Currency", "TotalWeight",
}  # fmt: skip
ORDER_ADDRESSES = {"BillingAddress", "ShippingAddress"}
ORDER_ADDRESS = ADDRESS | {"Name"}

#: Standard object -> the StandardIdentifier its templates' UNIQUE key also carries.
OBJECT_IDENTIFIER = {"_case": "CASE", "_order": "ORDER", "_asset": "ASSET"}

TEMPLATE_FILES = sorted(
    entry.name
    for entry in files("openprofiles.services.customer_profiles").joinpath("object_type_templates").iterdir()
    if entry.name.endswith(".json")
)


def _output_shape() -> Shape:
    shape = load_services()["customer-profiles"].model.operation_model("GetProfileObjectTypeTemplate").output_shape
    assert shape is not None
    return shape


def _known_target(target: str) -> bool:
    """Whether a Target names a real field of a standard object."""
    root, _, rest = target.partition(".")
    parts = rest.split(".")
    if len(parts) == 2 and parts[0] == "Attributes":
        return root in ("_profile", "_case", "_asset", "_order") and bool(parts[1])
    if root == "_profile":
        return (len(parts) == 1 and parts[0] in PROFILE_FIELDS) or (
            len(parts) == 2 and parts[0] in PROFILE_ADDRESSES and parts[1] in ADDRESS
        )
    if root == "_order":
        return (len(parts) == 1 and parts[0] in ORDER_FIELDS) or (
            len(parts) == 2 and parts[0] in ORDER_ADDRESSES and parts[1] in ORDER_ADDRESS
        )
    if root == "_case":
        return len(parts) == 1 and parts[0] in CASE_FIELDS
    if root == "_asset":
        return len(parts) == 1 and parts[0] in ASSET_FIELDS
    return False


def _roots(template: Template) -> set[str]:
    return {spec["Target"].split(".")[0] for spec in template.fields.values() if "Target" in spec}


def test_files_exist_for_every_required_template() -> None:
    assert {f"{template_id}.json" for template_id in REQUIRED} <= set(TEMPLATE_FILES)


@pytest.mark.parametrize("name", TEMPLATE_FILES)
def test_file_is_the_response_body(name: str) -> None:
    raw: dict[str, Any] = json.loads(
        files("openprofiles.services.customer_profiles").joinpath("object_type_templates", name).read_text(encoding="utf-8")
    )
    assert raw["TemplateId"] + ".json" == name
    assert set(raw) == set(_output_shape().members)
    template = get_template(raw["TemplateId"])
    assert template is not None
    assert template.as_response() == raw


@pytest.mark.parametrize("template", list_templates(), ids=lambda t: t.template_id)
def test_response_passes_the_model(template: Template) -> None:
    validate(_output_shape(), template.as_response())


@pytest.mark.parametrize("template", list_templates(), ids=lambda t: t.template_id)
def test_exactly_one_unique_key(template: Template) -> None:
    unique = [name for name, items in template.keys.items() for key in items if "UNIQUE" in key.standard_identifiers]
    assert len(unique) == 1, unique
    if template.template_id in REQUIRED:
        assert unique == [REQUIRED[template.template_id]]


@pytest.mark.parametrize("template", list_templates(), ids=lambda t: t.template_id)
def test_keys_reference_fields(template: Template) -> None:
    for name, items in template.keys.items():
        assert items, name
        for key in items:
            assert key.field_names, name
            assert set(key.field_names) <= set(template.fields), (name, key.field_names)


@pytest.mark.parametrize("template", list_templates(), ids=lambda t: t.template_id)
def test_standard_identifiers_are_in_the_enum(template: Template) -> None:
    shape = _output_shape().members["Keys"].value.member.members["StandardIdentifiers"].member  # type: ignore[attr-defined]
    enum = set(shape.metadata["enum"])
    for items in template.keys.values():
        for key in items:
            assert set(key.standard_identifiers) <= enum
            assert not ({"UNIQUE", "LOOKUP_ONLY"} <= set(key.standard_identifiers))


@pytest.mark.parametrize("template", list_templates(), ids=lambda t: t.template_id)
def test_sources_and_targets(template: Template) -> None:
    for name, spec in template.fields.items():
        assert spec["Source"].startswith("_source."), name
        assert spec["ContentType"] in ("STRING", "NUMBER", "PHONE_NUMBER", "EMAIL_ADDRESS", "NAME"), name
        if "Target" in spec:
            assert _known_target(spec["Target"]), (name, spec["Target"])


@pytest.mark.parametrize("template", list_templates(), ids=lambda t: t.template_id)
def test_standard_object_templates_carry_their_identifier(template: Template) -> None:
    roots = _roots(template)
    assert len(roots) == 1, roots
    (root,) = roots
    unique = next(key for items in template.keys.values() for key in items if "UNIQUE" in key.standard_identifiers)
    if root == "_profile":
        assert template.allow_profile_creation
        assert "PROFILE" in unique.standard_identifiers
    else:
        assert not template.allow_profile_creation
        assert OBJECT_IDENTIFIER[root] in unique.standard_identifiers
        # They attach to an existing profile, so some key must find one.
        assert any("PROFILE" in key.standard_identifiers for items in template.keys.values() for key in items)


def test_list_is_sorted_and_complete() -> None:
    ids = [template.template_id for template in list_templates()]
    assert ids == sorted(ids)
    assert ids == [name.removesuffix(".json") for name in TEMPLATE_FILES]


def test_unknown_id_is_none() -> None:
    assert get_template("Nope-nothing") is None
    assert get_template("salesforce-account") is None


def test_response_is_a_fresh_copy() -> None:
    template = get_template("Salesforce-Account")
    assert template is not None
    body = template.as_response()
    body["Fields"]["Id"]["Target"] = "_profile.FirstName"
    body["Keys"]["_salesforceAccountId"][0]["FieldNames"].append("Name")
    again = template.as_response()
    assert again["Fields"]["Id"]["Target"] == "_profile.Attributes.sfdcAccountId"
    assert again["Keys"]["_salesforceAccountId"][0]["FieldNames"] == ["Id"]
    assert template.source_last_updated_timestamp_format == "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
