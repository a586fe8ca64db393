"""Contract downsell as Oracle documents it: a return authorization (order type 13) tied to the contract,
validated against the contract's items and rates, offset on the contract (negative quantity) once
approved, and not renewed (bridgehead_N1319749, section_N1326489, article_1230053124)."""

from __future__ import annotations

import pytest

from tests.cr_sandbox.netsuite.conftest import RECORD_PATH


@pytest.fixture(autouse=True)
def catalog_only(ns):
    ns.control("reset")
    ns.control("seed", {"contracts": 0, "estimates": 0})
    ns.control("clock", {"today": "2025-01-10"})
    yield
    ns.control("clock", {"reset": True})


def _rma(contract: str, lines: list[tuple[str, float]], **extra) -> dict:
    return {
        "entity": {"id": "1001"}, "custbody_order_type": {"id": "13"}, "custbody_contract_name": {"id": contract},
        "startdate": "2025-04-01", "enddate": "2026-01-14",
        "item": {"items": [{"item": {"id": i}, "quantity": q, "custcol_swe_contract_start_date": "2025-04-01",
                            "custcol_swe_contract_end_date": "2026-01-14"} for i, q in lines]}, **extra,
    }


def _items(ns, contract: str) -> list[tuple[str, float]]:
    rows = ns.rows("SELECT custrecord_ci_item item, custrecord_ci_quantity qty FROM customrecord_contract_item "
                   f"WHERE custrecord_ci_contract_id = {contract} ORDER BY id")
    return [(r["item"], float(r["qty"])) for r in rows]


def test_a_downsell_rma_offsets_the_contract_once_approved_and_is_not_renewed(ns, complete_orders):
    so = ns.create("salesOrder", {
        "customForm": {"id": "129"}, "entity": {"id": "1001"}, "custbody_end_user": {"id": "1001"},
        "custbody_order_type": {"id": "1"}, "startDate": "2025-01-15",
        "custbody_swe_contract_start_date": "2025-01-15", "custbody_swe_contract_end_date": "2026-01-14",
        "item": {"items": [{"item": {"id": "501"}, "quantity": 10}, {"item": {"id": "505"}, "quantity": 1}]}})
    complete_orders([so])  # approved, billed, R07 + R03: the contract and its items (issue 17)
    contract = ns.get("salesOrder", so)["custbody_contract_name"]["id"]

    # Refused: an item the contract does not hold, more than it holds, no contract named.
    for body, path in (
        (_rma(contract, [("507", 1)]), "item.items[0].item"),
        (_rma(contract, [("501", 11)]), "item.items[0].quantity"),
        ({**_rma(contract, [("501", 1)]), "custbody_contract_name": None}, "custbody_contract_name"),
    ):
        resp = ns.request("POST", f"{RECORD_PATH}/returnAuthorization", json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["o:errorDetails"][0]["o:errorPath"] == path

    rma = ns.create("returnAuthorization", _rma(contract, [("501", 4)]))
    record = ns.get("returnAuthorization", rma)
    assert record["status"] == {"id": "A", "refName": "Pending Approval"} and record["tranId"].startswith("RMA")
    [line] = ns.rows(f"SELECT quantity, foreignamount FROM transactionline WHERE transaction = {rma} AND mainline = 'F'")
    assert (line["quantity"], line["foreignamount"]) == ("4", "4800")  # a return reverses a sale: positive

    ns.control("clock", {"today": "2025-04-02"})
    assert ns.control("run-scripts")["downsell_returns"] == []  # not approved: not on the contract
    assert _items(ns, contract) == [("501", 10.0), ("505", 1.0)]
    ns.request("PATCH", f"{RECORD_PATH}/returnAuthorization/{rma}", json={"orderStatus": "B"})
    # The contract item script R03 (hourly) makes the offsetting items (article_1230053124).
    [done] = ns.control("run-scripts", {"scripts": ["R03"]})["downsell_returns"]
    assert done == {"id": int(rma), "contract": int(contract), "offsetting_items": 1}
    assert _items(ns, contract) == [("501", 10.0), ("505", 1.0), ("501", -4.0)]
    assert ns.control("run-scripts")["downsell_returns"] == []  # once per RMA
    assert ns.get("customrecord_contracts", contract)["custrecord_swe_contract_value"] == 6 * 1200 + 3000

    ns.control("clock", {"today": "2025-10-16"})
    [renewal] = ns.control("run-scripts")["renewal_transactions"]
    lines = ns.get("estimate", str(renewal["id"]), expand=True)["item"]["items"]
    assert [(x["item"]["id"], x["quantity"]) for x in lines] == [("501", 6), ("506", 1)]
