"""Contract Renewals module behaviour: new contract, upsell, renewal and the status lifecycle."""

from __future__ import annotations

import pytest

from tests.cr_sandbox.netsuite.conftest import RECORD_PATH

PENDING, ACTIVE, RENEWAL_GENERATED, RENEWAL_PROCESSED, CLOSED = "1", "2", "3", "4", "7"


@pytest.fixture(autouse=True)
def catalog_only(ns):
    ns.control("reset")
    ns.control("seed", {"contracts": 0, "estimates": 0})
    ns.control("clock", {"today": "2025-01-10"})
    yield
    ns.control("preferences", {"days_before_renewal": 90, "transaction_type_to_create": 2})
    ns.control("clock", {"reset": True})


#: What every order on the Contract Renewals form carries (its form and required fields, issue 17).
CR_FORM = {"customForm": {"id": "129"}}


def _new_order(ns, customer: str, start: str, end: str, items: list[tuple[str, float]], **extra) -> str:
    return ns.create("salesOrder", {
        **CR_FORM, "entity": {"id": customer}, "custbody_end_user": {"id": customer}, "startDate": start,
        "custbody_order_type": {"id": "1"},
        "custbody_swe_contract_start_date": start, "custbody_swe_contract_end_date": end,
        "item": {"items": [{"item": {"id": item}, "quantity": qty} for item, qty in items]}, **extra,
    })


def _contracts(ns, where: str = "1=1") -> list[dict]:
    return ns.rows(f"SELECT * FROM customrecord_contracts WHERE {where} ORDER BY id")


def _items(ns, contract_id: str) -> list[dict]:
    return ns.rows(
        "SELECT id, custrecord_ci_item, custrecord_ci_renew_with, custrecord_ci_quantity, custrecord_ci_state, "
        "TO_CHAR(custrecord_ci_startdate, 'YYYY-MM-DD') s, TO_CHAR(custrecord_ci_enddate, 'YYYY-MM-DD') e "
        f"FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {contract_id} ORDER BY id"
    )


