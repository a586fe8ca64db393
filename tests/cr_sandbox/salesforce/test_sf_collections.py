"""sObject Collections through ``Salesforce.restful``: upsert of 200 / 201, allOrNone, lookups, deletes, lock faults."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from cr_sandbox.process import RunningSandbox

UPSERT_ITEMS = "composite/sobjects/Contract_Item__c/NetSuite_Id__c"


@pytest.fixture(autouse=True)
def parent_contract(sf: Salesforce) -> None:
    """Contract NetSuite id 7 (idempotent upsert), which the contract items hang off."""
    sf.Contract.upsert("NetSuite_Id__c/7", {"Account": {"NetSuite_Id__c": "1001"}, "StartDate": "2025-01-01",
                                           "ContractTerm": 12, "NetSuite_Status__c": "Active"})


def _items(count: int, start: int = 0, contract: str = "7") -> list[dict]:
    return [
        {"attributes": {"type": "Contract_Item__c"}, "NetSuite_Id__c": str(10_000 + start + n), "Name": f"{start + n:08d}",
         "Contract__r": {"NetSuite_Id__c": contract}, "Product__r": {"NetSuite_Id__c": "503"}, "Quantity__c": 1,
         "Start_Date__c": "2025-01-01", "End_Date__c": "2025-12-31", "Term_Months__c": 12, "Status__c": "Active"}
        for n in range(count)
    ]


def test_upsert_200_records_creates_then_updates_in_order(sf: Salesforce):
    records = _items(200)
    results = sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": False, "records": records})
    assert len(results) == 200
    assert all(r["success"] and r["created"] and r["id"].startswith("a0X") for r in results)
    for record in records:
        record["Quantity__c"] = 3
    again = sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": False, "records": records})
    assert [r["id"] for r in again] == [r["id"] for r in results]
    assert not any(r["created"] for r in again)
    rows = sf.query_all("SELECT Quantity__c, Contract__r.NetSuite_Id__c FROM Contract_Item__c "
                        "WHERE NetSuite_Id__c LIKE '10%'")["records"]
    assert len(rows) == 200 and {r["Quantity__c"] for r in rows} == {3.0}
    assert {r["Contract__r"]["NetSuite_Id__c"] for r in rows} == {"7"}


def test_201_records_exceed_the_id_limit(sf: Salesforce):
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": False, "records": _items(201, 500)})
    assert info.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sf.query("SELECT COUNT() FROM Contract_Item__c WHERE NetSuite_Id__c = '10500'")["totalSize"] == 0


def test_all_or_none_false_reports_each_record_and_keeps_the_good_ones(sf: Salesforce):
    records = _items(3, 900)
    records[1]["Contract__r"] = {"NetSuite_Id__c": "does-not-exist"}
    records[2]["Status__c"] = "Sleeping"
    results = sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, False, False]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert "Foreign key external ID: does-not-exist not found" in results[1]["errors"][0]["message"]
    assert results[2]["errors"][0] == {"statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                       "message": "Status: bad value for restricted picklist field: Sleeping",
                                       "fields": ["Status__c"]}
    assert sf.query("SELECT COUNT() FROM Contract_Item__c WHERE NetSuite_Id__c = '10900'")["totalSize"] == 1


def test_all_or_none_true_rolls_back_everything(sf: Salesforce):
    records = _items(3, 950)
    del records[2]["Contract__r"]
    results = sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": True, "records": records})
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT COUNT() FROM Contract_Item__c WHERE NetSuite_Id__c IN ('10950', '10951')")[
        "totalSize"] == 0


def test_duplicate_external_ids_in_one_request_fail_both(sf: Salesforce):
    records = _items(2, 970)
    records[1]["NetSuite_Id__c"] = records[0]["NetSuite_Id__c"]
    results = sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": False, "records": records})
    assert [r["errors"][0]["statusCode"] for r in results] == ["DUPLICATE_EXTERNAL_ID"] * 2


def test_create_update_and_delete_collections(sf: Salesforce):
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Opportunity"}, "Name": "Coll A", "StageName": "Prospecting", "CloseDate": "2025-03-01",
         "Account": {"NetSuite_Id__c": "1003"}, "Order_Type__c": "Contract New", "Sync_Status__c": "Processing"},
        {"attributes": {"type": "Opportunity"}, "Name": "Coll B", "StageName": "Prospecting"},
    ]})
    assert created[0]["success"] and not created[1]["success"]
    assert created[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert "id" not in created[1]
    opp_id = created[0]["id"]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Opportunity"}, "id": opp_id, "Sync_Status__c": "Synced", "NetSuite_Id__c": "9001",
         "NetSuite_Order_Number__c": "SO-9001", "Last_Synced__c": "2025-03-01T10:00:00Z"},
        {"attributes": {"type": "Opportunity"}, "id": "006000000000000AAA", "Sync_Status__c": "Synced"},
    ]})
    assert updated[0] == {"id": opp_id, "success": True, "errors": []}
    assert updated[1]["success"] is False
    record = sf.Opportunity.get(opp_id)
    assert record["Sync_Status__c"] == "Synced" and record["Last_Synced__c"] == "2025-03-01T10:00:00.000+0000"
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{opp_id},{opp_id}"})
    assert deleted[0]["success"] is True
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("composite/sobjects/Contract_Item__c/Bogus__c", method="PATCH",
                   json={"allOrNone": False, "records": []})


def test_unable_to_lock_row_is_injected_per_record(sf: Salesforce, sf_sandbox: RunningSandbox):
    sf_sandbox.control("salesforce", "governance", {"rate_unable_to_lock_row": 0.5, "seed": 7})
    try:
        results = sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": False, "records": _items(100, 2000)})
    finally:
        sf_sandbox.control("salesforce", "governance", {"rate_unable_to_lock_row": 0.0})
    locked = [r for r in results if not r["success"]]
    assert 20 < len(locked) < 80
    assert {r["errors"][0]["statusCode"] for r in locked} == {"UNABLE_TO_LOCK_ROW"}
    stats = sf_sandbox.control("salesforce", "stats", method="GET")
    assert stats["injected_faults"]["UNABLE_TO_LOCK_ROW"] >= len(locked)
    # A retry of only the locked records succeeds once the fault is off.
    retry = [r for r, res in zip(_items(100, 2000), results, strict=True) if not res["success"]]
    again = sf.restful(UPSERT_ITEMS, method="PATCH", json={"allOrNone": False, "records": retry})
    assert all(r["success"] and r["created"] for r in again)
