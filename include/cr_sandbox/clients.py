"""Plain clients for the sandbox's vendor APIs, for the demo and the benchmarks (not used by the DAGs).

They speak to the stand-ins exactly as any integration would (TBA-signed SuiteQL, simple-salesforce in
session mode), so what they read back is independent of this project's hooks.
"""

from __future__ import annotations

from typing import Any

import requests
from requests_oauthlib import OAuth1
from simple_salesforce import Salesforce

from cr_sandbox.config import SandboxConfig


def netsuite_auth(config: SandboxConfig) -> OAuth1:
    creds = config.netsuite
    return OAuth1(
        creds.consumer_key,
        creds.consumer_secret,
        creds.token_id,
        creds.token_secret,
        realm=creds.account_id,
        signature_method="HMAC-SHA256",
    )


def suiteql(config: SandboxConfig, query: str) -> list[dict[str, Any]]:
    """All rows of a SuiteQL query (limit/offset paging)."""
    rows: list[dict[str, Any]] = []
    offset = 0
    auth = netsuite_auth(config)
    while True:
        resp = requests.post(
            f"{config.netsuite_url}/services/rest/query/v1/suiteql",
            params={"limit": 1000, "offset": offset},
            json={"q": query},
            headers={"Prefer": "transient"},
            auth=auth,
            verify=str(config.ca_path),
            timeout=120,
        )
        resp.raise_for_status()
        page = resp.json()
        rows += [{k: v for k, v in item.items() if k != "links"} for item in page["items"]]
        if not page["hasMore"]:
            return rows
        offset += 1000


def netsuite_record(config: SandboxConfig, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A record-service call, e.g. ``netsuite_record(cfg, "PATCH", "estimate/12", json={...})``."""
    resp = requests.request(
        method,
        f"{config.netsuite_url}/services/rest/record/v1/{path}",
        auth=netsuite_auth(config),
        verify=str(config.ca_path),
        timeout=120,
        **kwargs,
    )
    resp.raise_for_status()
    return resp


def salesforce(config: SandboxConfig) -> Salesforce:
    session = requests.Session()
    session.verify = str(config.ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override session.verify
    return Salesforce(
        instance_url=config.salesforce_url,
        session_id=config.salesforce.access_token,
        session=session,
        version="59.0",
    )
