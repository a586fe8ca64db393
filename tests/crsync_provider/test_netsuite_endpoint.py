"""The NetSuite connection can only reach NetSuite-like hosts and never echoes another host's reply
(issue 13, finding 10): https:// only (loopback excepted, for the sandbox), and only NetSuite's error
code and message in errors and in the connection form's Test button."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from cr_sandbox.config import SandboxConfig
from crsync_provider.hooks.netsuite import NetSuiteHook, NetSuiteRedirectError
from crsync_provider.hooks.permanent import PermanentError

MARKER = "INTERNAL-ADMIN-PANEL-7f3a"  # appears in the bodies of the non-NetSuite replies below


def define_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str, **extra: Any) -> str:
    creds = SandboxConfig().netsuite
    conn = {
        "conn_type": "netsuite",
        "host": host,
        "login": creds.consumer_key,
        "password": creds.consumer_secret,
        "extra": {
            "account_id": creds.account_id,
            "token_id": creds.token_id,
            "token_secret": creds.token_secret,
            "max_attempts": 1,
            **extra,
        },
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """URLs of every HTTP request requests sends in this test (a spy on its transport adapter)."""
    urls: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def spy(self, request, *args, **kwargs):
        urls.append(request.url)
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    return urls


class _Reply(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        status, content_type, body = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in getattr(self.server, "headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def internal_service() -> Iterator[ThreadingHTTPServer]:
    """A plain-HTTP service on loopback that is not NetSuite (what an internal admin page looks like)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Reply)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "host",
    [
        "http://10.0.0.5:8080",
        "http://metadata.internal",
        "http://localhost.example.com",
        "ftp://1234567.suitetalk.api.netsuite.com",
    ],
)
def test_a_host_that_is_not_https_is_refused_before_any_request(monkeypatch, sent, host):
    hook = NetSuiteHook(define_connection(monkeypatch, "ns_plain_http", host))

    ok, message = hook.test_connection()

    assert not ok
    assert "https://" in message and "loopback" in message
    with pytest.raises(ValueError, match="https://"):
        hook.suiteql_page("SELECT id FROM customer", limit=1)
    assert sent == []


@pytest.mark.parametrize("host", ["http://127.0.0.1:8444", "http://localhost:8444", "http://[::1]:8444"])
def test_loopback_may_use_http_for_the_sandbox(monkeypatch, host):
    assert NetSuiteHook(define_connection(monkeypatch, "ns_loopback", host)).base_url == host


def test_requests_stay_on_the_connection_host(monkeypatch, sent, sandbox):
    hook = NetSuiteHook(define_connection(monkeypatch, "ns_same_host", sandbox.netsuite_url))
    with pytest.raises(ValueError, match="only sends requests to"):
        hook.request("GET", "https://example.com/services/rest/record/v1/customer/1")
    with pytest.raises(ValueError, match="only sends requests to"):
        hook.request("GET", "http://127.0.0.1:1/services/rest/record/v1/customer/1")
    assert sent == []


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (200, "text/html", f"<html><body>{MARKER} welcome, admin</body></html>"),
        (502, "text/html; charset=utf-8", f"<html><h1>Bad gateway</h1>{MARKER}</html>"),
        (403, "application/json", json.dumps({"detail": f"{MARKER}: access denied", "title": MARKER})),
        (400, "application/json", json.dumps({"error": f"{MARKER} bad request"})),
    ],
)
def test_a_reply_that_is_not_netsuite_is_not_echoed(monkeypatch, internal_service, status, content_type, body):
    internal_service.reply = (status, content_type, body.encode())  # type: ignore[attr-defined]
    host = f"http://127.0.0.1:{internal_service.server_address[1]}"
    hook = NetSuiteHook(define_connection(monkeypatch, "ns_internal", host))

    ok, message = hook.test_connection()

    assert not ok
    assert MARKER not in message
    assert f"the host did not answer like NetSuite (HTTP {status}, {content_type.split(';')[0]})" in message
    assert "check the account id/host" in message
    with pytest.raises(Exception) as failure:
        hook.suiteql_page("SELECT id FROM customer", limit=1)
    assert MARKER not in str(failure.value)


def test_a_redirect_is_not_followed(monkeypatch, sent, internal_service):
    """A host may not send the hook elsewhere (e.g. to an internal http:// service) with a redirect."""
    internal_service.reply = (302, "text/html", f"<a>{MARKER}</a>".encode())  # type: ignore[attr-defined]
    internal_service.headers = {"Location": "http://10.0.0.5:8080/admin"}  # type: ignore[attr-defined]
    host = f"http://127.0.0.1:{internal_service.server_address[1]}"
    hook = NetSuiteHook(define_connection(monkeypatch, "ns_redirect", host))

    ok, message = hook.test_connection()

    assert not ok and "NetSuite answered 302 redirect to http://10.0.0.5:8080/admin" in message
    assert MARKER not in message
    assert [url for url in sent if "10.0.0.5" in url] == []


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_a_redirect_fails_the_write_and_is_never_read_as_a_record_id(monkeypatch, internal_service, status):
    """A proxy or SSO login redirect is not a success: its Location (ending like a record URL) must never
    become the id written back to Salesforce. It fails at once (a permanent error), naming where it pointed."""
    internal_service.reply = (status, "application/json", b"")  # type: ignore[attr-defined]
    internal_service.headers = {  # type: ignore[attr-defined]
        "Location": "https://sso.example.com/login/record/v1/customer/4711?SAMLRequest=secret"
    }
    host = f"http://127.0.0.1:{internal_service.server_address[1]}"
    hook = NetSuiteHook(define_connection(monkeypatch, "ns_sso_redirect", host, max_attempts=3))

    with pytest.raises(NetSuiteRedirectError) as info:
        hook.upsert_record("customer", "CRT-1", {"companyName": "Redirected Co"})
    with pytest.raises(NetSuiteRedirectError):  # the load fails: no write result says "created"
        hook.write_many(
            [{"key": "a", "record_type": "customer", "external_id": "CRT-2", "body": {"companyName": "x"}}]
        )

    message = str(info.value)
    assert isinstance(info.value, PermanentError) and not info.value.retryable
    assert f"NetSuite answered {status} redirect to https://sso.example.com/login/record/v1/customer/4711;" in message
    assert "account id / REST domain" in message and "SAMLRequest" not in message


def test_a_netsuite_error_shows_its_code_and_message(monkeypatch, sandbox):
    hook = NetSuiteHook(define_connection(monkeypatch, "ns_wrong_secret", sandbox.netsuite_url,
                                          ca_bundle=str(sandbox.ca_path), token_secret="wrong"))

    ok, message = hook.test_connection()

    assert not ok
    assert "INVALID_LOGIN" in message
    assert "Invalid login attempt" in message  # NetSuite's own detail text
