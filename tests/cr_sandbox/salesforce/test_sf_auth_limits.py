"""Auth, limits and faults: bad token, OAuth client credentials, Sforce-Limit-Info, daily allowance, 5xx bodies."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from cr_sandbox.process import RunningSandbox


def test_bad_token_is_invalid_session(sf_sandbox: RunningSandbox, sf: Salesforce):
    bad = Salesforce(instance_url=sf_sandbox.salesforce_url, session_id="wrong", session=sf.session)
    with pytest.raises(SalesforceExpiredSession) as info:
        bad.query("SELECT Id FROM Account")
    assert info.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_client_credentials_token_reaches_the_api(sf_sandbox: RunningSandbox, sf: Salesforce):
    url = f"{sf_sandbox.salesforce_url}/services/oauth2/token"
    refused = sf.session.post(url, data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"
    granted = sf.session.post(url, data={"grant_type": "client_credentials", "client_id": "sandbox-sf-client-id",
                                         "client_secret": "sandbox-sf-client-secret"}).json()
    assert granted["instance_url"] == sf_sandbox.salesforce_url and granted["token_type"] == "Bearer"
    client = Salesforce(instance_url=granted["instance_url"], session_id=granted["access_token"], session=sf.session)
    assert client.query("SELECT COUNT() FROM Account")["totalSize"] == 8


def test_limit_header_limits_resource_and_daily_allowance(sf_sandbox: RunningSandbox, sf: Salesforce):
    sf.query("SELECT Id FROM Account LIMIT 1")
    used = sf.api_usage["api-usage"].used
    assert sf.api_usage["api-usage"].total == 100000 and used >= 1
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100000
    assert limits["DailyApiRequests"]["Remaining"] == 100000 - used - 1
    sf_sandbox.control("salesforce", "governance", {"daily_api_limit": used + 3})
    try:
        sf.query("SELECT Id FROM Account LIMIT 1")
        sf.query("SELECT Id FROM Account LIMIT 1")
        with pytest.raises(SalesforceRefusedRequest) as info:
            sf.query("SELECT Id FROM Account LIMIT 1")
        assert info.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        response = sf.session.get(f"{sf_sandbox.salesforce_url}/services/data/v59.0/limits",
                                  headers={"Authorization": "Bearer sandbox-access-token"})
        assert response.status_code == 403
        assert response.headers["Sforce-Limit-Info"] == f"api-usage={used + 3}/{used + 3}"
    finally:
        sf_sandbox.control("salesforce", "governance", {"daily_api_limit": 100000})
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 8


def test_injected_server_errors_use_the_salesforce_body(sf_sandbox: RunningSandbox, sf: Salesforce):
    sf_sandbox.control("salesforce", "governance", {"rate_500": 1.0})
    try:
        with pytest.raises(SalesforceGeneralError) as info:
            sf.query("SELECT Id FROM Account")
    finally:
        sf_sandbox.control("salesforce", "governance", {"rate_500": 0.0})
    assert info.value.status == 500 and info.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    stats = sf_sandbox.control("salesforce", "stats", method="GET")
    assert stats["injected_faults"].get("500", 0) >= 1


def test_clock_control_moves_the_sandbox_day(sf_sandbox: RunningSandbox, sf: Salesforce):
    try:
        moved = sf_sandbox.control("salesforce", "clock", {"today": "2031-05-06"})
        assert moved["today"] == "2031-05-06"
        created = sf.Account.create({"Name": "Future Co"})
        assert sf.Account.get(created["id"])["CreatedDate"].startswith("2031-05-06T")
        assert sf.query("SELECT COUNT() FROM Account WHERE CreatedDate = TODAY")["totalSize"] == 1
    finally:
        sf_sandbox.control("salesforce", "clock", {"reset": True})
    assert sf_sandbox.control("salesforce", "clock", method="GET")["offset_days"] == 0
