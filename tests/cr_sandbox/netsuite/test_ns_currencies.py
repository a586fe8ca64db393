"""Transaction currency: only a currency on the customer's record; never changed once saved.

Oracle NetSuite Help: "Assigning Currencies to Entities" (section_N1397405) and "Currency on Customer
Transactions" (bridgehead_N1398658). Error codes and texts are the stand-in's guesses
(cr_sandbox.netsuite.currencies).
"""

from __future__ import annotations

import json

from tests.cr_sandbox.netsuite.conftest import RECORD_PATH

USD, GBP, EUR = "1", "2", "4"


def _error(resp) -> dict:
    assert resp.status_code == 400, resp.text
    return resp.json()["o:errorDetails"][0]


def _order(customer: str, currency: str | None = None, **extra) -> dict:
    body = {"entity": {"id": customer}, "item": {"items": [{"item": {"id": "507"}, "quantity": 1, "rate": 10}]}}
    if currency is not None:
        body["currency"] = {"id": currency}
    return body | extra


def test_customer_currency_list_is_read_and_extended(ns):
    customer = ns.create("customer", {"companyName": "Currency Co", "currency": {"id": GBP}, "subsidiary": {"id": "1"}})
    listed = ns.get("customer", customer, expand=True)["currencyList"]["items"]
    assert [c["currency"]["id"] for c in listed] == [GBP]  # the primary currency is always on the list
    resp = ns.request("PATCH", f"{RECORD_PATH}/customer/{customer}",
                      json={"currencyList": {"items": [{"currency": {"id": EUR}}]}})
    assert resp.status_code == 204, resp.text
    listed = ns.get("customer", customer, expand=True)["currencyList"]["items"]
    assert [(c["currency"]["id"], c["currency"]["refName"]) for c in listed] == [(GBP, "GBP"), (EUR, "EUR")]


def test_order_in_a_currency_the_customer_may_not_use_is_refused(ns):
    customer = ns.create("customer", {"companyName": "Dollar Only Inc", "subsidiary": {"id": "1"}})  # primary USD, nothing else
    refused = ns.request("POST", f"{RECORD_PATH}/salesOrder", json=_order(customer, EUR, externalId="CUR-EUR-1"))
    detail = _error(refused)
    assert detail["o:errorPath"] == "currency"
    assert detail["o:errorCode"] == "INVALID_KEY_OR_REF"
    assert detail["detail"] == f"Invalid currency reference key {EUR} for entity {customer}."
    assert ns.rows("SELECT id FROM transaction WHERE externalid = 'CUR-EUR-1'") == []
    upsert = ns.request("PUT", f"{RECORD_PATH}/salesOrder/eid:CUR-EUR-2", json=_order(customer, EUR))
    assert _error(upsert)["o:errorPath"] == "currency"

    ns.request("PATCH", f"{RECORD_PATH}/customer/{customer}", json={"currencyList": {"items": [{"currency": {"id": EUR}}]}})
    so_id = ns.create("salesOrder", _order(customer, EUR))
    assert ns.get("salesOrder", so_id)["currency"]["id"] == EUR
    default = ns.create("salesOrder", _order(customer))  # no currency: the customer's primary
    assert ns.get("salesOrder", default)["currency"]["id"] == USD


def test_saved_order_keeps_its_currency(ns):
    customer = ns.create("customer", {"companyName": "Two Currencies Ltd", "currency": {"id": GBP}, "subsidiary": {"id": "1"},
                                      "currencyList": {"items": [{"currency": {"id": USD}}]}})
    resp = ns.request("PUT", f"{RECORD_PATH}/salesOrder/eid:CUR-KEEP-1", json=_order(customer, GBP))
    assert resp.status_code == 204, resp.text
    same = ns.request("PUT", f"{RECORD_PATH}/salesOrder/eid:CUR-KEEP-1", json=_order(customer, GBP))
    assert same.status_code == 204, same.text
    changed = ns.request("PUT", f"{RECORD_PATH}/salesOrder/eid:CUR-KEEP-1", json=_order(customer, USD))
    detail = _error(changed)
    assert detail["o:errorPath"] == "currency" and "cannot change the currency" in detail["detail"]


def test_transform_keeps_the_estimate_currency(ns):
    customer = ns.create("customer", {"companyName": "Estimate Currency Co", "currency": {"id": GBP}, "subsidiary": {"id": "1"},
                                      "currencyList": {"items": [{"currency": {"id": USD}}]}})
    est_id = ns.create("estimate", _order(customer, GBP))
    other = ns.request("POST", f"{RECORD_PATH}/estimate/{est_id}/!transform/salesOrder", json={"currency": {"id": USD}})
    assert "cannot change the currency" in _error(other)["detail"]
    same = ns.request("POST", f"{RECORD_PATH}/estimate/{est_id}/!transform/salesOrder", json={"currency": {"id": GBP}})
    assert same.status_code == 204, same.text
    so_id = same.headers["Location"].rsplit("/", 1)[1]
    assert ns.get("salesOrder", so_id)["currency"]["id"] == GBP


def test_line_quantity_must_be_finite_and_bounded(ns):
    too_big = _order("1001", USD)
    too_big["item"]["items"][0]["quantity"] = 1e20
    detail = _error(ns.request("POST", f"{RECORD_PATH}/salesOrder", json=too_big))
    assert detail["o:errorPath"] == "item.items[0].quantity"
    # JSON has no NaN/Infinity tokens (requests refuses to send them); a client that sends them anyway is refused.
    raw = json.dumps(_order("1001", USD)).replace('"quantity": 1', '"quantity": Infinity')
    resp = ns.request("POST", f"{RECORD_PATH}/salesOrder", data=raw, headers={"Content-Type": "application/json"})
    assert _error(resp)["o:errorPath"] == "item.items[0].quantity"
