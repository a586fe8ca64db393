"""NetSuite's error replies as typed exceptions, and which failures a retry may fix.

:func:`error_from_response` maps a REST reply to the :class:`NetSuiteError` subclass it stands for
(401/403 auth, 404, 429, 5xx, other 4xx), repeating only NetSuite's ``o:errorCode`` and ``detail``
(see :mod:`crsync_provider.hooks.netsuite_endpoint`); :func:`is_retryable` and :func:`maybe_processed`
decide what the hook's retries may resend.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from crsync_provider.hooks._http import RETRYABLE_TRANSPORT, is_retryable_failure
from crsync_provider.hooks.netsuite_endpoint import netsuite_error_of, not_netsuite_message
from crsync_provider.hooks.permanent import THEN_CLEAR, PermanentError

# Use with fullmatch: match() with "$" would accept a trailing newline.
EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9_-]+")



class NetSuiteError(Exception):
    """An error reply from NetSuite, carrying ``o:errorCode``, ``o:errorPath`` and the detail.

    :param status: HTTP status (0 when no reply was received).
    :param code: NetSuite's ``o:errorCode`` (e.g. ``INVALID_CONTENT``), or a client-side code.
    :param detail: NetSuite's ``detail`` message.
    :param path: NetSuite's ``o:errorPath`` (the field at fault) when given.
    :param retry_after: seconds from a ``Retry-After`` header, when given.
    """

    retryable = False

    def __init__(
        self,
        status: int,
        code: str | None,
        detail: str,
        *,
        path: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.code = code or "UNKNOWN_ERROR"
        self.detail = detail
        self.path = path
        self.retry_after = retry_after
        self.method = method
        self.url = url
        where = f" at {path}" if path else ""
        request = f" ({method} {url})" if method and url else ""
        super().__init__(f"NetSuite {status} {self.code}{where}: {detail}{request}")

    def as_error(self) -> dict[str, Any]:
        """The ``error`` member of a write result."""
        return {"code": self.code, "message": self.detail, "path": self.path}


class NetSuiteAuthError(NetSuiteError, PermanentError):
    """401/403: bad credentials, expired token, missing permission. Never retried; fails the task at once."""


class NetSuiteValidationError(NetSuiteError):
    """Other 4xx: the request itself is wrong. Never retried."""


class NetSuiteNotFoundError(NetSuiteValidationError):
    """404: no such record."""


class NetSuiteRateLimitError(NetSuiteError):
    """429: over the account concurrency limit. Retried with backoff."""

    retryable = True


class NetSuiteServerError(NetSuiteError):
    """5xx. Retried with backoff."""

    retryable = True


class NetSuiteUnexpectedReplyError(NetSuiteServerError):
    """A success status whose body is not NetSuite's JSON (a proxy, firewall or maintenance page).

    Nothing says the request was handled, so it is retried like a 5xx; after the last attempt the
    error names the likely fix.
    """


class NetSuiteRedirectError(NetSuiteError, PermanentError):
    """3xx: the host sent the request elsewhere (a proxy or SSO login page, the wrong REST domain).

    Redirects are never followed (:mod:`~crsync_provider.hooks.netsuite_endpoint`) and a redirect's
    ``Location`` is not a new record's, so the reply fails the task at once, saying what to check.
    """


def redirect_error(resp: requests.Response) -> NetSuiteRedirectError | None:
    """The error for a 3xx reply (None for any other status)."""
    if not 300 <= resp.status_code < 400:
        return None
    # Only the redirect's target, without its query string (an SSO redirect may carry a token).
    location = _strip_query(resp.headers.get("Location")) or "(no Location header)"
    return NetSuiteRedirectError(
        resp.status_code,
        "UNEXPECTED_REDIRECT",
        f"NetSuite answered {resp.status_code} redirect to {location}; check the account id / REST domain "
        f"(host) in the connection, {THEN_CLEAR}",
        method=resp.request.method if resp.request is not None else None,
        url=_strip_query(resp.url),
    )


def unexpected_reply(resp: requests.Response) -> NetSuiteError | None:
    """The error for a 3xx reply, or a 2xx reply with a body that is not JSON (None when the reply is fine)."""
    redirect = redirect_error(resp)
    if redirect is not None:
        return redirect
    if not resp.content:
        return None
    content_type = resp.headers.get("Content-Type", "")
    if "json" in content_type.lower():
        return None
    # Never the body: the host may not be NetSuite (netsuite_endpoint).
    return NetSuiteUnexpectedReplyError(
        resp.status_code,
        "UNEXPECTED_REPLY",
        f"{not_netsuite_message(resp)} (the reply is not JSON; the request may not have reached NetSuite: "
        "also check any proxy or firewall in between, or NetSuite's status page if it persists)",
        method=resp.request.method if resp.request is not None else None,
        url=_strip_query(resp.url),
    )


def error_from_response(resp: requests.Response) -> NetSuiteError:
    """Map an error reply to the typed :class:`NetSuiteError` it stands for."""
    status = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    # Only NetSuite's error code and message are repeated, never a raw body (netsuite_endpoint).
    known = netsuite_error_of(body)
    code, detail, path = known if known else ("UNEXPECTED_REPLY", not_netsuite_message(resp), None)
    retry_after = _parse_retry_after(resp.headers.get("Retry-After"))
    cls: type[NetSuiteError]
    if status in (401, 403):
        cls = NetSuiteAuthError
    elif status == 404:
        cls = NetSuiteNotFoundError
    elif status == 429:
        cls = NetSuiteRateLimitError
    elif status >= 500:
        cls = NetSuiteServerError
    else:
        cls = NetSuiteValidationError
    return cls(
        status,
        code,
        detail,
        path=path,
        retry_after=retry_after,
        method=resp.request.method if resp.request is not None else None,
        url=_strip_query(resp.url),
    )


def _strip_query(url: str | None) -> str | None:
    return url.split("?", 1)[0] if url else url


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_retryable(exc: BaseException) -> bool:
    """True for 429, 5xx and dropped connections; False for auth, validation and TLS errors."""
    return is_retryable_failure(exc, NetSuiteError)


def maybe_processed(exc: BaseException) -> bool:
    """Could the server have acted on the request that failed this way?

    429 (refused at the door) and connect failures are safe to resend; a 5xx or a connection
    dropped after the request was sent may have been processed.
    """
    if isinstance(exc, NetSuiteRateLimitError):
        return False
    return not isinstance(exc, requests.exceptions.ConnectTimeout)


def validate_external_id(external_id: str) -> str:
    """Return ``external_id`` or raise :class:`NetSuiteValidationError` (letters, digits, ``_``, ``-``)."""
    if not isinstance(external_id, str) or not EXTERNAL_ID_RE.fullmatch(external_id):
        raise NetSuiteValidationError(
            0,
            "INVALID_EXTERNAL_ID",
            f"external id {external_id!r} may contain only letters, digits, '_' and '-'",
            path="externalId",
        )
    return external_id


__all__ = [
    "EXTERNAL_ID_RE",
    "RETRYABLE_TRANSPORT",
    "NetSuiteAuthError",
    "NetSuiteError",
    "NetSuiteNotFoundError",
    "NetSuiteRateLimitError",
    "NetSuiteRedirectError",
    "NetSuiteServerError",
    "NetSuiteUnexpectedReplyError",
    "NetSuiteValidationError",
    "error_from_response",
    "is_retryable",
    "maybe_processed",
    "redirect_error",
    "unexpected_reply",
    "validate_external_id",
]
