"""Renewal generation (R05) as Oracle documents it (section_N1326010, section_N1325805,
section_4719408484): identical items with matching rates combine into one line, items that end before
the contract does are not renewed, and renewal lines carry the renewal's term."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def catalog_only(ns):
    ns.control("reset")
    ns.control("seed", {"contracts": 0, "estimates": 0})
    ns.control("clock", {"today": "2025-01-10"})
    yield
    ns.control("clock", {"reset": True})


def _line(item: str, quantity: float, start: str | None = None, end: str | None = None, **extra) -> dict:
    line = {"item": {"id": item}, "quantity": quantity, **extra}
    if start:
        line["custcol_swe_contract_start_date"] = start
    if end:
        line["custcol_swe_contract_end_date"] = end
    return line


#: What every order on the Contract Renewals form carries (its form and required fields, issue 17).
CR_ORDER = {"customForm": {"id": "129"}, "entity": {"id": "1001"}, "custbody_end_user": {"id": "1001"}}


def test_renewal_combines_matching_items_and_leaves_off_items_that_end_early(ns, complete_orders):
    new = ns.create("salesOrder", {
        **CR_ORDER, "custbody_order_type": {"id": "1"}, "startDate": "2025-01-15",
        "custbody_swe_contract_start_date": "2025-01-15", "custbody_swe_contract_end_date": "2026-01-14",
        "item": {"items": [_line("501", 10), _line("505", 1)]}})
    complete_orders([new])  # approved, billed, R07 + R03: the contract and its items
    contract = ns.get("salesOrder", new)["custbody_contract_name"]["id"]
    upsell = {**CR_ORDER, "custbody_order_type": {"id": "3"}, "custbody_contract_name": {"id": contract},
              "startDate": "2025-06-01"}
    upsells = [
        # Same item, same rate, co-termed: combined with the first 501 at renewal.
        ns.create("salesOrder", {**upsell, "item": {"items": [_line("501", 5, "2025-06-01")]}}),
        # Same item at another list rate: its own line.
        ns.create("salesOrder", {**upsell, "item": {"items": [_line("501", 2, "2025-06-01", custcol_list_rate=1000)]}}),
        # Ends before the contract does: not renewed.
        ns.create("salesOrder", {**upsell, "startDate": "2025-03-01",
                                 "item": {"items": [_line("509", 4, "2025-03-01", "2025-09-30")]}}),
    ]
    complete_orders(upsells)  # their items join the contract once billed

    ns.control("clock", {"today": "2025-10-16"})
    [renewal] = ns.control("run-scripts")["renewal_transactions"]
    estimate = ns.get("estimate", str(renewal["id"]), expand=True)
    lines = [(x["item"]["id"], x["quantity"], x["rate"]) for x in estimate["item"]["items"]]
    assert lines == [("501", 15, 1200), ("506", 1, 3000), ("501", 2, 1000)]  # Gold Support renews as 506
    assert {(x["custcol_swe_contract_start_date"], x["custcol_swe_contract_end_date"])
            for x in estimate["item"]["items"]} == {("2026-01-15", "2027-01-14")}  # the renewal's term
    assert estimate["total"] == 15 * 1200 + 3000 + 2 * 1000
