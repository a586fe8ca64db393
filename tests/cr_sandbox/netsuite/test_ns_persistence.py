"""State survives a restart: the SQLite file and the M2M key pair are reused."""

from __future__ import annotations

import requests
from requests_oauthlib import OAuth1

from cr_sandbox.process import running_sandbox


def _create_and_find(sb, company: str | None) -> list[dict]:
    creds = sb.config.netsuite
    auth = OAuth1(creds.consumer_key, creds.consumer_secret, creds.token_id, creds.token_secret,
                  realm=creds.account_id, signature_method="HMAC-SHA256")
    base, ca = sb.netsuite_url, str(sb.ca_path)
    if company:
        resp = requests.post(f"{base}/services/rest/record/v1/customer", json={"companyName": company,
                             "externalId": "PERSIST-1", "subsidiary": {"id": "1"}}, auth=auth, verify=ca, timeout=30)
        assert resp.status_code == 204
    resp = requests.post(f"{base}/services/rest/query/v1/suiteql", json={"q": "SELECT companyname FROM customer "
                         "WHERE externalid = 'PERSIST-1'"}, headers={"Prefer": "transient"}, auth=auth, verify=ca,
                         timeout=30)
    return resp.json()["items"]


def test_state_survives_restart(tmp_path):
    with running_sandbox(tmp_path) as sb:
        assert _create_and_find(sb, "Persistent Co")[0]["companyname"] == "Persistent Co"
        key = (tmp_path / "m2m_private.pem").read_bytes()
        sb.control("netsuite", "clock", {"today": "2030-01-01"})
    with running_sandbox(tmp_path) as sb:
        assert _create_and_find(sb, None)[0]["companyname"] == "Persistent Co"
        assert (tmp_path / "m2m_private.pem").read_bytes() == key
        assert sb.control("netsuite", "clock", method="GET")["today"] == "2030-01-01"
