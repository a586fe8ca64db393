"""Auth conformance: TBA signature, nonce, timestamp and realm checks; OAuth 2.0 M2M tokens."""

from __future__ import annotations

import time

import requests

from tests.cr_sandbox.netsuite.conftest import SUITEQL_PATH

QUERY = {"q": "SELECT id FROM customer WHERE id = 1001"}
PREFER = {"Prefer": "transient"}


def _is_invalid_login(resp: requests.Response) -> bool:
    return resp.status_code == 401 and resp.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"


def test_valid_tba_signature_with_query_parameters(ns):
    resp = ns.request("POST", SUITEQL_PATH, params={"limit": 5, "offset": 0}, json=QUERY, headers=PREFER)
    assert resp.status_code == 200


def test_missing_and_wrong_credentials(ns):
    resp = requests.post(f"{ns.base}{SUITEQL_PATH}", json=QUERY, headers=PREFER, verify=ns.ca, timeout=30)
    assert _is_invalid_login(resp)
    assert _is_invalid_login(ns.request("POST", SUITEQL_PATH, json=QUERY, headers=PREFER,
                                        auth=ns.tba(client_secret="wrong-secret")))
    assert _is_invalid_login(ns.request("POST", SUITEQL_PATH, json=QUERY, headers=PREFER,
                                        auth=ns.tba(realm="9999999")))
    assert _is_invalid_login(ns.request("POST", SUITEQL_PATH, json=QUERY, headers=PREFER,
                                        auth=ns.tba(signature_method="HMAC-SHA1")))


def test_bad_signature_query_parameters_are_signed(ns):
    prepared = requests.Request(
        "POST", f"{ns.base}{SUITEQL_PATH}?limit=5", json=QUERY, headers=PREFER, auth=ns.tba()
    ).prepare()
    prepared.url = prepared.url.replace("limit=5", "limit=6")  # tamper after signing
    assert _is_invalid_login(ns.session.send(prepared, verify=ns.ca, timeout=30))


def test_replayed_nonce_is_refused(ns):
    prepared = requests.Request("POST", f"{ns.base}{SUITEQL_PATH}", json=QUERY, headers=PREFER, auth=ns.tba()).prepare()
    assert ns.session.send(prepared, verify=ns.ca, timeout=30).status_code == 200
    assert _is_invalid_login(ns.session.send(prepared, verify=ns.ca, timeout=30))


def test_stale_timestamp_is_refused(ns):
    stale = str(int(time.time()) - 3600)
    prepared = requests.Request(
        "POST", f"{ns.base}{SUITEQL_PATH}", json=QUERY, headers=PREFER, auth=ns.tba(timestamp=stale)
    ).prepare()
    assert _is_invalid_login(ns.session.send(prepared, verify=ns.ca, timeout=30))


def test_m2m_token_issue_use_and_expiry(ns):
    resp = ns.token(ns.m2m_assertion())
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert token["token_type"] == "bearer" and int(token["expires_in"]) == 3600
    bearer = {"Authorization": f"Bearer {token['access_token']}", **PREFER}
    ok = requests.post(f"{ns.base}{SUITEQL_PATH}", json=QUERY, headers=bearer, verify=ns.ca, timeout=30)
    assert ok.status_code == 200
    garbage = {"Authorization": "Bearer not-a-token", **PREFER}
    assert _is_invalid_login(requests.post(f"{ns.base}{SUITEQL_PATH}", json=QUERY, headers=garbage, verify=ns.ca, timeout=30))
    ns.control("preferences", {"m2m_token_ttl_seconds": 1})
    try:
        short = ns.token(ns.m2m_assertion()).json()["access_token"]
        time.sleep(1.5)
        expired = requests.post(f"{ns.base}{SUITEQL_PATH}", json=QUERY, verify=ns.ca, timeout=30,
                                headers={"Authorization": f"Bearer {short}", **PREFER})
        assert _is_invalid_login(expired)
    finally:
        ns.control("preferences", {"m2m_token_ttl_seconds": 3600})


def test_m2m_bad_assertions_are_refused(ns):
    assert ns.token(ns.m2m_assertion(kid="unknown-certificate")).json()["error"] == "invalid_grant"
    assert ns.token(ns.m2m_assertion(lifetime=3 * 3600)).status_code == 400
    assert ns.token(ns.m2m_assertion(aud="https://elsewhere.example/token")).status_code == 400
    assert ns.token(ns.m2m_assertion(iss="someone-else")).status_code == 400
    assert ns.token(ns.m2m_assertion(scope="restlets")).status_code == 400
    assert ns.token("not.a.jwt").status_code == 400


RECORD_PUT = "/services/rest/record/v1/salesOrder/eid:AUTH-ORDER-1"


def test_record_requests_check_credentials_before_the_body(ns):
    """Record requests authenticate on a worker thread (netsuite/app.py): still 401 before any 400."""
    resp = requests.put(f"{ns.base}{RECORD_PUT}", data=b"{not json", verify=ns.ca, timeout=30,
                        headers={"Content-Type": "application/json"})
    assert _is_invalid_login(resp)
    assert _is_invalid_login(ns.request("PUT", RECORD_PUT, data=b"{not json",
                                        headers={"Content-Type": "application/json"},
                                        auth=ns.tba(client_secret="wrong-secret")))
    for method, path in (("GET", "/services/rest/record/v1/customer/1001"),
                         ("DELETE", "/services/rest/record/v1/customer/1001"),
                         ("POST", "/services/rest/record/v1/customer"),
                         ("GET", "/services/rest/record/v1/customer")):
        assert _is_invalid_login(requests.request(method, f"{ns.base}{path}", verify=ns.ca, timeout=30)), (method, path)
    resp = ns.request("PUT", RECORD_PUT, data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_CONTENT"


def test_a_record_request_replayed_at_once_on_many_connections_is_accepted_once(ns):
    """The nonce is checked and burnt in one step even when the copies are checked on parallel threads."""
    from concurrent.futures import ThreadPoolExecutor

    ns.control("governance", {"concurrency_limit": None})
    prepared = requests.Request(
        "GET", f"{ns.base}/services/rest/record/v1/customer/1001", auth=ns.tba()
    ).prepare()

    def send(_: int) -> int:
        with requests.Session() as session:
            return session.send(prepared, verify=ns.ca, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(8)))
    assert sorted(statuses) == [200] + [401] * 7, statuses