def test_new_contract_upsell_and_renewal_cycle(ns, complete_orders):
    # 1. New contract from a sales order: only renewable categories (2-6) become contract items.
    so_id = _new_order(ns, "1001", "2025-01-15", "2026-01-14", [("501", 10), ("503", 1), ("507", 1)])
    complete_orders([so_id])
    order = ns.get("salesOrder", so_id)
    contract_id = order["custbody_contract_name"]["id"]
    assert order["custbody_contract_name"]["refName"] == f"{contract_id}_2025-01-15_2026-01-14"
    contract = ns.get("customrecord_contracts", contract_id)
    assert contract["name"] == f"{contract_id}_2025-01-15_2026-01-14"
    assert contract["custrecord_contract_status"]["id"] == ACTIVE  # Pending -> Active once items exist
    assert contract["custrecord_swe_target_renewal_date"] == "2025-10-16"  # end - 90 days
    items = _items(ns, contract_id)
    assert [i["custrecord_ci_item"] for i in items] == ["501", "503"]
    assert items[1]["custrecord_ci_renew_with"] == "504"  # Maint-New renews as Maint-Renewal
    assert {i["custrecord_ci_state"] for i in items} == {"1"}  # Future until the start date

    # Updating the order never creates a second contract.
    assert ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{so_id}", json={"memo": "edited"}).status_code == 204
    assert len(_contracts(ns)) == 1

    # 2. Upsell: co-termed to the contract; lines outside the term are refused and nothing is saved.
    upsell = {**CR_FORM, "entity": {"id": "1001"}, "custbody_end_user": {"id": "1001"}, "startDate": "2025-06-01",
              "custbody_order_type": {"id": "3"}, "custbody_contract_name": {"id": contract_id}}
    outside = ns.request("POST", f"{RECORD_PATH}/salesOrder", json={**upsell, "item": {"items": [
        {"item": {"id": "509"}, "quantity": 5, "custcol_swe_contract_start_date": "2025-06-01",
         "custcol_swe_contract_end_date": "2026-06-30"}]}})
    assert outside.status_code == 400
    detail = outside.json()["o:errorDetails"][0]
    assert detail["o:errorPath"] == "item.items[0].custcol_swe_contract_end_date"
    assert "outside the term" in detail["detail"] and "new contract" in detail["detail"]
    no_contract = ns.request("POST", f"{RECORD_PATH}/salesOrder", json={
        **CR_FORM, "entity": {"id": "1001"}, "custbody_end_user": {"id": "1001"}, "startDate": "2025-06-01",
        "custbody_order_type": {"id": "3"},
        "item": {"items": [{"item": {"id": "509"}, "quantity": 1}]}})
    assert no_contract.status_code == 400
    assert no_contract.json()["o:errorDetails"][0]["o:errorPath"] == "custbody_contract_name"
    assert len(ns.rows("SELECT id FROM transaction WHERE type = 'SalesOrd'")) == 1
    upsell_id = ns.create("salesOrder", {**upsell, "item": {"items": [
        {"item": {"id": "509"}, "quantity": 5, "custcol_swe_contract_start_date": "2025-06-01"}]}})
    complete_orders([upsell_id])
    items = _items(ns, contract_id)
    assert len(items) == 3 and (items[2]["s"], items[2]["e"]) == ("2025-06-01", "2026-01-14")
    assert len(_contracts(ns)) == 1

    # 3. Renewal: nothing is due before the target renewal date.
    ns.control("clock", {"today": "2025-10-15"})
    assert ns.control("run-scripts")["renewal_transactions"] == []
    ns.control("clock", {"today": "2025-10-16"})
    run = ns.control("run-scripts")
    assert len(run["renewal_transactions"]) == 1 and run["renewal_transactions"][0]["type"] == "Estimate"
    est_id = str(run["renewal_transactions"][0]["id"])
    estimate = ns.get("estimate", est_id, expand=True)
    assert estimate["custbody_order_type"]["id"] == "2"
    assert estimate["custbody_swe_from_contract"]["id"] == contract_id
    assert (estimate["startDate"], estimate["endDate"]) == ("2026-01-15", "2027-01-14")
    lines = estimate["item"]["items"]
    assert [x["item"]["id"] for x in lines] == ["501", "504", "509"]
    assert {(x["custcol_swe_contract_start_date"], x["custcol_swe_contract_end_date"]) for x in lines[:2]} == {
        ("2026-01-15", "2027-01-14")}
    contract = ns.get("customrecord_contracts", contract_id)
    assert contract["custrecord_contract_status"]["id"] == RENEWAL_GENERATED
    assert contract["custrecord_contract_renewal_tran"]["id"] == est_id
    assert {i["custrecord_ci_state"] for i in _items(ns, contract_id)} == {"2"}  # Active by date
    assert ns.control("run-scripts")["renewal_transactions"] == []  # one renewal per contract

    # 4. The won renewal comes back as an order transformed from the estimate.
    resp = ns.request("POST", f"{RECORD_PATH}/estimate/{est_id}/!transform/salesOrder",
                      json={**CR_FORM, "externalId": "SF-RENEWAL-1", "item": {"items": [{"line": 3, "quantity": 0}]}})
    assert resp.status_code == 204
    renewal_so = resp.headers["Location"].rsplit("/", 1)[1]
    complete_orders([renewal_so])
    renewal_contract_id = ns.get("salesOrder", renewal_so)["custbody_contract_name"]["id"]
    renewal_contract = ns.get("customrecord_contracts", renewal_contract_id)
    assert renewal_contract["name"] == f"{renewal_contract_id}_2026-01-15_2027-01-14"
    assert renewal_contract["custrecord_swe_original_contract"]["id"] == contract_id
    assert renewal_contract["custrecord_contract_status"]["id"] == ACTIVE
    assert len(_items(ns, renewal_contract_id)) == 2  # quantity 0 drops the item at renewal
    original = ns.get("customrecord_contracts", contract_id)
    assert original["custrecord_contract_status"]["id"] == RENEWAL_PROCESSED
    assert original["custrecord_contract_date_renewed"] == "2025-10-16"


