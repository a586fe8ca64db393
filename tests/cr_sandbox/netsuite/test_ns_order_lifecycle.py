"""The order lifecycle as Oracle documents it (issue 17): approval, the Contract Renewals form, contracts
made in the background, contract items after billing, the form's required web-service fields."""

from __future__ import annotations

import pytest

from cr_sandbox import order_steps
from tests.cr_sandbox.netsuite.conftest import RECORD_PATH

CR_FORM, CR_FORM_COPY, STANDARD_FORM = "129", "130", "68"
PENDING, ACTIVE, RENEWAL_PROCESSED = "1", "2", "4"


@pytest.fixture(autouse=True)
def catalog_only(ns):
    ns.control("reset")
    ns.control("seed", {"contracts": 0, "estimates": 0})
    ns.control("clock", {"today": "2025-01-10"})
    yield
    ns.control("preferences", {
        "default_sales_order_status": "A", "preferred_sales_order_form": 68,
        "sales_order_status_to_create_contract": "A", "transaction_status_to_process": "G",
    })
    ns.control("clock", {"reset": True})


def _order(**extra) -> dict:
    body = {
        "entity": {"id": "1001"}, "custbody_end_user": {"id": "1001"}, "custbody_order_type": {"id": "1"},
        "startDate": "2025-01-15", "customForm": {"id": CR_FORM},
        "item": {"items": [{"item": {"id": "501"}, "quantity": 10}, {"item": {"id": "503"}, "quantity": 1}]},
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def _scripts(ns, *names: str) -> dict:
    return ns.control("run-scripts", {"scripts": list(names)})


def _contract_of(ns, order_id: str) -> str | None:
    ref = ns.get("salesOrder", order_id).get("custbody_contract_name")
    return ref["id"] if ref else None


def _item_count(ns, contract_id: str) -> int:
    return len(ns.rows(f"SELECT id FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {contract_id}"))


def test_new_order_is_pending_approval_b_preapproves_patch_approves(ns):
    pending = ns.create("salesOrder", _order())
    order = ns.get("salesOrder", pending)
    assert order["orderStatus"] == {"id": "A", "refName": "Pending Approval"}
    assert order["customForm"] == {"id": CR_FORM, "refName": "Sales Order - Contract Renewals"}
    approved = ns.create("salesOrder", _order(orderStatus="B"))
    assert ns.get("salesOrder", approved)["orderStatus"]["id"] == "B"

    assert ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{pending}", json={"orderStatus": "B"}).status_code == 204
    assert ns.get("salesOrder", pending)["orderStatus"]["id"] == "B"
    # Reset approval of an unbilled order (section_N1218788), then approve again.
    assert ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{pending}", json={"orderStatus": "A"}).status_code == 204
    assert ns.get("salesOrder", pending)["orderStatus"]["id"] == "A"
    bad = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{pending}", json={"orderStatus": "G"})
    assert bad.status_code == 400 and bad.json()["o:errorDetails"][0]["o:errorPath"] == "orderStatus"
    # The account preference "Default Sales Order Status" set to Pending Fulfillment.
    ns.control("preferences", {"default_sales_order_status": "B"})
    assert ns.get("salesOrder", ns.create("salesOrder", _order()))["orderStatus"]["id"] == "B"


def test_contract_made_in_background_on_the_cr_form_only(ns):
    on_cr = ns.create("salesOrder", _order())
    on_copy = ns.create("salesOrder", _order(customForm={"id": CR_FORM_COPY}))
    standard = ns.create("salesOrder", _order(customForm=None))  # the account's preferred form: standard
    assert ns.get("salesOrder", standard)["customForm"]["id"] == STANDARD_FORM
    # Not in the request: nothing until the module's R07 script runs.
    assert _contract_of(ns, on_cr) is None and ns.rows("SELECT id FROM customrecord_contracts") == []
    made = _scripts(ns, "R07")["contracts_created"]
    assert len(made) == 2
    assert _contract_of(ns, on_cr) and _contract_of(ns, on_copy)
    assert _contract_of(ns, standard) is None
    contract = ns.get("customrecord_contracts", _contract_of(ns, on_cr))
    assert contract["custrecord_contract_status"]["id"] == PENDING  # no items before billing
    assert contract["custrecord_contracts_end_date"] == "2026-01-14"  # startdate + 12 months (default term)
    # Saving the standard-form order again still makes nothing.
    ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{standard}", json={"memo": "again"})
    assert _scripts(ns, "R07")["contracts_created"] == []


def test_contract_on_approval_when_the_preference_says_pending_fulfillment(ns):
    ns.control("preferences", {"sales_order_status_to_create_contract": "B"})
    order = ns.create("salesOrder", _order())
    assert _scripts(ns, "R07")["contracts_created"] == []
    order_steps.approve_orders(ns.sandbox.config, [order])
    assert len(_scripts(ns, "R07")["contracts_created"]) == 1


def test_items_after_billing_by_r03_then_active(ns):
    order = ns.create("salesOrder", _order())
    _scripts(ns, "R07", "R03")
    contract = _contract_of(ns, order)
    assert _item_count(ns, contract) == 0  # not billed: R03 leaves it
    refused = ns.request("POST", f"{RECORD_PATH}/salesOrder/{order}/!transform/invoice", json={})
    assert refused.status_code == 400 and "pending approval" in refused.json()["o:errorDetails"][0]["detail"]

    order_steps.approve_orders(ns.sandbox.config, [order])
    resp = ns.request("POST", f"{RECORD_PATH}/salesOrder/{order}/!transform/invoice", json={"memo": "billed"})
    assert resp.status_code == 204
    invoice = ns.get("invoice", resp.headers["Location"].rsplit("/", 1)[1], expand=True)
    assert invoice["createdFrom"]["id"] == order and len(invoice["item"]["items"]) == 2
    assert ns.get("salesOrder", order)["orderStatus"]["id"] == "G"
    assert _item_count(ns, contract) == 0  # still none until the hourly script
    assert _scripts(ns, "R03")["contract_items_created"] == {"orders": 1, "contract_items": 2}
    assert ns.get("customrecord_contracts", contract)["custrecord_contract_status"]["id"] == ACTIVE
    again = ns.request("POST", f"{RECORD_PATH}/salesOrder/{order}/!transform/invoice", json={})
    assert again.status_code == 400 and "nothing left to bill" in again.json()["o:errorDetails"][0]["detail"]


def test_transaction_status_to_process_pending_fulfillment(ns):
    ns.control("preferences", {"transaction_status_to_process": "B"})
    order = ns.create("salesOrder", _order(orderStatus="B"))
    _scripts(ns, "R07", "R03")
    assert _item_count(ns, _contract_of(ns, order)) == 2


def test_billed_order_refuses_line_changes_and_reapproval(ns):
    order = ns.create("salesOrder", _order(orderStatus="B"))
    order_steps.bill_orders(ns.sandbox.config, [order])
    lines = {"item": {"items": [{"item": {"id": "501"}, "quantity": 3}]}}
    replaced = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{order}?replace=item", json=lines)
    assert replaced.status_code == 400
    detail = replaced.json()["o:errorDetails"][0]
    assert detail["o:errorPath"] == "item" and "billed" in detail["detail"]
    upsert = ns.request("PUT", f"{RECORD_PATH}/salesOrder/eid:nope", json=_order())  # a new one: fine
    assert upsert.status_code == 204
    reset = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{order}", json={"orderStatus": "A"})
    assert reset.status_code == 400 and "Pending Approval" in reset.json()["o:errorDetails"][0]["detail"]
    # Body fields stay editable; approving again changes nothing.
    assert ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{order}", json={"memo": "x", "orderStatus": "B"}).status_code == 204
    assert ns.get("salesOrder", order)["orderStatus"]["id"] == "G"
    assert len(ns.get("salesOrder", order, expand=True)["item"]["items"]) == 2


@pytest.mark.parametrize("missing", ["entity", "custbody_end_user", "custbody_order_type", "startDate"])
def test_cr_form_requires_the_web_service_fields(ns, missing):
    resp = ns.request("POST", f"{RECORD_PATH}/salesOrder", json=_order(**{missing: None}))
    assert resp.status_code == 400
    detail = resp.json()["o:errorDetails"][0]
    assert detail["o:errorPath"] == missing and "Please enter value(s) for" in detail["detail"]
    assert ns.rows("SELECT id FROM transaction WHERE type = 'SalesOrd'") == []


def test_term_defaults_to_12_and_end_date_is_computed(ns):
    order = ns.get("salesOrder", ns.create("salesOrder", _order()))
    assert order["custbody_tran_term_in_months"] == 12 and order["endDate"] == "2026-01-14"
    given = ns.get("salesOrder", ns.create("salesOrder", _order(custbody_tran_term_in_months=24)))
    assert given["endDate"] == "2027-01-14"


def test_renewal_order_from_estimate_processes_original_after_billing(ns):
    order = ns.create("salesOrder", _order(orderStatus="B"))
    order_steps.complete_orders(ns.sandbox, [order])
    original = _contract_of(ns, order)
    ns.control("clock", {"today": "2025-10-20"})
    estimate = _scripts(ns, "nightly")["renewal_transactions"][0]["id"]
    resp = ns.request("POST", f"{RECORD_PATH}/estimate/{estimate}/!transform/salesOrder",
                      json={"customForm": {"id": CR_FORM}})
    renewal = resp.headers["Location"].rsplit("/", 1)[1]
    _scripts(ns, "R07")
    renewal_contract = _contract_of(ns, renewal)
    assert renewal_contract and renewal_contract != original
    assert ns.get("customrecord_contracts", original)["custrecord_contract_status"]["id"] != RENEWAL_PROCESSED
    order_steps.complete_orders(ns.sandbox, [renewal])
    assert ns.get("customrecord_contracts", renewal_contract)["custrecord_contract_status"]["id"] == ACTIVE
    assert ns.get("customrecord_contracts", original)["custrecord_contract_status"]["id"] == RENEWAL_PROCESSED
