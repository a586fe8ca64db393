"""Bulk API 2.0 ingest through ``sf.bulk2``: 5,000-row upsert, results CSVs, failures, request counts."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from cr_sandbox.process import RunningSandbox

JOBS = "/services/data/vXX.X/jobs/ingest"


@pytest.fixture(autouse=True)
def parent_contracts(sf: Salesforce) -> None:
    for ns_id in ("B1", "B2"):
        sf.Contract.upsert(f"NetSuite_Id__c/{ns_id}", {"Account": {"NetSuite_Id__c": "1004"},
                                                       "StartDate": "2025-01-01", "ContractTerm": 12})


def _csv(rows: int, start: int = 0, contract: str = "B1", quantity: int = 1) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["NetSuite_Id__c", "Name", "Contract__r.NetSuite_Id__c", "Product__r.NetSuite_Id__c",
                     "Quantity__c", "Start_Date__c", "End_Date__c", "Status__c", "Last_Synced__c"])
    for n in range(start, start + rows):
        writer.writerow([f"B{n}", f"{n:08d}", contract, "505", quantity, "2025-01-01", "2025-12-31", "Active",
                         "2025-01-02T03:04:05.000Z"])
    return out.getvalue()


def test_bulk2_upsert_5000_rows(sf: Salesforce, request_counts):
    before = {k: request_counts(m, p) for k, (m, p) in {
        "create": ("POST", JOBS), "upload": ("PUT", f"{JOBS}/{{jobId}}/batches"),
        "close": ("PATCH", f"{JOBS}/{{jobId}}"), "poll": ("GET", f"{JOBS}/{{jobId}}")}.items()}
    [result] = sf.bulk2.Contract_Item__c.upsert(records=list(csv.DictReader(io.StringIO(_csv(5000)))),
                                                external_id_field="NetSuite_Id__c", wait=0.2)
    assert result["numberRecordsProcessed"] == 5000 and result["numberRecordsFailed"] == 0
    assert result["numberRecordsTotal"] == 5000
    after = {"create": request_counts("POST", JOBS), "upload": request_counts("PUT", f"{JOBS}/{{jobId}}/batches"),
             "close": request_counts("PATCH", f"{JOBS}/{{jobId}}"), "poll": request_counts("GET", f"{JOBS}/{{jobId}}")}
    # One job: create, one CSV upload, UploadComplete, then one poll that already sees JobComplete and the
    # final job read of simple-salesforce.
    assert {k: after[k] - before[k] for k in after} == {"create": 1, "upload": 1, "close": 1, "poll": 2}
    successful = list(csv.DictReader(io.StringIO(sf.bulk2.Contract_Item__c.get_successful_records(result["job_id"]))))
    assert len(successful) == 5000 and successful[0]["sf__Created"] == "true"
    assert successful[0]["sf__Id"].startswith("a0X") and "NetSuite_Id__c" in successful[0]
    rows = sf.query_all("SELECT Id, Contract__r.NetSuite_Id__c, Last_Synced__c FROM Contract_Item__c "
                        "WHERE Contract__r.NetSuite_Id__c = 'B1'")["records"]
    assert len(rows) == 5000 and rows[0]["Last_Synced__c"] == "2025-01-02T03:04:05.000+0000"
    # The same file again updates: sf__Created is false.
    [again] = sf.bulk2.Contract_Item__c.upsert(records=list(csv.DictReader(io.StringIO(_csv(50)))),
                                               external_id_field="NetSuite_Id__c", wait=0.2)
    again_rows = list(csv.DictReader(io.StringIO(sf.bulk2.Contract_Item__c.get_successful_records(again["job_id"]))))
    assert {r["sf__Created"] for r in again_rows} == {"false"}


def test_bulk2_reports_failed_rows_with_sf_error(sf: Salesforce):
    rows = list(csv.DictReader(io.StringIO(_csv(3, 90_000))))
    rows[0]["Contract__r.NetSuite_Id__c"] = "nope"
    rows[1]["Status__c"] = "Sleeping"
    [result] = sf.bulk2.Contract_Item__c.upsert(records=rows, external_id_field="NetSuite_Id__c", wait=0.2)
    assert result["numberRecordsProcessed"] == 3 and result["numberRecordsFailed"] == 2
    everything = sf.bulk2.Contract_Item__c.get_all_ingest_records(result["job_id"])
    assert len(everything["successfulRecords"]) == 1 and everything["unprocessedRecords"] == []
    errors = sorted(r["sf__Error"] for r in everything["failedRecords"])
    assert errors[0].startswith("INVALID_FIELD:Foreign key external ID: nope not found")
    assert errors[1].startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:")


def test_bulk2_bad_header_fails_the_job(sf: Salesforce):
    with pytest.raises(SalesforceOperationError, match="Field name not found : Bogus__c"):
        sf.bulk2.Contract_Item__c.insert(records=[{"Name": "x", "Bogus__c": "1"}], wait=0.2)


def test_bulk2_insert_update_delete_and_lock_faults(sf: Salesforce, sf_sandbox: RunningSandbox):
    [inserted] = sf.bulk2.Account.insert(records=[{"Name": f"Bulk {n}", "NetSuite_Id__c": f"BK{n}"} for n in range(20)],
                                         wait=0.2)
    ids = [r["sf__Id"] for r in csv.DictReader(io.StringIO(sf.bulk2.Account.get_successful_records(
        inserted["job_id"])))]
    assert len(ids) == 20
    sf_sandbox.control("salesforce", "governance", {"rate_unable_to_lock_row": 1.0})
    try:
        [locked] = sf.bulk2.Account.update(records=[{"Id": i, "Name": "Renamed"} for i in ids], wait=0.2)
    finally:
        sf_sandbox.control("salesforce", "governance", {"rate_unable_to_lock_row": 0.0})
    assert locked["numberRecordsFailed"] == 20
    failed = sf.bulk2.Account.get_failed_records(locked["job_id"])
    assert failed.count("UNABLE_TO_LOCK_ROW") == 20
    [deleted] = sf.bulk2.Account.delete(records=[{"Id": i} for i in ids], wait=0.2)
    assert deleted["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Account WHERE NetSuite_Id__c LIKE 'BK%'")["totalSize"] == 0


@pytest.mark.slow
def test_bulk2_20000_contract_items_is_quick(sf: Salesforce):
    [result] = sf.bulk2.Contract_Item__c.upsert(records=list(csv.DictReader(io.StringIO(_csv(20_000, 100_000, "B2")))),
                                                external_id_field="NetSuite_Id__c", wait=0.2)
    assert result["numberRecordsProcessed"] == 20_000 and result["numberRecordsFailed"] == 0
    rows = sf.query_all("SELECT Id, NetSuite_Id__c FROM Contract_Item__c WHERE Contract__r.NetSuite_Id__c = 'B2'")
    assert rows["totalSize"] == 20_000
