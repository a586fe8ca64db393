"""Authentication, verified for real: TBA (OAuth 1.0a HMAC-SHA256) and OAuth 2.0 M2M bearer tokens."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

from cr_sandbox.config import NetSuiteSandboxCredentials
from cr_sandbox.netsuite.db import Store
from cr_sandbox.netsuite.errors import invalid_login

TIMESTAMP_WINDOW_SECONDS = 300  # guessed: NetSuite refuses timestamps outside a few minutes
JWT_MAX_LIFETIME_SECONDS = 3600
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def ensure_m2m_keys(state_dir: Path) -> bytes:
    """Create the sandbox-only M2M key pair (EC P-256, for ES256) once; return the public key PEM."""
    private_path, public_path = state_dir / "m2m_private.pem", state_dir / "m2m_public.pem"
    if not (private_path.exists() and public_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return public_path.read_bytes()


class TokenError(Exception):
    """OAuth 2.0 token endpoint error (RFC 6749 body ``{"error","error_description"}``)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class Authenticator:
    """Checks every vendor request's ``Authorization`` header.

    :param creds: the sandbox-only credentials the stand-in accepts.
    :param store: state (bearer tokens, token lifetime preference).
    :param public_key_pem: the registered M2M certificate's public key.
    """

    def __init__(self, creds: NetSuiteSandboxCredentials, store: Store, public_key_pem: bytes) -> None:
        self.creds = creds
        self.store = store
        self.public_key = serialization.load_pem_public_key(public_key_pem)
        self.seen_nonces: dict[str, float] = {}
        self._nonce_lock = threading.Lock()

    # -- TBA ------------------------------------------------------------------------------------
    def check(self, method: str, url: str, headers: dict[str, str]) -> None:
        """Accept a valid TBA or bearer header; raise 401 ``INVALID_LOGIN`` otherwise.

        :param url: the full request URL as the client addressed it (scheme, host, path, query).
        """
        header = headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            self._check_bearer(header[7:].strip())
        elif header[:6].lower() == "oauth ":
            self._check_tba(method, url, header)
        else:
            raise invalid_login()

    def _check_tba(self, method: str, url: str, header: str) -> None:
        try:
            params = {k: unquote(v) for k, v in parse_authorization_header(header)}
        except ValueError as exc:
            raise invalid_login() from exc
        creds = self.creds
        if (
            params.get("realm") != creds.account_id.upper().replace("-", "_")  # the realm as NetSuite spells it
            or params.get("oauth_consumer_key") != creds.consumer_key
            or params.get("oauth_token") != creds.token_id
            or params.get("oauth_signature_method") != "HMAC-SHA256"
            or params.get("oauth_version", "1.0") != "1.0"
        ):
            raise invalid_login()
        try:
            timestamp = int(params.get("oauth_timestamp", ""))
        except ValueError as exc:
            raise invalid_login() from exc
        now = time.time()
        if abs(now - timestamp) > TIMESTAMP_WINDOW_SECONDS:
            raise invalid_login()
        nonce = params.get("oauth_nonce", "")
        if not nonce:
            raise invalid_login()
        query = url.split("?", 1)[1] if "?" in url else ""
        collected = oauth_signature.collect_parameters(
            uri_query=query, headers={"Authorization": header}, exclude_oauth_signature=True, with_realm=False
        )
        base = oauth_signature.signature_base_string(
            method.upper(), oauth_signature.base_string_uri(url), oauth_signature.normalize_parameters(collected)
        )
        expected = oauth_signature.sign_hmac_sha256(base, creds.consumer_secret, creds.token_secret)
        if not secrets.compare_digest(expected, params.get("oauth_signature", "")):
            raise invalid_login()
        # Only a correctly signed request burns its nonce; a replay of it is refused. Record requests are
        # checked on worker threads (netsuite/app.py), so check-and-burn is one step under a lock.
        with self._nonce_lock:
            self._forget_old_nonces(now)
            key = f"{timestamp}:{nonce}"
            if key in self.seen_nonces or nonce in self.seen_nonces:
                raise invalid_login()
            self.seen_nonces[nonce] = now

    def _forget_old_nonces(self, now: float) -> None:
        if len(self.seen_nonces) > 50_000:
            cutoff = now - 2 * TIMESTAMP_WINDOW_SECONDS
            self.seen_nonces = {k: v for k, v in self.seen_nonces.items() if v >= cutoff}

    # -- OAuth 2.0 ------------------------------------------------------------------------------
    def _check_bearer(self, token: str) -> None:
        with self.store.lock:
            row = self.store.conn.execute("SELECT expires FROM oauth_token WHERE token=?", (token,)).fetchone()
        if row is None or row[0] < time.time():
            raise invalid_login()

    def issue_token(self, form: dict[str, Any], token_url: str) -> dict[str, Any]:
        """The client-credentials grant with a JWT assertion (PS256/ES256, ``kid`` = certificate id)."""
        if form.get("grant_type") != "client_credentials":
            raise TokenError("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise TokenError("invalid_request", f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}")
        assertion = form.get("client_assertion") or ""
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise TokenError("invalid_request", "client_assertion is not a JWT") from exc
        if header.get("alg") not in ("PS256", "ES256"):
            raise TokenError("invalid_request", "client_assertion must be signed with PS256 or ES256")
        if header.get("kid") != self.creds.m2m_certificate_id:
            raise TokenError("invalid_grant", "Unknown certificate id (kid)")
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["PS256", "ES256"],
                audience=token_url,
                options={"require": ["exp", "iat", "iss", "aud"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise TokenError("invalid_grant", f"Invalid client assertion: {exc}") from exc
        if claims.get("iss") != self.creds.m2m_client_id:
            raise TokenError("invalid_client", "Unknown client id (iss)")
        scope = claims.get("scope")
        scopes = scope if isinstance(scope, list) else str(scope or "").replace(",", " ").split()
        if "rest_webservices" not in scopes:
            raise TokenError("invalid_scope", "scope must include rest_webservices")
        if int(claims["exp"]) - int(claims["iat"]) > JWT_MAX_LIFETIME_SECONDS:
            raise TokenError("invalid_grant", "The assertion lifetime (exp - iat) exceeds 60 minutes")
        ttl = int(self.store.preferences()["m2m_token_ttl_seconds"])
        token = "sandbox." + secrets.token_urlsafe(32)
        with self.store.lock:
            self.store.conn.execute("DELETE FROM oauth_token WHERE expires < ?", (time.time(),))
            self.store.conn.execute("INSERT INTO oauth_token VALUES (?,?)", (token, time.time() + ttl))
        return {"access_token": token, "expires_in": str(ttl), "token_type": "bearer"}
