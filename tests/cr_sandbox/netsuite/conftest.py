"""Independent NetSuite clients for the conformance tests: requests + requests-oauthlib (TBA) and pyjwt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from requests_oauthlib import OAuth1

from cr_sandbox.process import RunningSandbox

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
RECORD_PATH = "/services/rest/record/v1"
TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"


@dataclass
class NetSuiteClient:
    """A thin client speaking to the stand-in the way an integration speaks to a real account."""

    sandbox: RunningSandbox
    session: requests.Session

    @property
    def base(self) -> str:
        return self.sandbox.netsuite_url

    @property
    def ca(self) -> str:
        return str(self.sandbox.ca_path)

    def tba(self, **overrides: Any) -> OAuth1:
        creds = self.sandbox.config.netsuite
        kwargs: dict[str, Any] = {
            "client_key": creds.consumer_key,
            "client_secret": creds.consumer_secret,
            "resource_owner_key": creds.token_id,
            "resource_owner_secret": creds.token_secret,
            "realm": creds.account_id,
            "signature_method": "HMAC-SHA256",
        }
        kwargs.update(overrides)
        return OAuth1(**kwargs)

    def request(self, method: str, path: str, *, auth: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.session.request(
            method, f"{self.base}{path}", auth=auth if auth is not None else self.tba(), verify=self.ca, **kwargs
        )

    def suiteql(self, query: str, limit: int | None = None, offset: int | None = None, **kw: Any) -> requests.Response:
        params = {k: v for k, v in (("limit", limit), ("offset", offset)) if v is not None}
        headers = kw.pop("headers", {"Prefer": "transient"})
        return self.request("POST", SUITEQL_PATH, params=params or None, json={"q": query}, headers=headers, **kw)

    def rows(self, query: str) -> list[dict[str, Any]]:
        resp = self.suiteql(query)
        assert resp.status_code == 200, resp.text
        return resp.json()["items"]

    def create(self, record_type: str, body: dict[str, Any]) -> str:
        resp = self.request("POST", f"{RECORD_PATH}/{record_type}", json=body)
        assert resp.status_code == 204, resp.text
        return resp.headers["Location"].rsplit("/", 1)[1]

    def get(self, record_type: str, record_id: str, expand: bool = False) -> dict[str, Any]:
        params = {"expandSubResources": "true"} if expand else None
        resp = self.request("GET", f"{RECORD_PATH}/{record_type}/{record_id}", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def control(self, action: str, payload: dict | None = None, method: str = "POST") -> dict[str, Any]:
        return self.sandbox.control("netsuite", action, payload, method=method)

    def m2m_assertion(self, *, kid: str | None = None, lifetime: int = 600, aud: str | None = None,
                      iss: str | None = None, scope: str = "rest_webservices") -> str:
        creds = self.sandbox.config.netsuite
        key = (self.sandbox.config.state_dir / "m2m_private.pem").read_bytes()
        now = int(time.time())
        claims = {"iss": iss or creds.m2m_client_id, "scope": scope, "aud": aud or f"{self.base}{TOKEN_PATH}",
                  "iat": now, "exp": now + lifetime}
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid or creds.m2m_certificate_id})

    def token(self, assertion: str) -> requests.Response:
        return self.session.post(
            f"{self.base}{TOKEN_PATH}",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
            verify=self.ca,
            timeout=30,
        )


@pytest.fixture(scope="module")
def ns(sandbox: RunningSandbox) -> Iterator[NetSuiteClient]:
    """A client on a freshly reset stand-in with the default data set (state reset per test module)."""
    sandbox.control("netsuite", "reset", {"seed": True})
    sandbox.control("netsuite", "clock", {"reset": True})
    with requests.Session() as session:
        yield NetSuiteClient(sandbox=sandbox, session=session)
    sandbox.control("netsuite", "governance", {"concurrency_limit": 5, "latency_ms": 0})
