"""Salesforce error types and the reply parser: which replies are retried and which fail the task at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from crsync_provider.hooks._http import is_retryable_failure
from crsync_provider.hooks.permanent import PermanentError, credentials_fix

DEFAULT_CONN_ID = SalesforceHook.default_conn_name
LOCK_ERROR = "UNABLE_TO_LOCK_ROW"


class SalesforceSyncError(Exception):
    """A Salesforce error reply: HTTP status, ``errorCode`` and message.

    :param status: HTTP status (0 when no reply).
    :param code: Salesforce ``errorCode`` (e.g. ``MALFORMED_QUERY``).
    :param message: Salesforce's message.
    """

    retryable = False

    def __init__(self, status: int, code: str, message: str, *, url: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.url = url
        super().__init__(f"Salesforce {status} {code}: {message}" + (f" ({url})" if url else ""))


class SalesforceSessionError(SalesforceSyncError, PermanentError):
    """401 ``INVALID_SESSION_ID``: the session token is wrong or expired. Never retried; fails the task."""


class SalesforceLimitExceededError(SalesforceSyncError, PermanentError):
    """403 ``REQUEST_LIMIT_EXCEEDED``: the org's daily API allowance is used up. Never retried; fails the task."""


class SalesforceLoginError(SalesforceSyncError, PermanentError):
    """The login (password, JWT or client credentials) was refused. Never retried; fails the task."""


class SalesforceServerError(SalesforceSyncError):
    """5xx (or 429): retried with backoff."""

    retryable = True


def translate_error(exc: SalesforceError, conn_id: str = DEFAULT_CONN_ID) -> SalesforceSyncError:
    """simple-salesforce's error as one of ours, with Salesforce's own code and message and what to fix."""
    content = exc.content
    # Only Salesforce's own error code and message are repeated, never another reply's body (a proxy's
    # or an internal service's page must not be echoed into logs or the connection form).
    code = "UNKNOWN_ERROR"
    message = f"the host did not answer like Salesforce (HTTP {exc.status}); check the connection's instance_url"
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        code = str(content[0].get("errorCode") or code)
        message = str(content[0].get("message") or message)
    elif isinstance(content, Mapping):
        code = str(content.get("errorCode") or content.get("error") or code)
        message = str(content.get("message") or content.get("error_description") or message)
    url = str(exc.url).split("?", 1)[0] if exc.url else None
    status = int(exc.status or 0)
    if status == 401:
        hint = (
            " - the session id / access token was refused; renew it (session mode) or check the "
            f"connection's credentials. {credentials_fix(conn_id, 'the session id or credentials')}"
        )
        return SalesforceSessionError(status, code, message + hint, url=url)
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED" and "ConcurrentPerOrgLongTxn" in message:
        # Too many long-running requests at this moment (not the daily allowance): worth a retry.
        return SalesforceServerError(status, code, message, url=url)
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        hint = " - the org's API request limit is used up; retry after the 24-hour window rolls"
        return SalesforceLimitExceededError(status, code, message + hint, url=url)
    if status >= 500 or status == 429:
        return SalesforceServerError(status, code, message, url=url)
    return SalesforceSyncError(status, code, message, url=url)


#: Login faults Salesforce answers while it cannot serve logins (SOAP ``sf:exceptionCode`` or OAuth
#: ``error``): retried like a 5xx. A refused login (``INVALID_LOGIN``, ``invalid_grant``, ...) is not.
LOGIN_UNAVAILABLE_CODES = frozenset({"SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "unknown_error"})


def login_error(exc: SalesforceAuthenticationFailed, conn_id: str = DEFAULT_CONN_ID) -> SalesforceSyncError:
    """A failed login as one of ours: 429/5xx, a fault saying Salesforce cannot serve logins now, or a page
    that is not Salesforce's is retried (by Airflow); a refused login fails the task at once.

    simple-salesforce raises ``SalesforceAuthenticationFailed`` for every login reply but 200; its ``code``
    is the HTTP status when the reply had no error body it could read (a maintenance or gateway page), else
    Salesforce's own error code. Its ``message`` is the class's unfilled template: ``str(exc)`` holds the reason.
    """
    code = str(exc.code if exc.code is not None else "")
    status = int(code) if code.isdigit() else 0
    if status == 429 or status >= 500 or code in LOGIN_UNAVAILABLE_CODES:
        # Salesforce maintenance or overload: the credentials are fine, a later try may log in. Not the
        # reply's body (a proxy's or maintenance page must not be echoed into logs).
        return SalesforceServerError(
            status,
            "LOGIN_UNAVAILABLE",
            f"the Salesforce login answered {f'HTTP {status}' if status else code} (maintenance or overload); "
            "retry later, or check Salesforce's status page if it persists",
        )
    if status or not code:
        # A page Salesforce's login did not write (a maintenance page, a proxy's or firewall's): retried,
        # and not echoed (simple-salesforce gives its status only when the page is not well-formed XML).
        return SalesforceServerError(
            status, "LOGIN_UNEXPECTED_REPLY", "the Salesforce login answered with a page that is not "
            f"Salesforce's{f' (HTTP {status})' if status else ''}: maintenance, or a proxy or firewall in "
            "between; check the connection's login URL (domain) and the network path if it persists")  # fmt: skip
    return SalesforceLoginError(401, code or "LOGIN_FAILED", f"{exc}. " + credentials_fix(conn_id, "the login"))


def is_retryable(exc: BaseException) -> bool:
    """5xx/429 replies and dropped connections; never a TLS or URL problem, auth or validation error."""
    return is_retryable_failure(exc, SalesforceSyncError)


def error_code(result: Mapping[str, Any]) -> str | None:
    """The first ``statusCode`` of a per-record result, ``None`` when it succeeded."""
    errors = result.get("errors") or []
    return str(errors[0].get("statusCode")) if errors else None


def unexpected_count(expected: int, reply: Any) -> SalesforceSyncError:
    """A collections reply that does not hold one result per record sent."""
    return SalesforceSyncError(0, "UNEXPECTED_RESPONSE", f"expected {expected} results, got {reply!r}")
