"""Fixtures for the provider tests: connections as AIRFLOW_CONN_* JSON, sandbox controls, stats."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cr_sandbox.config import SandboxConfig
from cr_sandbox.process import RunningSandbox

NS = "netsuite"
SF = "salesforce"


def _creds() -> Any:
    return SandboxConfig().netsuite


@pytest.fixture
def ns(sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    """The NetSuite stand-in, reset (catalog only, no faults, limit 5) for each test."""
    sandbox.control(NS, "reset", {"seed": True})
    sandbox.control(NS, "governance", {"concurrency_limit": 5, "latency_ms": 0})
    yield sandbox
    sandbox.control(NS, "governance", {"rate_429": 0, "rate_503": 0, "rate_drop": 0, "latency_ms": 0})


@pytest.fixture
def sf(sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    """The Salesforce stand-in, reset for each test."""
    sandbox.control(SF, "reset")
    yield sandbox
    sandbox.control(SF, "governance", {"rate_429": 0, "rate_503": 0, "rate_drop": 0, "latency_ms": 0})


@pytest.fixture
def netsuite_conn(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Create a `netsuite` connection (env var JSON) for the sandbox: ``netsuite_conn("id", **extra)``."""

    def make(
        conn_id: str = "ns_test",
        *,
        auth: str = "tba",
        login: str | None = None,
        password: str | None = None,
        **extra: Any,
    ) -> str:
        creds = _creds()
        base: dict[str, Any] = {
            "account_id": creds.account_id,
            "auth_method": auth,
            "ca_bundle": str(sandbox.ca_path),
            "concurrency_limit": 5,
            "backoff_base": 0.05,
            "backoff_max": 1.0,
        }
        conn: dict[str, Any] = {"conn_type": "netsuite", "host": sandbox.netsuite_url}
        if auth == "tba":
            conn["login"] = creds.consumer_key if login is None else login
            conn["password"] = creds.consumer_secret if password is None else password
            base.update({"token_id": creds.token_id, "token_secret": creds.token_secret})
        else:
            base.update(
                {
                    "client_id": creds.m2m_client_id,
                    "certificate_id": creds.m2m_certificate_id,
                    "private_key_file": str(sandbox.config.state_dir / "m2m_private.pem"),
                }
            )
        base.update(extra)
        conn["extra"] = {k: v for k, v in base.items() if v is not None}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


@pytest.fixture
def salesforce_conn(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Create a `salesforce` connection in session mode for the sandbox."""

    def make(
        conn_id: str = "sf_test", *, token: str | None = None, via_password: bool = False, **extra: Any
    ) -> str:
        token = token or SandboxConfig().salesforce.access_token
        conn: dict[str, Any] = {"conn_type": "salesforce"}
        base: dict[str, Any] = {
            "instance_url": sandbox.salesforce_url,
            "ca_bundle": str(sandbox.ca_path),
            "version": "59.0",
        }
        if via_password:
            conn["password"] = token
            base["auth_type"] = "session"
        else:
            base["session_id"] = token
        base.update(extra)
        conn["extra"] = base
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


class Calls:
    """The stand-ins' request statistics (``GET /__sandbox/stats``)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox

    def stats(self, system: str) -> dict[str, Any]:
        return self.sandbox.control(system, "stats", method="GET")

    def count(
        self,
        system: str,
        *,
        method: str | None = None,
        path_contains: str = "",
        status: int | None = None,
    ) -> int:
        return sum(
            row["count"]
            for row in self.stats(system)["requests"]
            if (method is None or row["method"] == method)
            and path_contains in row["path"]
            and (status is None or row["status"] == status)
        )

    def reset(self, system: str) -> None:
        self.sandbox.control(system, "stats/reset")

    def snapshot(self, system: str) -> dict[tuple[str, str, int], int]:
        return {(r["method"], r["path"], r["status"]): r["count"] for r in self.stats(system)["requests"]}

    def since(
        self,
        system: str,
        before: dict[tuple[str, str, int], int],
        *,
        method: str | None = None,
        path_contains: str = "",
    ) -> int:
        """Requests since ``before`` (a :meth:`snapshot`) matching method and path."""
        now = self.snapshot(system)
        return sum(
            count - before.get(key, 0)
            for key, count in now.items()
            if (method is None or key[0] == method) and path_contains in key[1]
        )


@pytest.fixture
def calls(sandbox: RunningSandbox) -> Calls:
    return Calls(sandbox)
