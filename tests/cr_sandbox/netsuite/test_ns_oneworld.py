"""OneWorld (issue 17): subsidiaries; ``subsidiary`` on customers (required) and transactions (the
customer's); a OneWorld customer's primary currency is its subsidiary's base currency.

Oracle NetSuite Help: "Subsidiary" (section_N3754626), SOAP Schema Browser CustomerSubsidiaryRelationship
(subsidiary: "If you select this entity on a transaction, the transaction is associated with this
subsidiary"), "Assigning Currencies to Entities" (section_N1397405). Error texts are the stand-in's guesses
(cr_sandbox.netsuite.subsidiaries).
"""

from __future__ import annotations

import pytest

from tests.cr_sandbox.netsuite.conftest import RECORD_PATH

ROOT, EUROPE, UK = "1", "2", "3"
USD, GBP, EUR = "1", "2", "4"


def _error(resp) -> dict:
    assert resp.status_code == 400, resp.text
    return resp.json()["o:errorDetails"][0]


def _order(customer: str, **extra) -> dict:
    body = {"entity": {"id": customer}, "item": {"items": [{"item": {"id": "507"}, "quantity": 1, "rate": 10}]}}
    return body | extra


@pytest.fixture
def oneworld_off(ns):
    ns.control("preferences", {"oneworld": 0})
    yield
    ns.control("preferences", {"oneworld": 1})


def test_oneworld_is_the_default_and_a_customer_needs_a_subsidiary(ns):
    assert ns.control("preferences", method="GET")["oneworld"] == 1
    refused = ns.request("POST", f"{RECORD_PATH}/customer", json={"companyName": "No Subsidiary Inc"})
    detail = _error(refused)
    assert (detail["o:errorCode"], detail["o:errorPath"]) == ("INVALID_CONTENT", "subsidiary")
    assert "subsidiary" in detail["detail"]
    assert ns.rows("SELECT id FROM customer WHERE companyname = 'No Subsidiary Inc'") == []


def test_customer_takes_its_subsidiarys_base_currency(ns):
    customer = ns.create("customer", {"companyName": "Euro GmbH", "subsidiary": {"id": EUROPE}})
    record = ns.get("customer", customer)
    assert record["subsidiary"]["id"] == EUROPE and record["subsidiary"]["refName"] == "Europe B.V."
    assert record["currency"]["id"] == EUR
    chosen = ns.create("customer", {"companyName": "Dollar B.V.", "subsidiary": {"id": EUROPE}, "currency": {"id": USD}})
    assert ns.get("customer", chosen)["currency"]["id"] == USD
    rows = ns.rows(f"SELECT c.id, s.name, s.currency FROM customer c JOIN subsidiary s ON s.id = c.subsidiary "
                   f"WHERE c.id = {customer}")
    assert [{k: r[k] for k in ("id", "name", "currency")} for r in rows] == [
        {"id": customer, "name": "Europe B.V.", "currency": EUR}]


def test_transaction_is_in_its_customers_subsidiary(ns):
    customer = ns.create("customer", {"companyName": "UK Buyer Ltd", "subsidiary": {"id": UK}})
    order = ns.create("salesOrder", _order(customer))
    record = ns.get("salesOrder", order)
    assert record["subsidiary"]["id"] == UK and record["currency"]["id"] == GBP
    same = ns.create("salesOrder", _order(customer, subsidiary={"id": UK}))
    assert ns.get("salesOrder", same)["subsidiary"]["id"] == UK

    other = ns.request("POST", f"{RECORD_PATH}/salesOrder", json=_order(customer, subsidiary={"id": EUROPE},
                                                                        externalId="OW-WRONG-SUB"))
    detail = _error(other)
    assert (detail["o:errorCode"], detail["o:errorPath"]) == ("INVALID_KEY_OR_REF", "subsidiary")
    assert detail["detail"] == f"Invalid subsidiary reference key {EUROPE} for entity {customer}."
    assert ns.rows("SELECT id FROM transaction WHERE externalid = 'OW-WRONG-SUB'") == []

    moved = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{order}", json={"subsidiary": {"id": ROOT}})
    assert _error(moved)["o:errorPath"] == "subsidiary"
    rehomed = ns.request("PATCH", f"{RECORD_PATH}/customer/{customer}", json={"subsidiary": {"id": ROOT}})
    assert _error(rehomed)["o:errorPath"] == "subsidiary"  # it has transactions


def test_seeded_records_and_renewals_carry_a_subsidiary(ns):
    for table in ("customer", "transaction"):
        missing = ns.rows(f"SELECT COUNT(*) AS n FROM {table} WHERE subsidiary IS NULL")
        assert str(missing[0]["n"]) == "0", table
    ns.control("clock", {"advance_days": 400})
    try:
        assert ns.control("run-scripts")["renewal_transactions"]  # the module's renewals, written by SQL
    finally:
        ns.control("clock", {"reset": True})
    missing = ns.rows("SELECT COUNT(*) AS n FROM transaction WHERE subsidiary IS NULL")
    assert str(missing[0]["n"]) == "0"


def test_without_oneworld_there_is_no_subsidiary_field(ns, oneworld_off):
    customer = ns.create("customer", {"companyName": "Single Entity Co"})
    assert "subsidiary" not in ns.get("customer", customer)
    refused = ns.request("POST", f"{RECORD_PATH}/customer", json={"companyName": "x", "subsidiary": {"id": ROOT}})
    assert _error(refused)["o:errorPath"] == "subsidiary"
    order = ns.create("salesOrder", _order(customer))
    assert "subsidiary" not in ns.get("salesOrder", order)


def test_line_without_rate_is_priced_in_the_transaction_currency(ns):
    """Multiple Currencies + Multiple Prices: the pricing matrix (section_159531460854), read through SuiteQL."""
    prices = ns.rows("SELECT currency, unitprice FROM pricing WHERE item = 501 AND pricelevel = 1 ORDER BY currency")
    assert [(p["currency"], float(p["unitprice"])) for p in prices] == [
        (USD, 1200.0), (GBP, 948.0), ("3", 1632.0), (EUR, 1104.0)]
    customer = ns.create("customer", {"companyName": "Preise GmbH", "subsidiary": {"id": EUROPE}})
    order = ns.create("salesOrder", {"entity": {"id": customer}, "item": {"items": [
        {"item": {"id": "501"}, "quantity": 2}, {"item": {"id": "501"}, "quantity": 1, "price": {"id": "-1"},
                                                  "rate": 999}]}})
    lines = ns.get("salesOrder", order, expand=True)["item"]["items"]
    assert [(line["rate"], line["amount"]) for line in lines] == [(1104.0, 2208.0), (999.0, 999.0)]
    item = ns.create("noninventoryitem", {"itemId": "NO-EUR-PRICE", "basePrice": 50.0})
    no_price = ns.create("salesOrder", {"entity": {"id": customer}, "item": {"items": [{"item": {"id": item}}]}})
    assert ns.get("salesOrder", no_price, expand=True)["item"]["items"][0]["rate"] == 0.0  # no EUR price
