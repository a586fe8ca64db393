"""SalesforceSyncHook against the Salesforce stand-in over HTTPS: session mode, SOQL paging, collections,
Bulk 2.0, per-record errors, lock retries and fail-fast errors."""

from __future__ import annotations

import json
import math

import pytest
import requests

from crsync_provider.hooks.permanent import PermanentError
from crsync_provider.hooks.salesforce import (
    SalesforceLimitExceededError,
    SalesforceLoginError,
    SalesforceServerError,
    SalesforceSessionError,
    SalesforceSyncHook,
    bind_soql,
    soql_literal,
)
from crsync_provider.hooks.salesforce_errors import is_retryable

SF = "salesforce"


def accounts(n: int, prefix: str = "A") -> list[dict]:
    return [{"NetSuite_Id__c": f"{prefix}{i:05d}", "Name": f"Account {prefix}{i}"} for i in range(n)]


def test_soql_literals():
    from datetime import UTC, datetime

    assert soql_literal(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert soql_literal("O'Brien") == "'O\\'Brien'"
    assert bind_soql(
        "WHERE SystemModstamp >= :start AND Name = :n", {"start": datetime(2024, 1, 1), "n": "x"}
    ) == ("WHERE SystemModstamp >= 2024-01-01T00:00:00Z AND Name = 'x'")


def test_bind_soql_quotes_like_format_soql():
    """Lists become ``IN`` sets and control characters are escaped, as simple-salesforce's format_soql does."""
    assert bind_soql("WHERE Id IN :ids AND Name = :n", {"ids": ["006A", "006B"], "n": 'a\nb"c'}) == (
        "WHERE Id IN ('006A','006B') AND Name = 'a\\nb\\\"c'"
    )
    assert bind_soql("WHERE Name = :n AND x = :unbound AND y = '{x}'", {"n": None}) == (
        "WHERE Name = null AND x = :unbound AND y = '{x}'"
    )


@pytest.mark.parametrize("via_password", [False, True])
def test_session_mode_and_test_button(sf, salesforce_conn, via_password):
    sf.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(salesforce_conn(f"sf_session_{via_password}", via_password=via_password))
    ok, message = hook.test_connection()
    assert ok, message
    rows = list(hook.query("SELECT Id, Name, NetSuite_Id__c FROM Account ORDER BY NetSuite_Id__c"))
    assert len(rows) >= 8
    assert rows[0]["attributes"]["type"] == "Account"


def test_bad_session_fails_fast(sf, calls, salesforce_conn):
    hook = SalesforceSyncHook(salesforce_conn("sf_bad", token="not-the-token"))
    before = calls.snapshot(SF)
    with pytest.raises(SalesforceSessionError) as info:
        list(hook.query("SELECT Id FROM Account"))
    assert info.value.status == 401 and info.value.code == "INVALID_SESSION_ID"
    assert "session" in str(info.value).lower()
    assert calls.since(SF, before) == 1


def test_request_limit_exceeded_fails_fast(sf, calls, salesforce_conn):
    hook = SalesforceSyncHook(salesforce_conn())
    assert hook.test_connection()[0]  # the stand-in starts its day (and usage count) on the first call
    sf.control(SF, "governance", {"daily_api_limit": 5, "api_usage": 5})
    try:
        before = calls.snapshot(SF)
        with pytest.raises(SalesforceLimitExceededError) as info:
            hook.upsert_collection("Account", "NetSuite_Id__c", accounts(3))
        assert info.value.code == "REQUEST_LIMIT_EXCEEDED"
        assert calls.since(SF, before) == 1
    finally:
        sf.control(SF, "governance", {"daily_api_limit": 1_000_000, "api_usage": 0})


def test_query_follows_next_records_url_with_batch_size_and_children(sf, calls, salesforce_conn):
    sf.control(SF, "seed", {"opportunities": 450, "lines_per_opportunity": 2})
    hook = SalesforceSyncHook(salesforce_conn())
    before = calls.snapshot(SF)
    rows = list(
        hook.query(
            "SELECT Id, Name, (SELECT Id, Quantity FROM OpportunityLineItems) FROM Opportunity",
            batch_size=200,
            strip_attributes=True,
            flatten_children=True,
        )
    )
    assert len(rows) == 450
    assert len({r["Id"] for r in rows}) == 450
    assert all(len(r["OpportunityLineItems"]) == 2 for r in rows)
    assert "attributes" not in rows[0] and "attributes" not in rows[0]["OpportunityLineItems"][0]
    assert calls.since(SF, before, path_contains="/query") == 3  # 200 + 200 + 50


def test_collections_chunking_401_records_is_3_calls(sf, calls, salesforce_conn):
    sf.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(salesforce_conn())
    records = accounts(401, "C")
    before = calls.snapshot(SF)
    results = hook.upsert_collection("Account", "NetSuite_Id__c", records)
    assert calls.since(SF, before, path_contains="composite/sobjects") == 3
    assert len(results) == 401 and all(r["success"] and r["created"] for r in results)
    again = hook.upsert_write_results("Account", "NetSuite_Id__c", records[:5])
    assert [r["status"] for r in again] == ["updated"] * 5
    assert [r["external_id"] for r in again] == [r["NetSuite_Id__c"] for r in records[:5]]


def test_per_record_errors_are_surfaced_and_not_fatal(sf, salesforce_conn):
    sf.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(salesforce_conn())
    records = accounts(5, "E")
    del records[2]["Name"]  # required on create
    results = hook.upsert_write_results("Account", "NetSuite_Id__c", records)
    assert [r["status"] for r in results] == ["created", "created", "failed", "created", "created"]
    assert results[2]["error"]["code"] == "REQUIRED_FIELD_MISSING"
    assert results[2]["error"]["message"]
    assert results[2]["key"] == "E00002"


def test_delete_collection_chunks_ids_and_reports_per_record(sf, calls, salesforce_conn):
    hook = SalesforceSyncHook(salesforce_conn())
    created = hook.upsert_collection("Account", "NetSuite_Id__c", accounts(3, "D"))
    ids = [r["id"] for r in created]
    before = calls.snapshot(SF)
    results = hook.delete_collection(ids[:2], chunk_size=1)
    assert calls.since(SF, before) == 2
    assert [r["success"] for r in results] == [True, True] and [r["id"] for r in results] == ids[:2]
    again = hook.delete_collection([ids[0], ids[2]])
    assert again[0]["success"] is False and again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert again[1]["success"] is True
    left = list(hook.query("SELECT Id FROM Account WHERE NetSuite_Id__c LIKE 'D%'"))
    assert left == []


def test_unable_to_lock_row_records_are_retried(sf, salesforce_conn):
    sf.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(salesforce_conn(), lock_retry_attempts=6, backoff_base=0.01)
    sf.control(SF, "governance", {"rate_unable_to_lock_row": 0.3, "seed": 11})
    try:
        results = hook.upsert_collection("Account", "NetSuite_Id__c", accounts(150, "L"))
        injected = sf.control(SF, "stats", method="GET")["injected_faults"]
    finally:
        sf.control(SF, "governance", {"rate_unable_to_lock_row": 0})
    assert injected.get("UNABLE_TO_LOCK_ROW", 0) > 10, injected
    assert all(r["success"] for r in results), [r for r in results if not r["success"]][:3]


def test_retries_5xx_and_dropped_connections(sf, salesforce_conn):
    sf.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(salesforce_conn(), max_attempts=10, backoff_base=0.01)
    sf.control(SF, "governance", {"rate_503": 0.15, "rate_drop": 0.15, "seed": 5})
    try:
        results = hook.upsert_collection("Account", "NetSuite_Id__c", accounts(1000, "R"))
        rows = list(
            hook.query("SELECT NetSuite_Id__c FROM Account WHERE NetSuite_Id__c LIKE 'R%'", batch_size=200)
        )
        injected = sf.control(SF, "stats", method="GET")["injected_faults"]
    finally:
        sf.control(SF, "governance", {"rate_503": 0, "rate_drop": 0})
    assert injected.get("drop", 0) + injected.get("503", 0) >= 2, injected
    assert all(r["success"] for r in results)
    assert len(rows) == 1000 and len({r["NetSuite_Id__c"] for r in rows}) == 1000


def test_bulk_path_maps_results_back_in_order(sf, calls, salesforce_conn):
    sf.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(salesforce_conn())
    records = accounts(2500, "B")
    records[10]["Name"] = None  # required: fails
    existing = hook.upsert_collection("Account", "NetSuite_Id__c", records[:3])  # 3 updates
    assert all(r["created"] for r in existing)
    before = calls.snapshot(SF)
    results = hook.upsert_write_results("Account", "NetSuite_Id__c", records, bulk_threshold=2000)
    used = calls.since(SF, before)
    assert calls.since(SF, before, path_contains="composite") == 0
    assert used <= 6  # create, upload, close, poll, successful results (+ failed results)
    assert len(results) == 2500
    assert [r["external_id"] for r in results] == [r["NetSuite_Id__c"] for r in records]
    assert [r["status"] for r in results[:3]] == ["updated"] * 3
    assert results[10]["status"] == "failed" and results[10]["error"]["code"]
    assert sum(r["status"] == "created" for r in results) == 2496
    assert all(r["id"] for r in results if r["status"] != "failed")


def test_bulk_without_failures_is_at_most_5_calls(sf, calls, salesforce_conn):
    sf.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(salesforce_conn())
    before = calls.snapshot(SF)
    results = hook.upsert("Account", "NetSuite_Id__c", accounts(5000, "K"))
    assert all(r["success"] for r in results)
    assert calls.since(SF, before) <= 5
    assert math.ceil(5000 / 200) > 5


def test_soql_literals_of_lists_and_decimals():
    import datetime as dt
    from decimal import Decimal

    from crsync_provider.hooks.salesforce import soql_literal

    assert soql_literal(Decimal("1.50")) == "1.50"
    assert soql_literal([dt.datetime(2026, 1, 2, 3, 4, 5), "o'k"]) == "(2026-01-02T03:04:05Z,'o\\'k')"


class _LoginReply(requests.adapters.BaseAdapter):
    """Answers every request with one canned reply: ``login.salesforce.com`` in maintenance or refusing the
    password. The stand-in cannot be reached by simple-salesforce's login flows (they always go to
    ``*.salesforce.com``), so only ``requests`` is replaced here, not this project's code."""

    def __init__(self, status: int, content_type: str, body: str) -> None:
        super().__init__()
        self.status, self.content_type, self.body = status, content_type, body
        self.sent: list[str] = []

    def send(self, request, **kwargs):  # noqa: ANN001, ANN003
        self.sent.append(request.url)
        resp = requests.Response()
        resp.status_code, resp.url, resp.request = self.status, request.url, request
        resp.headers["Content-Type"] = self.content_type
        resp._content = self.body.encode()
        return resp

    def close(self) -> None:
        pass


SOAP_INVALID_LOGIN = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN'
    "</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out."
    "</faultstring><detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>"
    "Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault>"
    "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


@pytest.mark.parametrize("status", [503, 502, 500, 429])
def test_login_during_salesforce_maintenance_is_retried_not_a_credentials_error(monkeypatch, status):
    """A 429/5xx login reply (maintenance, overload) fails the attempt with a retryable error, not the
    permanent "fix the credentials" one (which would fail the task without Airflow's retries)."""
    monkeypatch.setenv("AIRFLOW_CONN_SF_LOGIN", json.dumps(
        {"conn_type": "salesforce", "login": "user@example.com", "password": "pw", "extra": {"security_token": "t"}}
    ))
    session = requests.Session()
    # A gateway's HTML page (not XML: simple-salesforce then reports the HTTP status as the code).
    reply = _LoginReply(status, "text/html", "<html><body>Down for maintenance<br></body></html>")
    session.mount("https://", reply)

    with pytest.raises(SalesforceServerError) as info:
        SalesforceSyncHook("sf_login", session=session).get_conn()

    assert info.value.retryable and is_retryable(info.value)
    assert not isinstance(info.value, PermanentError | SalesforceLoginError)
    assert info.value.status == status and f"HTTP {status}" in str(info.value)
    assert "maintenance" not in str(info.value).lower().split("(")[0]  # the page itself is not echoed
    assert reply.sent and reply.sent[0].startswith("https://login.salesforce.com/")


def test_refused_login_is_permanent_and_says_why(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SF_LOGIN_BAD", json.dumps(
        {"conn_type": "salesforce", "login": "user@example.com", "password": "bad", "extra": {"security_token": "t"}}
    ))
    session = requests.Session()
    session.mount("https://", _LoginReply(500, "text/xml", SOAP_INVALID_LOGIN))  # SOAP faults come as 500

    with pytest.raises(SalesforceLoginError) as info:
        SalesforceSyncHook("sf_login_bad", session=session).get_conn()

    assert isinstance(info.value, PermanentError)
    assert info.value.code == "INVALID_LOGIN"
    assert "Invalid username, password, security token" in str(info.value)
    assert "{content}" not in str(info.value)  # not simple-salesforce's unfilled message template
    assert "'sf_login_bad'" in str(info.value)


