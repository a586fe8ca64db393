"""NetSuite-shaped error bodies and the exception the stand-in raises to produce them."""

from __future__ import annotations

from typing import Any

from cr_sandbox.governance import json_bytes

# NetSuite puts an RFC 2616 section link in "type"; these are the values its REST API uses.
_TYPES = {
    400: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
    401: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.2",
    403: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.4",
    404: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.5",
    405: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.6",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.5.1",
    503: "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.5.4",
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Record Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)


class NetSuiteError(Exception):
    """An error the REST API reports with its standard body.

    :param status: HTTP status.
    :param code: ``o:errorCode`` (e.g. ``INVALID_CONTENT``).
    :param detail: human-readable detail; names the offending field where there is one.
    :param path: ``o:errorPath`` (JSON path into the request body), if any.
    """

    def __init__(self, status: int, code: str, detail: str, path: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.detail, self.path)


def error_body(status: int, code: str, detail: str, path: str | None = None) -> dict[str, Any]:
    """Build ``{"type","title","status","o:errorDetails":[...]}``."""
    item: dict[str, Any] = {"detail": detail, "o:errorCode": code}
    if path is not None:
        item["o:errorPath"] = path
    return {
        "type": _TYPES.get(status, _TYPES[400]),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "o:errorDetails": [item],
    }


def governance_error_body(status: int, reason: str) -> tuple[dict[str, str], bytes]:
    """Error body for replies produced by the governance middleware (429, 500, 503)."""
    if status == 429:
        # Guessed: NetSuite documents 429 for REST over the concurrency limit but not its error code.
        body = error_body(
            429,
            "CONCURRENCY_LIMIT_EXCEEDED",
            "Concurrent request limit exceeded. Request blocked.",
        )
    elif status == 503:
        body = error_body(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable. Try again later.")
    else:
        body = error_body(
            status,
            "UNEXPECTED_ERROR",
            "An unexpected error occurred. Error ID: sandbox-injected-fault.",
        )
    headers = {"Content-Type": "application/vnd.oracle.resource+json; type=error; charset=UTF-8"}
    if status in (429, 503):
        headers["Retry-After"] = "1"
    return headers, json_bytes(body)


def invalid_login() -> NetSuiteError:
    return NetSuiteError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)


def invalid_content(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_CONTENT", detail, path)


def invalid_field_value(field: str, value: Any, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(
        400,
        "INVALID_CONTENT",
        f"Error while accessing a resource. You have entered an Invalid Field Value {value} "
        f"for the following field: {field}",
        path or field,
    )


def not_found(record_type: str, record_id: str) -> NetSuiteError:
    return NetSuiteError(
        404,
        "NONEXISTENT_ID",
        f"The record instance does not exist. Provide a valid record instance ID. "
        f"(record type {record_type}, id {record_id})",
    )