def test_an_order_entered_after_its_start_date_gives_its_items_the_contract_term(ns, complete_orders):
    # A new order saved on 2025-01-20 for a contract that began 2025-01-15. R07 writes the contract it makes
    # onto the order; R03 must still treat the order as the contract's own (not an upsell co-termed from
    # its transaction date). The CI run that crossed midnight on 2026-12-01 found this.
    ns.control("clock", {"today": "2025-01-20"})
    so_id = _new_order(ns, "1001", "2025-01-15", "2026-01-14", [("501", 10), ("503", 1)])
    complete_orders([so_id])
    contract_id = ns.get("salesOrder", so_id)["custbody_contract_name"]["id"]
    items = ns.rows(
        "SELECT TO_CHAR(custrecord_ci_startdate, 'YYYY-MM-DD') s, TO_CHAR(custrecord_ci_enddate, 'YYYY-MM-DD') e, "
        f"custrecord_ci_term t FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {contract_id}"
    )
    assert {(i["s"], i["e"], float(i["t"])) for i in items} == {("2025-01-15", "2026-01-14", 12.0)}


def test_expired_contracts_close_and_items_expire(ns, complete_orders):
    so_id = _new_order(ns, "1003", "2025-01-01", "2025-06-30", [("505", 1)])
    complete_orders([so_id])
    contract_id = ns.get("salesOrder", so_id)["custbody_contract_name"]["id"]
    ns.request("PATCH", f"{RECORD_PATH}/customrecord_contracts/{contract_id}",
               json={"custrecord_swe_contract_type": {"id": "4"}})  # Non-Renewing: never renewed
    ns.control("clock", {"today": "2025-07-01"})
    run = ns.control("run-scripts")
    assert run["renewal_transactions"] == [] and run["contracts_closed"] == 1
    assert ns.get("customrecord_contracts", contract_id)["custrecord_contract_status"]["id"] == CLOSED
    assert _items(ns, contract_id)[0]["custrecord_ci_state"] == "3"


def test_renewal_as_sales_order_per_end_user_and_bill_to(ns, complete_orders):
    ns.control("preferences", {"transaction_type_to_create": 3, "days_before_renewal": 30})
    first = _new_order(ns, "1002", "2025-02-01", "2026-01-31", [("501", 1)])
    second = _new_order(ns, "1002", "2025-02-01", "2026-01-31", [("505", 2)])
    other = _new_order(ns, "1005", "2025-02-01", "2026-01-31", [("501", 3)])
    complete_orders([first, second, other])
    contract_ids = [ns.get("salesOrder", s)["custbody_contract_name"]["id"] for s in (first, second, other)]
    ns.control("clock", {"today": "2026-01-01"})
    run = ns.control("run-scripts")
    renewals = run["renewal_transactions"]
    assert sorted(len(r["contracts"]) for r in renewals) == [1, 2]  # one per end user + bill-to
    assert {r["type"] for r in renewals} == {"SalesOrd"}
    complete_orders([str(r["id"]) for r in renewals])  # the renewal orders' contracts come with R07/R03
    for contract_id in contract_ids:
        contract = ns.get("customrecord_contracts", contract_id)
        assert contract["custrecord_contract_status"]["id"] == RENEWAL_PROCESSED
    renewal_contracts = _contracts(ns, "custrecord_swe_original_contract IS NOT NULL")
    assert len(renewal_contracts) == 2
    assert {c["custrecord_contract_status"] for c in renewal_contracts} == {ACTIVE}
