"""Issue 13 finding 11: errors that retrying cannot fix fail the task at once, without Airflow's retries
(the DAGs retry twice otherwise), with a message that says what to fix. Real dag.test() runs of the hourly
DAG against both stand-ins over HTTPS."""

from __future__ import annotations

import json
import os

import pytest

DAG_ID = "sf_opportunity_to_ns_sales_order"
DEFAULT_CONF = {"opportunity_ids": [], "mode": "queued", "dry_run": False}
NS_CONN_VAR = "AIRFLOW_CONN_NETSUITE_DEFAULT"
SF_CONN_VAR = "AIRFLOW_CONN_SALESFORCE_DEFAULT"


def with_extra(var: str, **extra: str) -> str:
    conn = json.loads(os.environ[var])
    conn["extra"] = {**conn.get("extra", {}), **extra}
    return json.dumps(conn)


def wrong_tba_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NS_CONN_VAR, with_extra(NS_CONN_VAR, token_secret="not-the-secret"))


def no_netsuite_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NS_CONN_VAR)


def wrong_salesforce_session(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = json.loads(os.environ[SF_CONN_VAR])
    if conn.get("extra", {}).get("session_id"):
        conn["extra"]["session_id"] = "00D000000000000!wrong"
    else:
        conn["password"] = "00D000000000000!wrong"
    monkeypatch.setenv(SF_CONN_VAR, json.dumps(conn))


CASES = {
    "wrong TBA token secret": (wrong_tba_secret, {}, ["INVALID_LOGIN", "netsuite_default"]),
    "missing NetSuite connection": (no_netsuite_connection, {}, ["netsuite_default", "Admin > Connections"]),
    "wrong Salesforce session": (wrong_salesforce_session, {}, ["INVALID_SESSION_ID", "salesforce_default"]),
    "bad id checksum": (
        lambda mp: None,
        {"opportunity_ids": ["0065g00000AbCdEAAA"]},
        ["checksum should be AAV", "opportunity_ids"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_errors_retrying_cannot_fix_fail_after_one_try(
    case, fresh_sandbox, flow_dags, monkeypatch, caplog, capfd
):
    break_it, conf, says = CASES[case]
    fresh_sandbox.control("salesforce", "seed", {"opportunities": 1, "order_type": "Contract New"})
    break_it(monkeypatch)

    run = flow_dags[DAG_ID].test(run_conf={**DEFAULT_CONF, **conf}, logical_date=None)

    assert run.state == "failed"
    tis = run.get_task_instances()
    failed = [ti for ti in tis if ti.state == "failed"]
    assert failed, {ti.task_id: ti.state for ti in tis}
    assert [(ti.task_id, ti.try_number) for ti in failed] == [(ti.task_id, 1) for ti in failed]  # no retries
    assert not [ti for ti in tis if ti.state == "up_for_retry"]
    output = capfd.readouterr()
    logged = caplog.text + output.out + output.err
    for text in says:
        assert text in logged, f"{text!r} not in the task log"