SOAP_SERVER_UNAVAILABLE = SOAP_INVALID_LOGIN.replace("INVALID_LOGIN", "SERVER_UNAVAILABLE")


def test_a_login_fault_saying_salesforce_is_unavailable_is_retried(monkeypatch):
    """A SOAP login fault (HTTP 500 with XML) carries Salesforce's code, not the HTTP status: the codes that
    mean "cannot serve logins now" are retried like a 5xx."""
    monkeypatch.setenv("AIRFLOW_CONN_SF_LOGIN_DOWN", json.dumps(
        {"conn_type": "salesforce", "login": "user@example.com", "password": "pw", "extra": {"security_token": "t"}}
    ))  # fmt: skip
    session = requests.Session()
    session.mount("https://", _LoginReply(500, "text/xml", SOAP_SERVER_UNAVAILABLE))

    with pytest.raises(SalesforceServerError) as info:
        SalesforceSyncHook("sf_login_down", session=session).get_conn()
    assert is_retryable(info.value) and "SERVER_UNAVAILABLE" in str(info.value)


def test_a_page_that_is_not_salesforces_login_reply_is_retried_and_not_echoed(monkeypatch):
    """A proxy's or maintenance page (well-formed markup, so no status from simple-salesforce) is retried
    like a 5xx, and its text never reaches the logs."""
    monkeypatch.setenv("AIRFLOW_CONN_SF_LOGIN_PROXY", json.dumps(
        {"conn_type": "salesforce", "login": "user@example.com", "password": "pw", "extra": {"security_token": "t"}}
    ))  # fmt: skip
    session = requests.Session()
    session.mount("https://", _LoginReply(403, "text/html", "<html>Blocked by corp-proxy-7 policy</html>"))

    with pytest.raises(SalesforceServerError) as info:
        SalesforceSyncHook("sf_login_proxy", session=session).get_conn()
    assert is_retryable(info.value) and "not Salesforce's" in str(info.value)
    assert "corp-proxy-7" not in str(info.value)
