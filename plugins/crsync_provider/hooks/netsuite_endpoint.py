"""Where :class:`~crsync_provider.hooks.netsuite.NetSuiteHook` may send requests, and what of a reply
it may repeat.

The connection's host is typed by whoever may edit connections, and the connection form's Test button
sends a request to it from the API server. So the hook talks to ``https://`` hosts only (plain
``http://`` only on loopback, where the local sandbox runs), never leaves the connection's host, and
never repeats a reply's body: an error shows NetSuite's ``o:errorCode`` and ``detail`` (REST web
services) or the OAuth 2.0 ``error`` / ``error_description`` (token endpoint, RFC 6749 section 5.2);
any other reply is described by its HTTP status and content type only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from crsync_provider.hooks._http import is_loopback
from crsync_provider.hooks.permanent import ConnectionConfigError

#: Longest NetSuite detail repeated in a message (NetSuite's own messages are a sentence or two).
MAX_DETAIL = 500
#: RFC 6749 section 5.2 (token endpoint) and 4.1.2.1 error codes.
OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
    }
)
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9.+-]{1,40}/[A-Za-z0-9.+-]{1,60}$")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class InsecureNetSuiteHostError(ConnectionConfigError):
    """The connection's host is not an ``https://`` URL (nor a loopback one). Retrying cannot fix it, so the
    task fails at once (a :class:`ValueError` too, as before)."""


def checked_base_url(base_url: str, conn_id: str) -> str:
    """Return ``base_url`` when the hook may talk to it, else raise :class:`InsecureNetSuiteHostError`."""
    parts = urlsplit(base_url)
    hostname = parts.hostname or ""
    if hostname and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(hostname))):
        return base_url
    raise InsecureNetSuiteHostError(
        f"Connection {conn_id!r}: the NetSuite host must be an https:// URL, got "
        f"{parts.scheme or '(no scheme)'}://{hostname or '(no host)'}; plain http:// is accepted for loopback "
        "hosts only (the local sandbox). Fix the connection's host, or leave it empty for "
        "https://<account id>.suitetalk.api.netsuite.com"
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme)


def check_same_host(url: str, base_url: str) -> str:
    """Return ``url`` when it is on the connection's host (scheme, host and port), else raise ValueError."""
    if _origin(url) != _origin(base_url):
        target = urlsplit(url)
        raise ValueError(
            f"NetSuiteHook only sends requests to {base_url} (the connection's host), "
            f"not to {target.scheme}://{target.netloc}"
        )
    return url


def content_type_of(resp: requests.Response) -> str:
    """The reply's media type (``text/html``), or a placeholder when absent or odd: never free text."""
    media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
    if not media_type:
        return "no content type"
    return media_type.lower() if _CONTENT_TYPE.match(media_type) else "unrecognised content type"


def not_netsuite_message(resp: requests.Response) -> str:
    """What to say about a reply that is not NetSuite's: status and content type, never the body."""
    return (
        f"the host did not answer like NetSuite (HTTP {resp.status_code}, {content_type_of(resp)}); "
        "check the account id/host"
    )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def netsuite_error_of(body: Any) -> tuple[str, str, str | None] | None:
    """``(code, message, path)`` of a NetSuite error body, or None when ``body`` is not one.

    NetSuite REST web services answer ``{"type", "title", "status", "o:errorDetails": [{"detail",
    "o:errorCode", "o:errorPath"?}, ...]}``; its OAuth 2.0 token endpoint ``{"error",
    "error_description"?}`` with an RFC 6749 error code.
    """
    if not isinstance(body, Mapping):
        return None
    details = body.get("o:errorDetails")
    if isinstance(details, list) and details and all(isinstance(d, Mapping) for d in details):
        first = details[0]
        code, detail = first.get("o:errorCode"), first.get("detail")
        if isinstance(code, str) and isinstance(detail, str) and re.fullmatch(r"[A-Z0-9_]{1,80}", code):
            more = [d["detail"] for d in details[1:] if isinstance(d.get("detail"), str)]
            path = first.get("o:errorPath")
            message = "; ".join([detail, *more])
            return code, _clip(message), _clip(path) if isinstance(path, str) else None
    error = body.get("error")
    if isinstance(error, str) and error in OAUTH_ERRORS:
        description = body.get("error_description")
        return error, _clip(description) if isinstance(description, str) and description else error, None
    return None


__all__ = [
    "InsecureNetSuiteHostError",
    "check_same_host",
    "checked_base_url",
    "content_type_of",
    "is_loopback",
    "netsuite_error_of",
    "not_netsuite_message",
]
