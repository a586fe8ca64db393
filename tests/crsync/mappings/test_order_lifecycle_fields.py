"""The order's form, approval status and the Contract Renewals form's required fields (issue 17):
settings validated with the fix named, and what the hourly flow sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from crsync.mappings.opportunity_to_sales_order import opportunities_to_sales_orders
from crsync.settings import (
    DEFAULT_SETTINGS_FILE,
    IntegrationSettings,
    NewOrderStatus,
    SettingsError,
    load_settings,
)
from tests.crsync.mappings.test_mapping_opportunity_to_sales_order import CONTRACT, line, opportunity, renewal

DEFAULT_TEXT = DEFAULT_SETTINGS_FILE.read_text(encoding="utf-8")


def _settings(tmp_path: Path, old: str, new: str) -> IntegrationSettings:
    assert old in DEFAULT_TEXT
    path = tmp_path / "settings.yaml"
    path.write_text(DEFAULT_TEXT.replace(old, new), encoding="utf-8")
    return load_settings(path)


def _problem(tmp_path: Path, old: str, new: str) -> str:
    with pytest.raises(SettingsError) as caught:
        _settings(tmp_path, old, new)
    (problem,) = caught.value.problems
    return problem


def test_defaults_send_the_cr_form_and_leave_approval_to_netsuite(settings: IntegrationSettings) -> None:
    assert settings.netsuite.sales_order_form_id == 129
    assert settings.netsuite.new_order_status is NewOrderStatus.PENDING_APPROVAL
    (order,) = opportunities_to_sales_orders([opportunity(1)], settings).orders
    assert order.body["customForm"] == {"id": "129"}
    assert "orderStatus" not in order.body  # a re-sent order keeps the approval a NetSuite user gave it
    assert order.body["custbody_end_user"] == order.body["entity"] == {"id": "1001"}
    assert order.body["startdate"] == "2025-02-01"


def test_approved_sends_order_status_b_also_on_renewal_transforms(tmp_path: Path) -> None:
    approved = _settings(tmp_path, "new_order_status: pending_approval", "new_order_status: approved")
    orders = opportunities_to_sales_orders(
        [opportunity(1), renewal(2, NetSuite_Renewal_Estimate_Id__c="4001")], approved
    ).orders
    assert [o.body["orderStatus"] for o in orders] == ["B", "B"]
    assert orders[1].transform_from is not None and orders[1].body["customForm"] == {"id": "129"}


def test_form_id_null_sends_none_and_an_id_is_sent_as_given(tmp_path: Path) -> None:
    no_form = _settings(tmp_path, "sales_order_form_id: 129", "sales_order_form_id: null")
    (order,) = opportunities_to_sales_orders([opportunity(1)], no_form).orders
    assert "customForm" not in order.body
    copy = _settings(tmp_path, "sales_order_form_id: 129", "sales_order_form_id: 311")
    (order,) = opportunities_to_sales_orders([opportunity(1)], copy).orders
    assert order.body["customForm"] == {"id": "311"}


@pytest.mark.parametrize("value", ["Sales Order - Contract Renewals", "0", "-5", "12.5", "true"])
def test_a_bad_form_id_names_the_fix(tmp_path: Path, value: str) -> None:
    problem = _problem(tmp_path, "sales_order_form_id: 129", f"sales_order_form_id: {value}")
    assert "netsuite.sales_order_form_id" in problem and "is not a form internal id" in problem
    assert "Customization > Forms > Transaction Forms" in problem


def test_a_bad_status_names_the_choices(tmp_path: Path) -> None:
    problem = _problem(tmp_path, "new_order_status: pending_approval", "new_order_status: B")
    assert "netsuite.new_order_status" in problem
    assert "use pending_approval" in problem and "or approved" in problem


def test_an_order_without_dated_lines_starts_on_the_close_date(settings: IntegrationSettings) -> None:
    perpetual = line(Start_Date__c=None, End_Date__c=None,
                     Product2={"Name": "Perpetual", "NetSuite_Id__c": "507", "Item_Category__c": "Services"})  # fmt: skip
    (order,) = opportunities_to_sales_orders([opportunity(3, lines=[perpetual])], settings).orders
    assert order.body["startdate"] == "2025-01-20" and "enddate" not in order.body


def test_the_flow_owns_form_status_and_end_user(tmp_path: Path) -> None:
    old = "  sf_opportunity_to_ns_sales_order: {}"
    for target in ("customForm", "orderStatus", "custbody_end_user"):
        problem = _problem(tmp_path, old, f"  sf_opportunity_to_ns_sales_order:\n    Description: {target}")
        assert "is set by the flow itself" in problem


def test_a_downsell_return_authorization_gets_no_sales_order_form_or_approval(tmp_path: Path) -> None:
    """The form id is a sales order form (return authorizations have their own forms, Oracle Help
    section_N425745), and approving a return is NetSuite's user's decision, not ``new_order_status``."""
    approved = _settings(tmp_path, "new_order_status: pending_approval", "new_order_status: approved")
    downsell = opportunity(5, "Contract Downsell", [line(Quantity=2.0, Start_Date__c=None, End_Date__c=None)],
                           ContractId="8005g00000AbC01", Contract=dict(CONTRACT))  # fmt: skip
    new, rma = opportunities_to_sales_orders([opportunity(1), downsell], approved).orders
    assert (new.body["customForm"], new.body["orderStatus"]) == ({"id": "129"}, "B")
    assert rma.record_type == "returnAuthorization"
    assert "customForm" not in rma.body and "orderStatus" not in rma.body
    # What a return authorization does take: the Contract Renewals fields, dated to the part returned.
    assert rma.body["custbody_end_user"] == rma.body["entity"] == {"id": "1001"}
    assert (rma.body["custbody_order_type"], rma.body["startdate"]) == ({"id": "13"}, "2025-01-20")
