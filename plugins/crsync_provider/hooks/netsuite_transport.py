"""One NetSuite account's HTTP transport: authentication, the concurrency slot, retries and error mapping.

:class:`NetSuiteTransport` sends a request to ``services/rest/<path>``: it signs it (the connection's
:class:`~requests.auth.AuthBase`) before taking a slot of the account (so a slot is busy only on the
wire), maps an error reply to its :class:`~crsync_provider.hooks.netsuite_errors.NetSuiteError`, and
retries 429, 5xx and dropped connections with exponential backoff and full jitter (``Retry-After``
honoured; :func:`~crsync_provider.hooks._http.backoff_wait`). Auth and validation errors are never
retried; a timed-out attempt is retried once; a loopback host that refuses the connection (the sandbox
is not running) fails at once; an OAuth 2.0 token fetch, retried on its own, is not retried again with
the request. Non-idempotent writes are resent only when it is safe (``already_done``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from requests.auth import AuthBase

from crsync_provider.hooks._http import backoff_wait, call_with_retries
from crsync_provider.hooks.netsuite_auth import TOKEN_PATH, ClientCredentialsAuth
from crsync_provider.hooks.netsuite_concurrency import Slots
from crsync_provider.hooks.netsuite_endpoint import check_same_host
from crsync_provider.hooks.netsuite_errors import (
    NetSuiteAuthError,
    NetSuiteError,
    error_from_response,
    is_retryable,
    maybe_processed,
    redirect_error,
    unexpected_reply,
)
from crsync_provider.hooks.permanent import credentials_fix

R = TypeVar("R")


class _RefreshToken(Exception):
    """Internal: the access token was rejected; fetch a new one and retry once."""

    def __init__(self, error: NetSuiteError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(kw_only=True, eq=False, repr=False)
class NetSuiteTransport:
    """Send requests to one NetSuite account with auth, the concurrency limit and retries.

    :param conn_id: the Airflow connection (named in errors that say what to fix).
    :param base_url: scheme and host of the REST endpoint, without ``/services/rest``.
    :param session: the HTTP session (connection pool, CA bundle, default timeouts).
    :param verify: the CA bundle path (or True), passed on every request too: requests lets
        ``REQUESTS_CA_BUNDLE`` override ``session.verify``.
    :param slots: returns the account's concurrency slots, held by every attempt.
    :param auth: returns the connection's authentication (built on first use).
    :param max_attempts: attempts per request for retryable failures.
    :param timeouts: (connect, read) seconds sent with every request, token fetches included.
    :param backoff_base: base of the exponential backoff, seconds.
    :param backoff_max: ceiling of one backoff sleep, seconds.
    :param log: where retries are logged (the hook's logger).
    """

    conn_id: str
    base_url: str
    session: requests.Session
    verify: str | bool
    slots: Callable[[], Slots]
    auth: Callable[[], AuthBase]
    max_attempts: int
    timeouts: tuple[float, float]
    backoff_base: float
    backoff_max: float
    log: logging.Logger | logging.LoggerAdapter[Any]

    def __post_init__(self) -> None:
        self.api_root = f"{self.base_url}/services/rest/"
        self.token_url = f"{self.api_root}{TOKEN_PATH}"
        self._wait = backoff_wait(self.backoff_base, self.backoff_max)
        # Proxies/verify/cert for the one host this transport talks to, resolved once (not per request).
        self._send_settings = self.session.merge_environment_settings(self.api_root, {}, None, self.verify, None)

    # ------------------------------------------------------------------ retries

    def retrying(self, fn: Callable[[], R], *, retry: Callable[[BaseException], bool] = is_retryable) -> R:
        """Call ``fn`` until it succeeds, ``retry`` refuses its error, or the attempts run out.

        :raises HttpTimeoutError: the last attempt timed out (saying what to check).
        :raises LoopbackRefusedError: nothing listens on the loopback host (start the sandbox).
        """
        return call_with_retries(
            fn,
            system="NetSuite",
            conn_id=self.conn_id,
            max_attempts=self.max_attempts,
            wait=self._wait,
            retry=retry,
            timeout=self.timeouts,
            default_url=self.api_root,
            log=self.log,
        )

    # ------------------------------------------------------------------ token endpoint

    def post_token(self, data: Mapping[str, str]) -> requests.Response:
        """POST the OAuth 2.0 token request (with retries); any 4xx but 429 is an auth error, not retried."""
        token_url = self.token_url

        def post() -> requests.Response:
            with self.slots():
                resp = self.session.post(
                    token_url,
                    data=dict(data),
                    timeout=self.timeouts,
                    verify=self.verify,
                    allow_redirects=False,
                )
            redirect = redirect_error(resp)
            if redirect is not None:  # never read as a token reply
                raise redirect
            if resp.status_code >= 400:
                error = error_from_response(resp)
                if 400 <= resp.status_code < 500 and resp.status_code != 429:
                    # Any refusal at the token endpoint is an authentication failure: no retry.
                    raise NetSuiteAuthError(
                        error.status,
                        error.code,
                        f"OAuth 2.0 token request refused: {error.detail}. "
                        + credentials_fix(self.conn_id, "the client id, certificate id or private key"),
                        method="POST",
                        url=token_url,
                    )
                raise error
            return resp

        return self.retrying(post)

    # ------------------------------------------------------------------ requests

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        refreshed: list[bool],
        signing_failed: list[bool],
    ) -> requests.Response:
        """One attempt: authenticate (re-signing), hold a concurrency slot for the request only."""
        request_headers = {"Content-Type": "application/json"} if json is not None else {}
        request_headers.update(headers or {})
        auth = self.auth()
        # Build and sign the request (an M2M token may be fetched) before taking a slot, so a slot is busy
        # only on the wire.
        try:
            prepared = self.session.prepare_request(
                requests.Request(method, url, params=params, json=json, headers=request_headers, auth=auth)
            )
        except Exception:
            # The token fetch already had its own retries (post_token): retrying the request would repeat
            # them all (max_attempts squared token requests, under the process-wide token lock).
            signing_failed[0] = True
            raise
        with self.slots():
            # No redirects: a reply may not send the hook to another host (netsuite_endpoint).
            resp = self.session.send(
                prepared, timeout=self.timeouts, allow_redirects=False, **self._send_settings
            )
            resp.content  # noqa: B018 - read the whole body while holding the slot
        time.sleep(0)  # yield the GIL: the thread just given the slot sends now, not after our bookkeeping
        if resp.status_code < 400:
            odd = unexpected_reply(resp)
            if odd is not None:
                raise odd
            return resp
        error = error_from_response(resp)
        if (
            isinstance(error, NetSuiteAuthError)
            and isinstance(auth, ClientCredentialsAuth)
            and not refreshed[0]
        ):
            # A cached token the server no longer accepts: drop it and try once with a new one.
            auth.forget(prepared)
            refreshed[0] = True
            raise _RefreshToken(error)
        if isinstance(error, NetSuiteAuthError):
            raise NetSuiteAuthError(
                error.status,
                error.code,
                f"{error.detail} "
                + credentials_fix(self.conn_id, "the credentials (or the role's permissions)"),
                path=error.path,
                method=error.method,
                url=error.url,
            )
        raise error

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        already_done: Callable[[], R | None] | None = None,
    ) -> requests.Response | R:
        """Send a request to ``services/rest/<path>`` (or an absolute URL on the same host).

        :param idempotent: False for requests that must not be repeated once the server may have
            acted on them (create, transform): those are retried after 429 and connect failures only,
            and after 5xx / dropped connections only when ``already_done`` says the write did not land.
        :param already_done: for non-idempotent requests, checks whether an earlier attempt took
            effect; returns the outcome (then no new attempt is sent) or None.
        :raises NetSuiteError: the typed error of the last attempt.
        """
        absolute = "://" in path.split("?", 1)[0]
        url = check_same_host(path, self.base_url) if absolute else self.api_root + path
        refreshed = [False]
        suspect = [False]
        signing_failed = [False]

        def attempt() -> requests.Response | R:
            if suspect[0] and already_done is not None:
                outcome = already_done()
                if outcome is not None:
                    self.log.info("NetSuite %s %s: an earlier attempt had succeeded", method, path)
                    return outcome
            try:
                return self._send_once(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    refreshed=refreshed,
                    signing_failed=signing_failed,
                )
            except Exception as exc:
                if not idempotent and is_retryable(exc) and maybe_processed(exc):
                    suspect[0] = True
                raise

        def retry(exc: BaseException) -> bool:
            if isinstance(exc, _RefreshToken):
                return True
            if signing_failed[0] or not is_retryable(exc):
                return False
            if idempotent or not maybe_processed(exc):
                return True
            return already_done is not None

        try:
            return self.retrying(attempt, retry=retry)
        except _RefreshToken as exc:  # pragma: no cover - only when attempts run out right then
            raise exc.error from None


__all__ = ["NetSuiteTransport"]
