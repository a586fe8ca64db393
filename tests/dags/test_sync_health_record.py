"""What the flows record for the sync health page (crsync.runtime.health_log), through real dag.test() runs
against the stand-ins: a refused Opportunity becomes an open error with what to fix; once fixed and sent
again it leaves; a dry run records nothing. The latest reconciliation is kept too, and the page's reader
(crsync_health.health_data) finds its report's rows."""

from __future__ import annotations

import json

import pytest

DAG_ID = "sf_opportunity_to_ns_sales_order"
CONF = {"opportunity_ids": [], "mode": "queued", "dry_run": False}


def _open_errors() -> dict:
    from airflow.models.variable import Variable

    return json.loads(Variable.get(f"{DAG_ID}.open_errors", default_var=None) or "{}")


@pytest.fixture
def no_open_errors(airflow_db):
    from airflow.models.variable import Variable

    from crsync.runtime.health_log import RECONCILIATION_VARIABLE

    names = (f"{DAG_ID}.open_errors", RECONCILIATION_VARIABLE)
    for name in names:
        Variable.delete(name)
    yield
    for name in names:
        Variable.delete(name)


def test_refused_opportunity_is_an_open_error_until_a_run_writes_it(
    fresh_sandbox, flow_dags, sf_api, no_open_errors, tmp_path, monkeypatch
):
    dag = flow_dags[DAG_ID]
    (bad,) = fresh_sandbox.control(
        "salesforce", "seed", {"opportunities": 1, "order_type": "Contract Upsell"}
    )["opportunity_ids"]
    (good,) = fresh_sandbox.control("salesforce", "seed", {"opportunities": 1, "order_type": "Contract New"})[
        "opportunity_ids"
    ]

    dry = dag.test(run_conf={**CONF, "dry_run": True}, logical_date=None)
    assert dry.state == "success"
    assert _open_errors() == {}  # a dry run tried nothing

    failed = dag.test(run_conf=CONF, logical_date=None)
    assert failed.state == "failed"
    health = _open_errors()
    (row,) = health["errors"]
    assert row["key"] == bad and row["run_id"] == failed.run_id
    assert "Contract" in row["message"] and row["first_seen"] == row["last_tried"]
    assert health["last_run"]["run_id"] == failed.run_id
    assert (health["last_run"]["created"], health["last_run"]["failed"]) == (1, 1)
    assert good not in {e["key"] for e in health["errors"]}

    # The reconciliation reports the Opportunity in Error; the page reads its counts and rows.
    from crsync_health.health_data import latest_reconciliation

    monkeypatch.setenv("CRSYNC_REPORTS_PATH", f"file://{tmp_path}/reports")
    reconciled = flow_dags["crsync_reconciliation"].test(run_conf={}, logical_date=None)
    assert reconciled.state == "success"
    latest = latest_reconciliation()
    assert latest["run_id"] == reconciled.run_id and latest["rows_error"] == ""
    assert latest["counts"]["opportunity_error"] == 1 and latest["total"] == len(latest["rows"])
    (error_row,) = [r for r in latest["rows"] if r["kind"] == "opportunity_error"]
    assert error_row["salesforce_id"] == bad and "kind" in latest["columns"]

    # Fixed in Salesforce and queued again (what Create NetSuite Order does), then sent by id.
    sf_api.Opportunity.update(bad, {"Order_Type__c": "Contract New", "Sync_Status__c": "Processing"})
    retried = dag.test(run_conf={**CONF, "opportunity_ids": [bad]}, logical_date=None)
    assert retried.state == "success"
    health = _open_errors()
    assert health["errors"] == []
    assert health["last_run"]["run_id"] == retried.run_id and health["last_run"]["created"] == 1
