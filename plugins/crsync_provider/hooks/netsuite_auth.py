"""NetSuite authentication as :class:`requests.auth.AuthBase` classes.

- :class:`TokenBasedAuth`: token-based authentication (OAuth 1.0a, HMAC-SHA256, realm = account id),
  signed by requests-oauthlib afresh for every prepared request (new nonce and timestamp);
- :class:`ClientCredentialsAuth`: OAuth 2.0 client credentials (machine to machine): a JWT signed with
  the certificate's private key (PyJWT) is exchanged for an access token, which is kept in the
  process-wide :class:`TokenCache` and sent as ``Authorization: Bearer``.

requests-oauthlib, PyJWT and cryptography are imported on first use (DAG files import the hook at parse
time). The hook resolves the connection's secrets and sends the token request (with its retries and
concurrency slot); these classes only sign.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.auth import AuthBase

from crsync_provider.hooks.permanent import ConnectionConfigError

log = logging.getLogger(__name__)

#: Token endpoint below ``services/rest/``.
TOKEN_PATH = "auth/oauth2/v1/token"
#: Renew a cached access token this many seconds before it expires.
TOKEN_MARGIN = 300.0

TokenKey = tuple[str, str, str]


class TokenBasedAuth(AuthBase):
    """NetSuite token-based authentication (OAuth 1.0a with HMAC-SHA256; realm = account id).

    :param consumer_key: the integration record's consumer key.
    :param consumer_secret: its consumer secret.
    :param token_id: the access token's id.
    :param token_secret: the access token's secret.
    :param account_id: the NetSuite account id (the OAuth realm).
    """

    def __init__(
        self, *, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str, account_id: str
    ) -> None:
        from requests_oauthlib import OAuth1

        self._oauth1 = OAuth1(
            client_key=consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token_id,
            resource_owner_secret=token_secret,
            realm=account_id,
            signature_method="HMAC-SHA256",
        )

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._oauth1(r)


class TokenCache:
    """OAuth 2.0 access tokens per (token URL, client id, certificate id), shared by threads.

    A fetch happens under the lock, so threads that find no token wait for one fetch rather than each
    asking the token endpoint.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[TokenKey, tuple[str, float]] = {}

    def get(self, key: TokenKey, fetch: Callable[[], tuple[str, float]], margin: float = TOKEN_MARGIN) -> str:
        """The cached token, or a new one from ``fetch`` (``(token, expires_in seconds)``)."""
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] - margin > time.monotonic():
                return cached[0]
            token, expires_in = fetch()
            self._tokens[key] = (token, time.monotonic() + expires_in)
            return token

    def invalidate(self, key: TokenKey, token: str) -> None:
        """Drop ``token`` if it is still the cached one (another thread may have renewed it already)."""
        with self._lock:
            if self._tokens.get(key, ("", 0.0))[0] == token:
                self._tokens.pop(key, None)


#: The process-wide cache: every hook of the process with the same client shares one token.
TOKENS = TokenCache()


def load_private_key(pem: str) -> Any:
    """The private key of a PEM text (escaped ``\\n`` as typed in a connection form are accepted)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = pem.replace("\\n", "\n").strip() + "\n"
    return load_pem_private_key(pem.encode(), password=None)


def jwt_algorithm(key: Any, conn_id: str) -> str:
    """The JWT algorithm NetSuite accepts for ``key``: PS256 for RSA, ES256/384/512 for EC."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES256")
    raise ConnectionConfigError(f"Connection {conn_id!r}: private_key must be an RSA or EC private key")


@dataclass(eq=False)
class ClientCredentialsAuth(AuthBase):
    """OAuth 2.0 client credentials with a JWT assertion (NetSuite's machine-to-machine flow).

    :param token_url: the token endpoint (the JWT's audience).
    :param client_id: the integration record's client id (the JWT's issuer).
    :param certificate_id: the certificate id from NetSuite's M2M setup (the JWT's ``kid``).
    :param private_key: returns the certificate's private key (called when a token is fetched).
    :param conn_id: the Airflow connection, named in configuration errors.
    :param post_token: sends the token request's form data and returns the reply (the hook's retries,
        timeouts and concurrency slot apply; it raises on a refusal).
    :param mask: hides a secret from the logs (``mask(value, name)``).
    :param cache: the token cache (default: the process-wide :data:`TOKENS`).
    """

    token_url: str
    client_id: str
    certificate_id: str
    private_key: Callable[[], Any]
    conn_id: str
    post_token: Callable[[Mapping[str, str]], requests.Response]
    mask: Callable[[str, str], None] = lambda value, name: None
    cache: TokenCache = field(default_factory=lambda: TOKENS)

    @property
    def cache_key(self) -> TokenKey:
        return (self.token_url, self.client_id, self.certificate_id)

    def client_assertion(self, *, lifetime: int = 300) -> str:
        """A signed JWT for the client-credentials grant (``kid`` = certificate id, ``iss`` = client id)."""
        import jwt

        if not 0 < lifetime <= 3600:
            raise ValueError("assertion lifetime must be within 60 minutes")
        key = self.private_key()
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "scope": "rest_webservices",
            "aud": self.token_url,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.certificate_id, "typ": "JWT"}
        return jwt.encode(claims, key, algorithm=jwt_algorithm(key, self.conn_id), headers=headers)

    def _fetch(self) -> tuple[str, float]:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.client_assertion(),
        }
        payload = self.post_token(data).json()
        token = str(payload["access_token"])
        self.mask(token, "access_token")
        expires_in = float(payload.get("expires_in") or 3600)
        log.info("NetSuite OAuth 2.0 token obtained, valid for %ss", int(expires_in))
        return token, expires_in

    def access_token(self) -> str:
        """A cached access token, renewed :data:`TOKEN_MARGIN` seconds before it expires."""
        return self.cache.get(self.cache_key, self._fetch)

    def forget(self, request: requests.PreparedRequest) -> None:
        """Drop the token ``request`` was sent with (the server refused it): the next request fetches one."""
        header = str(request.headers.get("Authorization") or "")
        if header.startswith("Bearer "):
            self.cache.invalidate(self.cache_key, header[len("Bearer ") :])

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.access_token()}"
        return r


__all__ = [
    "TOKENS",
    "TOKEN_PATH",
    "ClientCredentialsAuth",
    "TokenBasedAuth",
    "TokenCache",
    "jwt_algorithm",
    "load_private_key",
]
