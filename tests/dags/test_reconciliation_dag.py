"""The reconciliation DAG end to end against the sandbox: drift made on purpose is reported, exactly.

Both stand-ins are reset and seeded, Salesforce is brought in step with NetSuite's contracts and items
(what the nightly flows would do), then drift is created through the stand-ins' APIs and the DAG runs
in-process with ``dag.test``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from crsync.queries import to_18_char_id

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "crsync_reconciliation"
NS, SF = "netsuite", "salesforce"
STATUS = {
    1: "Pending",
    2: "Active",
    3: "Renewal Generated",
    4: "Renewal Processed",
    5: "Renewal Rejected",
    6: "Canceled",
    7: "Closed",
}
STATE = {1: "Future", 2: "Active", 3: "Expired"}
UNKNOWN_OPPORTUNITY = to_18_char_id("006000000000ZZZ")


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def _hooks():
    from crsync_provider.hooks.netsuite import NetSuiteHook
    from crsync_provider.hooks.salesforce import SalesforceSyncHook

    return NetSuiteHook("netsuite_default"), SalesforceSyncHook("salesforce_default")


def _ok(results):
    failed = [r for r in results if not r.get("success")]
    assert not failed, failed
    return [r["id"] for r in results]


def _mirror_contracts(ns, sf) -> None:
    """Upsert every NetSuite contract and contract item into Salesforce, as the nightly flows would."""
    contracts = list(
        ns.suiteql(
            "SELECT id, name, custrecord_contracts_bill_to_customer AS bill_to, "
            "TO_CHAR(custrecord_contracts_start_date, 'YYYY-MM-DD') AS start_date, "
            "TO_CHAR(custrecord_contracts_end_date, 'YYYY-MM-DD') AS end_date, "
            "custrecord_contract_status AS status, custrecord_swe_contract_value AS value "
            "FROM customrecord_contracts ORDER BY id"
        )
    )
    _ok(
        sf.upsert_collection(
            "Contract",
            "NetSuite_Id__c",
            [
                {
                    "NetSuite_Id__c": c["id"],
                    "NetSuite_Name__c": c["name"],
                    "Account": {"NetSuite_Id__c": c["bill_to"]},
                    "StartDate": c["start_date"],
                    "End_Date__c": c["end_date"],
                    "NetSuite_Status__c": STATUS[int(c["status"])],
                    "Contract_Value__c": float(c["value"]),
                }
                for c in contracts
            ],
        )
    )
    items = list(
        ns.suiteql(
            "SELECT id, name, custrecord_ci_contract_id AS contract, custrecord_ci_quantity AS quantity, "
            "TO_CHAR(custrecord_ci_startdate, 'YYYY-MM-DD') AS start_date, "
            "TO_CHAR(custrecord_ci_enddate, 'YYYY-MM-DD') AS end_date, custrecord_ci_state AS state "
            "FROM customrecord_contract_item ORDER BY id"
        )
    )
    _ok(
        sf.upsert_collection(
            "Contract_Item__c",
            "NetSuite_Id__c",
            [
                {
                    "NetSuite_Id__c": i["id"],
                    "Name": i["name"],
                    "Contract__r": {"NetSuite_Id__c": i["contract"]},
                    "Quantity__c": float(i["quantity"]),
                    "Start_Date__c": i["start_date"],
                    "End_Date__c": i["end_date"],
                    "Status__c": STATE[int(i["state"])],
                }
                for i in items
            ],
        )
    )


def _one(sf, soql: str) -> dict:
    rows = list(sf.query(soql, strip_attributes=True))
    assert len(rows) == 1, (soql, rows)
    return rows[0]


@pytest.fixture(scope="module")
def drift_made(sandbox, sandbox_env, airflow_db) -> dict:
    """Seeded, in-step systems plus one drift of each kind the test expects; returns the ids involved."""
    for system in (NS, SF):
        sandbox.control(system, "reset")
        sandbox.control(
            system,
            "governance",
            {"rate_429": 0, "rate_500": 0, "rate_503": 0, "rate_drop": 0, "latency_ms": 0},
        )
        sandbox.control(system, "seed", {})
    ns, sf = _hooks()
    _mirror_contracts(ns, sf)

    opps = {
        r["Order_Type__c"]: r
        for r in sf.query(
            "SELECT Id, Name, Order_Type__c, Sync_Status__c FROM Opportunity", strip_attributes=True
        )
    }
    fresh_processing = opps["Contract New"]["Id"]  # seeded Processing just now: not stuck
    unlinked, errored = opps["Contract Upsell"]["Id"], opps["Contract Renewal"]["Id"]

    # An Opportunity whose sync failed.
    _ok(
        sf.update_collection(
            "Opportunity",
            [
                {
                    "Id": errored,
                    "Sync_Status__c": "Error",
                    "Sync_Error__c": "Line 2: product has no NetSuite item id",
                }
            ],
        )
    )
    # An Opportunity in Processing since yesterday (Salesforce's clock moved back while it is queued).
    sandbox.control(SF, "clock", {"advance_days": -1})
    try:
        stuck = sandbox.control(
            SF, "seed", {"opportunities": 1, "sync_status": "Processing", "account_netsuite_id": "1004"}
        )["opportunity_ids"][0]
    finally:
        sandbox.control(SF, "clock", {"reset": True})

    # Sales orders: one made from an Opportunity Salesforce does not have, one whose Opportunity lacks the link.
    orders = [r["id"] for r in ns.suiteql("SELECT id FROM transaction WHERE type = 'SalesOrd' ORDER BY id")]
    ns.update_record("salesOrder", orders[0], {"externalId": UNKNOWN_OPPORTUNITY})
    ns.update_record("salesOrder", orders[1], {"externalId": unlinked})

    # An Opportunity that points at a sales order NetSuite does not have (deleted by hand, say).
    dangling = sandbox.control(SF, "seed", {"opportunities": 1, "account_netsuite_id": "1004"})["opportunity_ids"][0]
    _ok(sf.update_collection("Opportunity", [{"Id": dangling, "NetSuite_Id__c": "987654"}]))

    # A NetSuite contract Salesforce does not have (no items).
    contract = next(
        iter(
            ns.suiteql(
                "SELECT id, custrecord_contracts_bill_to_customer AS bill_to "
                "FROM customrecord_contracts ORDER BY id"
            )
        )
    )
    new_contract = ns.create_record(
        "customrecord_contracts",
        {
            "name": "reconciliation-test",
            "custrecord_contracts_bill_to_customer": {"id": contract["bill_to"]},
            "custrecord_contracts_end_user": {"id": contract["bill_to"]},
            "custrecord_contracts_start_date": "2026-01-01",
            "custrecord_contracts_end_date": "2026-12-31",
            "custrecord_contract_status": {"id": "1"},
            "custrecord_swe_contract_type": {"id": "1"},
        },
    )
    assert new_contract

    # A Salesforce Contract whose end date was changed by hand, and one NetSuite does not know.
    changed = _one(
        sf, f"SELECT Id, NetSuite_Id__c, End_Date__c FROM Contract WHERE NetSuite_Id__c = '{contract['id']}'"
    )
    _ok(sf.update_collection("Contract", [{"Id": changed["Id"], "End_Date__c": "2030-01-31"}]))
    orphan = _ok(
        sf.upsert_collection(
            "Contract",
            "NetSuite_Id__c",
            [
                {
                    "NetSuite_Id__c": "99999",
                    "Account": {"NetSuite_Id__c": "1001"},
                    "StartDate": "2026-01-01",
                    "NetSuite_Status__c": "Active",
                }
            ],
        )
    )[0]

    # A Salesforce contract item whose quantity differs.
    item = _one(sf, "SELECT Id, NetSuite_Id__c, Quantity__c FROM Contract_Item__c WHERE NetSuite_Id__c = '2'")
    _ok(
        sf.update_collection("Contract_Item__c", [{"Id": item["Id"], "Quantity__c": item["Quantity__c"] + 7}])
    )

    return {
        "errored": errored,
        "stuck": stuck,
        "fresh_processing": fresh_processing,
        "unlinked": unlinked,
        "dangling": dangling,
        "orders": orders[:2],
        "new_contract": str(new_contract),
        "changed_contract": (contract["id"], changed["Id"]),
        "orphan_contract": orphan,
        "item": item["Id"],
    }


def _run(dag, tmp_path, monkeypatch, conf: dict, day: int):
    monkeypatch.setenv("CRSYNC_REPORTS_PATH", f"file://{tmp_path}/reports")
    dag_run = dag.test(run_conf=conf, logical_date=dt.datetime(2026, 3, day, 4, tzinfo=dt.UTC))
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), dag_run.state
    folders = list((tmp_path / "reports" / DAG_ID).iterdir())
    assert len(folders) == 1, folders
    return dag_run, folders[0]


def _drift_rows(folder: Path) -> list[dict]:
    with (folder / "drift.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _status(sf, opp_id: str) -> str:
    return _one(sf, f"SELECT Id, Sync_Status__c FROM Opportunity WHERE Id = '{opp_id}'")["Sync_Status__c"]


def test_report_lists_exactly_the_drift_made(dag, drift_made, tmp_path, monkeypatch):
    d = drift_made
    dag_run, folder = _run(dag, tmp_path, monkeypatch, {}, day=1)

    found = {(r["kind"], r["netsuite_id"], r["salesforce_id"], r["field"]) for r in _drift_rows(folder)}
    contract_id, changed_sf_id = d["changed_contract"]
    assert found == {
        ("opportunity_error", "", d["errored"], "Sync_Error__c"),
        ("opportunity_stuck", "", d["stuck"], "LastModifiedDate"),
        ("sales_order_unknown_opportunity", d["orders"][0], UNKNOWN_OPPORTUNITY, "externalid"),
        ("sales_order_unlinked", d["orders"][1], d["unlinked"], "NetSuite_Id__c"),
        ("opportunity_order_missing", "987654", d["dangling"], "NetSuite_Id__c"),
        ("contract_missing_in_salesforce", d["new_contract"], "", ""),
        ("contract_different", contract_id, changed_sf_id, "End_Date__c"),
        ("contract_missing_in_netsuite", "99999", d["orphan_contract"], ""),
        ("contract_item_different", "2", d["item"], "Quantity__c"),
    }
    rows = _drift_rows(folder)
    error = next(r for r in rows if r["kind"] == "opportunity_error")
    assert "Line 2: product has no NetSuite item id" in error["message"]
    assert folder.name == dag_run.run_id.replace(":", "_").replace("+", "_")

    summary = json.loads((folder / "summary.json").read_text())
    assert summary["total"] == 9
    assert (
        summary["counts"]["contract_item_different"] == 1
        and summary["counts"]["sales_order_link_mismatch"] == 0
    )
    assert summary["reports"]["csv"].endswith("drift.csv")
    page = (folder / "report.html").read_text()
    assert "opportunity_error" in page and "drift.csv" in page

    # Reporting wrote nothing: the Error Opportunity is still in Error, no repair file.
    _, sf = _hooks()
    assert _status(sf, d["errored"]) == "Error"
    assert not (folder / "repair.csv").exists()


def test_repair_requeues_error_and_stuck_opportunities(dag, drift_made, tmp_path, monkeypatch):
    d = drift_made
    _, folder = _run(dag, tmp_path, monkeypatch, {"repair": True}, day=2)
    _, sf = _hooks()
    assert _status(sf, d["errored"]) == "Processing"
    assert _status(sf, d["stuck"]) == "Processing"
    with (folder / "repair.csv").open(newline="", encoding="utf-8") as handle:
        repaired = {r["salesforce_id"]: r["requeued"] for r in csv.DictReader(handle)}
    assert repaired == {d["errored"]: "True", d["stuck"]: "True"}


def test_fail_on_drift_fails_the_run(dag, drift_made, tmp_path, monkeypatch):
    monkeypatch.setenv("CRSYNC_REPORTS_PATH", f"file://{tmp_path}/reports")
    dag_run = dag.test(
        run_conf={"fail_on_drift": True}, logical_date=dt.datetime(2026, 3, 3, 4, tzinfo=dt.UTC)
    )
    assert "failed" in str(dag_run.state).lower()
    # The report was still written before the run failed.
    (folder,) = list((tmp_path / "reports" / DAG_ID).iterdir())
    assert len(_drift_rows(folder)) >= 6
