"""Keyed item sublists as Oracle documents them (sections 1545295601, 1545297048, 156335203191), the
transformed estimate's status (SuiteAnswers 23874) and SuiteQL's posting-signed line columns."""

from __future__ import annotations

import pytest

from tests.cr_sandbox.netsuite.conftest import RECORD_PATH


@pytest.fixture(autouse=True)
def catalog_only(ns):
    ns.control("reset")
    ns.control("seed", {"contracts": 0, "estimates": 0})
    yield


def _lines(ns, record_type: str, record_id: str) -> list[tuple[int, str, float]]:
    items = ns.get(record_type, record_id, expand=True)["item"]["items"]
    return [(x["line"], x["item"]["id"], x["quantity"]) for x in items]


def _order(items: list[tuple[str, float]]) -> dict:
    return {"entity": {"id": "1001"}, "item": {"items": [{"item": {"id": i}, "quantity": q} for i, q in items]}}


def test_patch_without_replace_updates_by_line_key_and_adds_the_rest(ns):
    so = ns.create("salesOrder", _order([("501", 1), ("503", 1)]))
    resp = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{so}", json={"item": {"items": [
        {"line": 2, "quantity": 4}, {"item": {"id": "505"}, "quantity": 2}]}})
    assert resp.status_code == 204, resp.text
    assert _lines(ns, "salesOrder", so) == [(1, "501", 1), (2, "503", 4), (3, "505", 2)]


def test_upsert_without_replace_is_an_update_by_line_key(ns):
    path = f"{RECORD_PATH}/salesOrder/eid:SUBLIST-PUT-1"
    assert ns.request("PUT", path, json=_order([("501", 1)])).status_code == 204
    # Re-sent without ?replace: the sent line is added (it has no key), the saved one stays.
    assert ns.request("PUT", path, json=_order([("509", 3)])).status_code == 204
    so = ns.rows("SELECT id FROM transaction WHERE externalid = 'SUBLIST-PUT-1'")[0]["id"]
    assert _lines(ns, "salesOrder", so) == [(1, "501", 1), (2, "509", 3)]
    # With ?replace=item the sublist becomes exactly what was sent.
    assert ns.request("PUT", path, params={"replace": "item"}, json=_order([("505", 2)])).status_code == 204
    assert [(i, q) for _, i, q in _lines(ns, "salesOrder", so)] == [("505", 2)]


def test_replace_keeps_a_matched_line_key_and_removes_the_others(ns):
    so = ns.create("salesOrder", _order([("501", 1), ("503", 1), ("505", 1)]))
    resp = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{so}", params={"replace": "item"}, json={"item": {"items": [
        {"line": 2, "quantity": 6}, {"item": {"id": "509"}, "quantity": 1}]}})
    assert resp.status_code == 204, resp.text
    # Line 2 keeps its key and its item (only quantity was sent); 1 and 3 are gone; the new line is 4.
    assert _lines(ns, "salesOrder", so) == [(2, "503", 6), (4, "509", 1)]
    stale = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{so}", json={"item": {"items": [{"line": 1, "quantity": 2}]}})
    assert stale.status_code == 400
    assert stale.json()["o:errorDetails"][0]["o:errorPath"] == "item.items[0].line"


def test_a_transformed_estimate_is_processed_and_cannot_be_transformed_again(ns):
    est = ns.create("estimate", _order([("501", 2), ("503", 1)]))
    resp = ns.request("POST", f"{RECORD_PATH}/estimate/{est}/!transform/salesOrder",
                      json={"item": {"items": [{"line": 2, "quantity": 0}]}})
    assert resp.status_code == 204, resp.text
    so = resp.headers["Location"].rsplit("/", 1)[1]
    assert _lines(ns, "salesOrder", so) == [(1, "501", 2), (2, "503", 0)]  # keys kept from the estimate
    estimate = ns.get("estimate", est)
    assert estimate["status"] == {"id": "B", "refName": "Processed"}
    row = ns.rows(f"SELECT status, BUILTIN.DF(status) label FROM transaction WHERE id = {est}")[0]
    assert (row["status"], row["label"]) == ("B", "Estimate : Processed")
    again = ns.request("POST", f"{RECORD_PATH}/estimate/{est}/!transform/salesOrder", json={})
    assert again.status_code == 400 and "Processed" in again.json()["o:errorDetails"][0]["detail"]


def test_suiteql_transaction_lines_carry_the_posting_sign(ns):
    so = ns.create("salesOrder", {**_order([]), "item": {"items": [
        {"item": {"id": "501"}, "quantity": 3, "rate": 100}, {"item": {"id": "503"}, "quantity": 1, "rate": 50}]}})
    rows = ns.rows(
        "SELECT id, mainline, quantity, rate, foreignamount, netamount, creditforeignamount, debitforeignamount "
        f"FROM transactionline WHERE transaction = {so} ORDER BY id"
    )
    assert [(r["mainline"], r.get("quantity"), r.get("rate"), r["foreignamount"], r["netamount"]) for r in rows] == [
        ("T", None, None, "350", "350"), ("F", "-3", "100", "-300", "-300"), ("F", "-1", "50", "-50", "-50")]
    assert [r.get("creditforeignamount") for r in rows] == [None, "300", "50"]
    assert rows[0]["debitforeignamount"] == "350"
    unknown = ns.suiteql(f"SELECT amount FROM transactionline WHERE transaction = {so}")
    assert unknown.status_code == 400 and "Unknown identifier 'amount'" in unknown.text
