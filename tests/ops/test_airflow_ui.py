"""`make up` end to end through Airflow's REST API v2: the DAGs are listed with no import errors, a run
triggered with params (as the UI's trigger form sends them) succeeds against the sandbox, and invalid
params are refused by the API before any run exists."""

from __future__ import annotations

import re

import pytest
import requests

from tests.ops.conftest import FLOW_DAG_IDS, AirflowStack

pytestmark = pytest.mark.slow

DAG_ID = "sf_opportunity_to_ns_sales_order"


def test_banner_prints_the_ui_url_and_the_generated_login(airflow_stack: AirflowStack):
    out = airflow_stack.output()
    assert f"Airflow UI:  {airflow_stack.api_url}" in out
    assert re.search(rf"Login:\s+admin / {re.escape(airflow_stack.password())}\b", out)
    assert "bin/airflow dags unpause" in out
    # Which connection each id resolves to: here the sandbox's (created by bin/setup-airflow), host only.
    ns_url, sf_url = airflow_stack.sandbox.netsuite_url, airflow_stack.sandbox.salesforce_url
    assert f"netsuite_default: sandbox (metadata DB), {ns_url}" in out
    assert f"salesforce_default: sandbox (metadata DB), {sf_url}" in out
    assert airflow_stack.sandbox.netsuite.consumer_secret not in out


def test_make_up_creates_the_airflow_api_connection_the_pool_check_reads_the_pool_with(airflow_stack: AirflowStack):
    assert f"Pool check:  airflow_api: created ({airflow_stack.api_url}, user admin)" in airflow_stack.output()
    conn = airflow_stack.api_json("GET", "/connections/airflow_api")
    assert (conn["conn_type"], conn["host"], conn["login"]) == ("http", airflow_stack.api_url, "admin")
    # What the pool check does with it (crsync.runtime.pools): a token for its login, then the pool.
    token = requests.post(
        f"{airflow_stack.api_url}/auth/token",
        json={"username": "admin", "password": airflow_stack.password()},
        timeout=30,
    ).json()["access_token"]
    pool = requests.get(
        f"{airflow_stack.api_url}/api/v2/pools/netsuite_api", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert pool.status_code == 200 and pool.json()["slots"] >= 1


def test_flow_dags_listed_without_import_errors_and_paused_at_creation(airflow_stack: AirflowStack):
    listed = airflow_stack.listed_dags(set(FLOW_DAG_IDS))
    assert set(FLOW_DAG_IDS) <= listed, f"listed: {sorted(listed)}"
    errors = airflow_stack.api_json("GET", "/importErrors")
    assert errors["total_entries"] == 0, errors["import_errors"]
    for dag_id in FLOW_DAG_IDS:
        dag = airflow_stack.api_json("GET", f"/dags/{dag_id}")
        assert dag["is_paused"] is True, f"{dag_id} should be paused at creation"
        assert dag["has_import_errors"] is False


def test_triggered_run_with_params_syncs_the_opportunity(airflow_stack: AirflowStack):
    airflow_stack.listed_dags({DAG_ID})
    seeded = airflow_stack.control("salesforce", "seed", {"opportunities": 1, "order_type": "Contract New"})
    (opp_id,) = seeded["opportunity_ids"]
    unpaused = airflow_stack.api_json("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    assert unpaused["is_paused"] is False

    # Refused by the params' JSON schema, before any run exists (hence before any API call to either system).
    refused = airflow_stack.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={
            "logical_date": None,
            "conf": {
                "mode": "queued",
                "dry_run": False,
                "opportunity_ids": ["0065g00000AbCdE' OR Name LIKE '%"],
            },
        },
    )
    assert 400 <= refused.status_code < 500, refused.text
    assert "opportunity_ids" in refused.text
    assert airflow_stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns")["total_entries"] == 0

    triggered = airflow_stack.api_json(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={
            "logical_date": None,
            "conf": {"mode": "queued", "dry_run": False, "opportunity_ids": [opp_id]},
        },
    )
    assert triggered["run_type"] == "manual"
    run = airflow_stack.wait_for_run(DAG_ID, triggered["dag_run_id"], timeout=300)
    assert run["state"] == "success", airflow_stack.describe_run(DAG_ID, run["dag_run_id"])

    (opp,) = airflow_stack.soql(
        f"SELECT Id, Sync_Status__c, Sync_Error__c, NetSuite_Id__c FROM Opportunity WHERE Id = '{opp_id}'"
    )
    assert opp["Sync_Status__c"] == "Synced", opp
    orders = airflow_stack.suiteql(
        f"SELECT id FROM transaction WHERE type = 'SalesOrd' AND externalid = '{opp_id}'"
    )
    assert [o["id"] for o in orders] == [opp["NetSuite_Id__c"]]
    assert airflow_stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns")["total_entries"] == 1
