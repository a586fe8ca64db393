"""NetSuite auth classes (requests AuthBase), the token cache, and the retry wait, without a server.

Both auth methods also run end to end over HTTPS against the stand-in in test_provider_netsuite_hook.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping

import jwt
import pytest
import requests
import tenacity
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from crsync_provider.hooks._http import backoff_wait
from crsync_provider.hooks.netsuite_auth import (
    ClientCredentialsAuth,
    TokenBasedAuth,
    TokenCache,
    jwt_algorithm,
    load_private_key,
)
from crsync_provider.hooks.netsuite_errors import NetSuiteRateLimitError
from crsync_provider.hooks.permanent import ConnectionConfigError

TOKEN_URL = "https://123-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"


def prepared(
    url: str = "https://123-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql",
) -> requests.PreparedRequest:
    return requests.Request("POST", url, json={"q": "SELECT 1 FROM DUAL"}).prepare()


def authorization(request: requests.PreparedRequest) -> str:
    value = request.headers["Authorization"]
    return value.decode("ascii") if isinstance(value, bytes) else value  # oauthlib signs in bytes


def test_tba_signs_every_request_afresh_with_the_account_realm():
    auth = TokenBasedAuth(
        consumer_key="ck", consumer_secret="cs", token_id="ti", token_secret="ts", account_id="123_SB1"
    )
    first = authorization(auth(prepared()))
    second = authorization(auth(prepared()))
    for header in (first, second):
        assert header.startswith("OAuth ")
        assert 'realm="123_SB1"' in header and 'oauth_signature_method="HMAC-SHA256"' in header
        assert 'oauth_consumer_key="ck"' in header and 'oauth_token="ti"' in header
    nonce = lambda h: h.split('oauth_nonce="', 1)[1].split('"', 1)[0]  # noqa: E731
    assert nonce(first) != nonce(second)


class TokenEndpoint:
    """Stands in for NetSuite's token endpoint: issues numbered tokens, keeps the form data it got."""

    def __init__(self) -> None:
        self.forms: list[Mapping[str, str]] = []

    def __call__(self, data: Mapping[str, str]) -> requests.Response:
        self.forms.append(dict(data))
        resp = requests.Response()
        resp.status_code = 200
        resp._content = json.dumps({"access_token": f"token-{len(self.forms)}", "expires_in": 3600}).encode()
        return resp


def m2m(key: object, endpoint: TokenEndpoint, cache: TokenCache) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(
        token_url=TOKEN_URL,
        client_id="client-1",
        certificate_id="cert-1",
        private_key=lambda: key,
        conn_id="netsuite_default",
        post_token=endpoint,
        cache=cache,
    )


def test_m2m_sends_a_cached_bearer_token_and_fetches_anew_only_after_a_refusal():
    key = ec.generate_private_key(ec.SECP256R1())
    endpoint, cache = TokenEndpoint(), TokenCache()
    auth, other = m2m(key, endpoint, cache), m2m(key, endpoint, cache)
    sent = [auth(prepared()), auth(prepared()), other(prepared())]
    assert [r.headers["Authorization"] for r in sent] == ["Bearer token-1"] * 3
    assert len(endpoint.forms) == 1
    auth.forget(sent[0])  # the server refused token-1
    other.forget(sent[1])  # a second refusal of the same token drops nothing more
    assert auth(prepared()).headers["Authorization"] == "Bearer token-2"
    assert other(prepared()).headers["Authorization"] == "Bearer token-2"
    assert len(endpoint.forms) == 2


def test_m2m_assertion_is_a_jwt_netsuite_accepts():
    key = ec.generate_private_key(ec.SECP256R1())
    endpoint = TokenEndpoint()
    m2m(key, endpoint, TokenCache())(prepared())
    form = endpoint.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assertion = form["client_assertion"]
    assert jwt.get_unverified_header(assertion) == {"alg": "ES256", "kid": "cert-1", "typ": "JWT"}
    claims = jwt.decode(assertion, key.public_key(), algorithms=["ES256"], audience=TOKEN_URL)
    assert claims["iss"] == "client-1" and claims["scope"] == "rest_webservices"
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_private_key_text_and_algorithm():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    typed = pem.strip().replace("\n", "\\n")  # as pasted into a one-line connection field
    assert jwt_algorithm(load_private_key(typed), "c") == "PS256"
    assert jwt_algorithm(ec.generate_private_key(ec.SECP384R1()), "c") == "ES384"
    with pytest.raises(ConnectionConfigError, match="RSA or EC"):
        jwt_algorithm(object(), "c")


def retry_state(attempt: int, error: BaseException) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_backoff_is_full_jitter_under_an_exponential_ceiling_and_honours_retry_after():
    random.seed(7)
    wait = backoff_wait(0.5, 30.0)
    plain = NetSuiteRateLimitError(429, "X", "busy")
    for attempt, ceiling in ((1, 0.5), (3, 2.0), (10, 30.0)):
        waits = [wait(retry_state(attempt, plain)) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # jittered over the whole range, not a fixed step
    asked = NetSuiteRateLimitError(429, "X", "busy", retry_after=7)
    assert all(7 <= wait(retry_state(1, asked)) <= 7.5 for _ in range(50))
    too_long = NetSuiteRateLimitError(429, "X", "busy", retry_after=3600)
    assert wait(retry_state(1, too_long)) <= 60.5
