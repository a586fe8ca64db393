"""Record service conformance: create/read/update/upsert/delete/transform and NetSuite error bodies."""

from __future__ import annotations

from tests.cr_sandbox.netsuite.conftest import RECORD_PATH


def _error(resp) -> dict:
    body = resp.json()
    assert set(body) == {"type", "title", "status", "o:errorDetails"}
    assert body["status"] == resp.status_code
    return body["o:errorDetails"][0]


def test_create_returns_204_with_location_and_get_returns_references(ns):
    resp = ns.request("POST", f"{RECORD_PATH}/customer", json={"companyName": "Rec Test Co", "externalId": "CUST-REC-1", "subsidiary": {"id": "1"}})
    assert resp.status_code == 204 and resp.content == b""
    location = resp.headers["Location"]
    assert location.startswith(f"{ns.base}{RECORD_PATH}/customer/")
    customer_id = location.rsplit("/", 1)[1]
    so_id = ns.create("salesOrder", {
        "entity": {"id": customer_id}, "externalId": "SO-REC-1", "memo": "hello",
        "item": {"items": [{"item": {"id": "507"}, "quantity": 2, "rate": 50.5}]},
    })
    order = ns.get("salesOrder", so_id)
    assert order["id"] == so_id and order["externalId"] == "SO-REC-1"
    assert order["entity"]["id"] == customer_id and order["entity"]["refName"] == "Rec Test Co"
    assert set(order["item"]) == {"links"}  # sublists stay links unless expanded
    expanded = ns.get("salesOrder", so_id, expand=True)
    line = expanded["item"]["items"][0]
    assert line["item"]["refName"] == "SVC-ONBOARD" and line["quantity"] == 2 and line["amount"] == 101.0
    assert expanded["total"] == 101.0


def test_patch_merges_lines_and_replace_item_replaces_the_sublist(ns):
    so_id = ns.create("salesOrder", {
        "entity": {"id": "1003"},
        "item": {"items": [{"item": {"id": "507"}, "quantity": 1}, {"item": {"id": "508"}, "quantity": 1}]},
    })
    resp = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{so_id}",
                      json={"memo": "patched", "item": {"items": [{"line": 1, "quantity": 5}]}})
    assert resp.status_code == 204
    lines = ns.get("salesOrder", so_id, expand=True)["item"]["items"]
    assert [(x["line"], x["quantity"]) for x in lines] == [(1, 5.0), (2, 1.0)]
    resp = ns.request("PATCH", f"{RECORD_PATH}/salesOrder/{so_id}", params={"replace": "item"},
                      json={"item": {"items": [{"item": {"id": "505"}, "quantity": 3}]}})
    assert resp.status_code == 204
    order = ns.get("salesOrder", so_id, expand=True)
    assert order["memo"] == "patched"
    assert [(x["item"]["id"], x["quantity"]) for x in order["item"]["items"]] == [("505", 3.0)]


def test_upsert_by_external_id_and_external_id_rules(ns):
    path = f"{RECORD_PATH}/customer/eid:UPSERT_cust-1"
    first = ns.request("PUT", path, json={"companyName": "Upsert One", "subsidiary": {"id": "1"}})
    assert first.status_code == 204
    second = ns.request("PUT", path, json={"companyName": "Upsert One Renamed"})
    assert second.status_code == 204
    assert first.headers["Location"] == second.headers["Location"]
    customer_id = first.headers["Location"].rsplit("/", 1)[1]
    assert ns.get("customer", customer_id)["companyName"] == "Upsert One Renamed"
    assert ns.get("customer", "eid:UPSERT_cust-1")["id"] == customer_id
    bad = ns.request("PUT", f"{RECORD_PATH}/customer/eid:has space", json={"companyName": "x"})
    assert bad.status_code == 400
    assert ns.request("PUT", f"{RECORD_PATH}/customer/{customer_id}", json={"companyName": "x"}).status_code == 405
    duplicate = ns.request("POST", f"{RECORD_PATH}/customer", json={"companyName": "Dup", "externalId": "UPSERT_cust-1", "subsidiary": {"id": "1"}})
    assert duplicate.status_code == 400
    assert "UPSERT_cust-1" in _error(duplicate)["detail"]


def test_delete(ns):
    customer_id = ns.create("customer", {"companyName": "To Delete", "subsidiary": {"id": "1"}})
    assert ns.request("DELETE", f"{RECORD_PATH}/customer/{customer_id}").status_code == 204
    missing = ns.request("GET", f"{RECORD_PATH}/customer/{customer_id}")
    assert missing.status_code == 404
    assert _error(missing)["o:errorCode"] == "NONEXISTENT_ID"


def test_errors_name_the_field(ns):
    unknown = ns.request("POST", f"{RECORD_PATH}/salesOrder", json={"entity": {"id": "1001"}, "bogusField": 1})
    assert unknown.status_code == 400
    detail = _error(unknown)
    assert detail["o:errorCode"] == "INVALID_CONTENT" and "bogusField" in detail["detail"]
    assert detail["o:errorPath"] == "bogusField"

    bad_ref = ns.request("POST", f"{RECORD_PATH}/salesOrder",
                         json={"entity": {"id": "1001"}, "item": {"items": [{"item": {"id": "9999"}, "quantity": 1}]}})
    assert bad_ref.status_code == 400
    detail = _error(bad_ref)
    assert detail["o:errorPath"] == "item.items[0].item"
    assert "Invalid Field Value 9999" in detail["detail"] and "item" in detail["detail"]

    bad_value = ns.request("POST", f"{RECORD_PATH}/salesOrder", json={"entity": {"id": "1001"}, "tranDate": "31/12/2024"})
    assert bad_value.status_code == 400
    assert _error(bad_value)["o:errorPath"] == "tranDate" and "tranDate" in _error(bad_value)["detail"]

    bad_list = ns.request("POST", f"{RECORD_PATH}/salesOrder",
                          json={"entity": {"id": "1001"}, "custbody_order_type": {"id": "99"}})
    assert bad_list.status_code == 400 and "custbody_order_type" in _error(bad_list)["detail"]

    missing = ns.request("POST", f"{RECORD_PATH}/salesOrder", json={"memo": "no entity"})
    assert missing.status_code == 400 and "entity" in _error(missing)["detail"]

    bad_type = ns.request("GET", f"{RECORD_PATH}/notARecord/1")
    assert bad_type.status_code == 404


def test_transform_estimate_to_sales_order_keeps_the_link(ns):
    est_id = ns.create("estimate", {
        "entity": {"id": "1004"}, "item": {"items": [{"item": {"id": "508"}, "quantity": 2, "rate": 100}]},
    })
    resp = ns.request("POST", f"{RECORD_PATH}/estimate/{est_id}/!transform/salesOrder",
                      json={"externalId": "SO-FROM-EST-1", "memo": "won", "item": {"items": [{"line": 1, "quantity": 3}]}})
    assert resp.status_code == 204
    so_id = resp.headers["Location"].rsplit("/", 1)[1]
    order = ns.get("salesOrder", so_id, expand=True)
    assert order["createdFrom"]["id"] == est_id
    assert order["externalId"] == "SO-FROM-EST-1" and order["memo"] == "won"
    assert order["item"]["items"][0]["quantity"] == 3.0 and order["total"] == 300.0
    assert ns.get("estimate", est_id)["status"]["refName"] == "Processed"
    again = ns.request("POST", f"{RECORD_PATH}/estimate/{est_id}/!transform/salesOrder", json={})
    assert again.status_code == 400
