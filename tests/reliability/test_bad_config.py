"""Bad configuration and bad replies: params, settings, credentials, replies that are not JSON, and a
nightly contract without a Salesforce Account. Each fails with a message naming the fix; nothing else
is affected, nothing is written twice."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    CONTRACT_DAG,
    NS,
    NS_SOURCE_CONF,
    OPP_DAG,
    SF,
    opportunities,
    orders_by_external_id,
)

ROOT = Path(__file__).resolve().parents[2]


def _total(sandbox, system: str) -> int:
    return sandbox.control(system, "stats", method="GET")["total"]


# ------------------------------------------------------------------------------ params


INJECTIONS = [
    {"opportunity_ids": ["0065g00000AbCdE' OR Name LIKE '%"]},
    {"opportunity_ids": ["006000000000001AAA') OR (Id != '"]},
    {"opportunity_ids": ["0065g00000AbCdEAA2; DELETE FROM Opportunity"]},
    {"opportunity_ids": ["0065g00000AbCdE\\' OR Id != null"]},
    {"mode": "queued' OR '1'='1"},
]


@pytest.mark.parametrize("bad", INJECTIONS, ids=lambda b: json.dumps(b)[:40])
def test_injection_in_params_is_refused_by_the_schema(flow_dags, bad):
    from airflow.sdk.definitions.param import ParamValidationError

    params = copy.deepcopy(flow_dags[OPP_DAG].params)
    with pytest.raises(ParamValidationError):
        for key, value in bad.items():
            params[key] = value
        params.validate()


@pytest.mark.parametrize(
    "ids",
    [["0065g00000AbCdE' OR Name LIKE '%"], ["006000000000001AAA') OR (Id != '"], ["001000000000001AAA"]],
)
def test_injection_is_refused_again_where_queries_are_built(ids):
    """Defence in depth: even past the form, ``crsync.queries`` refuses the ids before any query exists."""
    from crsync.queries import opportunities_soql, validate_netsuite_ids

    with pytest.raises(ValueError, match="Salesforce id|prefix|Opportunity|not"):
        opportunities_soql("ids", ids=ids)
    with pytest.raises(ValueError, match="positive integer|not"):
        validate_netsuite_ids(["101 OR 1=1"])


# ------------------------------------------------------------------------------ settings


def _settings_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "include/crsync/settings.yaml").read_text()
    assert old in text, old
    path = tmp_path / "settings.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


BAD_SETTINGS = [
    # (what is replaced, by what, fragments of the error)
    ("Contract Upsell:", "Contract Upsel:", ["order_type_map", "Contract Upsel", "expected one of"]),
    ("suiteql_page: 1000", "suiteql_page: 5000", ["suiteql_page"]),
    ("suiteql_page: 1000", "suiteql_page: [1000", ["line"]),
    ("suiteql_page: 1000", "suiteql_page: 1000\n  suiteql_page: 900", ["suiteql_page", "duplicate"]),
]


@pytest.mark.parametrize(
    "old,new,fragments", BAD_SETTINGS, ids=["typo_key", "out_of_range", "syntax", "duplicate"]
)
def test_malformed_settings_name_line_and_reason(tmp_path, old, new, fragments):
    from crsync.settings import load_settings

    path = _settings_with(tmp_path, old, new)
    with pytest.raises(Exception) as failure:
        load_settings(path)
    message = str(failure.value)
    assert str(path) in message and "line" in message, message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message


def test_malformed_settings_fail_the_run_before_any_api_call(
    fresh, run_opportunity_flow, tmp_path, monkeypatch, sf_api
):
    opp_ids = fresh.control(SF, "seed", {"opportunities": 2})["opportunity_ids"]
    path = _settings_with(tmp_path, "Contract Upsell:", "Contract Upsel:")
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(path))
    fresh.control(NS, "stats/reset")
    before_sf = _total(fresh, SF)

    started = time.monotonic()
    run = run_opportunity_flow()

    assert run.state == "failed"
    # Regression: a settings error used to be retried (retries=2, 1 min apart): ~4 minutes to fail.
    assert time.monotonic() - started < 60
    assert _total(fresh, NS) == 0
    assert _total(fresh, SF) == before_sf  # not even the extract query
    monkeypatch.delenv("CRSYNC_SETTINGS_FILE")
    assert {o["Sync_Status__c"] for o in opportunities(sf_api, opp_ids).values()} == {"Processing"}


# ------------------------------------------------------------------------------ credentials


def test_wrong_netsuite_token_secret_is_one_request_and_a_clear_error(fresh, monkeypatch):
    from crsync_provider.hooks.netsuite import NetSuiteAuthError, NetSuiteHook

    definition = json.loads(os.environ["AIRFLOW_CONN_NETSUITE_DEFAULT"])
    definition["extra"]["token_secret"] = "not-the-token-secret"
    monkeypatch.setenv("AIRFLOW_CONN_NS_WRONG_SECRET", json.dumps(definition))
    fresh.control(NS, "stats/reset")

    with pytest.raises(NetSuiteAuthError) as failure:
        NetSuiteHook("ns_wrong_secret").suiteql_page("SELECT id FROM customer", limit=1)

    assert failure.value.code == "INVALID_LOGIN"
    assert "INVALID_LOGIN" in str(failure.value) and failure.value.status == 401
    assert _total(fresh, NS) == 1  # no retry of an authentication failure


def test_bad_salesforce_session_says_to_renew_it(fresh, monkeypatch):
    from crsync_provider.hooks.salesforce import SalesforceSessionError, SalesforceSyncHook

    definition = json.loads(os.environ["AIRFLOW_CONN_SALESFORCE_DEFAULT"])
    definition["extra"]["session_id"] = "expired-session-token"
    monkeypatch.setenv("AIRFLOW_CONN_SF_EXPIRED", json.dumps(definition))
    before = _total(fresh, SF)

    with pytest.raises(SalesforceSessionError) as failure:
        list(SalesforceSyncHook("sf_expired").query("SELECT Id FROM Account"))

    assert "INVALID_SESSION_ID" in str(failure.value)
    assert "renew it" in str(failure.value)
    assert _total(fresh, SF) == before + 1


# ------------------------------------------------------------------------------ replies that are not JSON


def test_netsuite_reply_that_is_not_json_is_retried_then_reported(fresh, monkeypatch):
    from crsync_provider.hooks.netsuite import NetSuiteHook, NetSuiteUnexpectedReplyError

    fresh.control(NS, "governance", {"rate_not_json": 1.0})
    fresh.control(NS, "stats/reset")
    hook = NetSuiteHook(max_attempts=3, backoff_base=0.01, backoff_max=0.05)
    try:
        with pytest.raises(NetSuiteUnexpectedReplyError) as failure:
            hook.suiteql_page("SELECT id FROM customer", limit=1)
    finally:
        fresh.control(NS, "governance", {"rate_not_json": 0})
    message = str(failure.value)
    assert "did not answer like NetSuite (HTTP 200, text/html)" in message and "account id/host" in message
    assert "<html" not in message.lower()  # the page itself is never repeated
    assert _total(fresh, NS) == 3  # retried (the page says nothing about the request), then reported


def test_salesforce_reply_that_is_not_json_is_retried_then_reported(fresh):
    from crsync_provider.hooks.salesforce import SalesforceServerError, SalesforceSyncHook

    fresh.control(SF, "governance", {"rate_not_json": 1.0})
    try:
        with pytest.raises(SalesforceServerError) as failure:
            list(SalesforceSyncHook(max_attempts=2, backoff_base=0.01).query("SELECT Id FROM Account"))
    finally:
        fresh.control(SF, "governance", {"rate_not_json": 0})
    assert failure.value.code == "UNEXPECTED_REPLY"
    assert "not JSON" in str(failure.value) and "instance_url" in str(failure.value)
    assert "<" not in str(failure.value)  # the page itself is never repeated (as for NetSuite, finding 10)


def test_occasional_html_replies_lose_nothing_and_duplicate_nothing(
    fresh, run_opportunity_flow, ns_sql, sf_api
):
    """A 200 HTML page on a write must not count as written (it was not): retried, exactly one order."""
    opp_ids = fresh.control(SF, "seed", {"opportunities": 20})["opportunity_ids"]
    fresh.control(NS, "governance", {"rate_not_json": 0.15, "seed": 3})
    fresh.control(SF, "governance", {"rate_not_json": 0.05, "seed": 3})
    try:
        run = run_opportunity_flow()
        injected = fresh.control(NS, "stats", method="GET")["injected_faults"]
    finally:
        fresh.control(NS, "governance", {"rate_not_json": 0})
        fresh.control(SF, "governance", {"rate_not_json": 0})
    assert injected.get("not_json", 0) > 0
    assert run.state == "success"
    assert orders_by_external_id(ns_sql, opp_ids) == {i: 1 for i in opp_ids}
    synced = opportunities(sf_api, opp_ids)
    assert all(o["Sync_Status__c"] == "Synced" and o["NetSuite_Id__c"] for o in synced.values())


# ------------------------------------------------------------------------------ nightly


def _task_result(run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.sdk.execution_time.xcom import resolve_xcom_backend
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key="return_value")
    with create_session() as session:
        rows = session.scalars(query).all()
        assert rows, f"no result for {task_id}"
        return resolve_xcom_backend().deserialize_value(rows[0])


def test_nightly_contract_without_salesforce_account_fails_alone(fresh, flow_dags, ns_sql, sf_api):
    fresh.control(NS, "seed", {"contracts": 3, "items_per_contract": 1, "estimates": 0})
    contracts = ns_sql(
        "SELECT id, custrecord_contracts_bill_to_customer AS customer FROM customrecord_contracts ORDER BY id"
    )
    assert len(contracts) == 3
    orphan = contracts[0]
    account = sf_api.query(f"SELECT Id FROM Account WHERE NetSuite_Id__c = '{orphan['customer']}'")["records"]
    sf_api.Account.update(account[0]["Id"], {"NetSuite_Id__c": None})  # the customer has no Account now
    others = [c["id"] for c in contracts if c["customer"] != orphan["customer"]]

    run = flow_dags[CONTRACT_DAG].test(run_conf={**NS_SOURCE_CONF, "full_resync": True}, logical_date=None)

    assert run.state == "failed"
    summary = _task_result(run, "link_opportunities")
    assert summary["failures_by_code"] == {"missing_account": len(contracts) - len(others)}
    failure = summary["first_failures"][0]
    assert failure["key"] == orphan["id"]
    assert "has no Salesforce Account" in failure["message"]
    loaded = sf_api.query_all("SELECT NetSuite_Id__c FROM Contract")["records"]
    assert sorted(r["NetSuite_Id__c"] for r in loaded) == sorted(others)  # each once, the orphan not at all
