"""Nothing listening: a loopback host (the local sandbox, not started) fails at once and says to start
the sandbox; a host that answers with errors is retried, and each retry line says what it waits for."""

from __future__ import annotations

import json
import os
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException

from cr_sandbox.process import free_port
from crsync_provider.hooks._http import LoopbackRefusedError
from crsync_provider.hooks.netsuite import NetSuiteError, NetSuiteHook
from crsync_provider.hooks.permanent import ConnectionConfigError
from crsync_provider.hooks.salesforce import SalesforceServerError, SalesforceSyncHook

NS, SF = "netsuite", "salesforce"


def _logged(capfd: pytest.CaptureFixture[str]) -> str:
    """What the hooks logged (Airflow's structlog writes to the process's stdout/stderr)."""
    out, err = capfd.readouterr()
    return out + err


def _point_at(monkeypatch, conn_id: str, field: str, url: str) -> None:
    """Copy the test connection ``conn_id`` with its host (``host`` or extra ``instance_url``) set to ``url``."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    conn = json.loads(os.environ[name])
    if field == "host":
        conn["host"] = url
    else:
        conn["extra"][field] = url
    monkeypatch.setenv(name, json.dumps(conn))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_netsuite_on_a_loopback_host_nobody_listens_on_fails_at_once(netsuite_conn, monkeypatch, capfd, host):
    port = free_port()
    conn_id = netsuite_conn(max_attempts=8, backoff_base=1.0)
    _point_at(monkeypatch, conn_id, "host", f"https://{host}:{port}")
    started = time.monotonic()
    with pytest.raises(LoopbackRefusedError) as raised:
        list(NetSuiteHook(conn_id).suiteql("SELECT id FROM customer"))
    assert time.monotonic() - started < 5
    assert isinstance(raised.value, AirflowFailException)  # no Airflow task retries either
    message = str(raised.value)
    assert f"NetSuite at {host}:{port} refused the connection" in message
    assert "make sandbox" in message and "make up" in message and repr(conn_id) in message
    logged = _logged(capfd)
    assert "retrying" not in logged and "Waiting for" not in logged, logged


def test_salesforce_on_a_loopback_host_nobody_listens_on_fails_at_once(salesforce_conn, monkeypatch, capfd):
    port = free_port()
    conn_id = salesforce_conn()
    _point_at(monkeypatch, conn_id, "instance_url", f"https://127.0.0.1:{port}")
    hook = SalesforceSyncHook(conn_id, max_attempts=8, backoff_base=1.0)
    started = time.monotonic()
    with pytest.raises(LoopbackRefusedError) as raised:
        list(hook.query("SELECT Id FROM Account"))
    assert time.monotonic() - started < 5
    assert isinstance(raised.value, AirflowFailException)
    message = str(raised.value)
    assert f"Salesforce at 127.0.0.1:{port} refused the connection" in message and "make sandbox" in message
    assert "retrying" not in _logged(capfd)


def test_a_missing_ca_bundle_says_to_start_the_sandbox(netsuite_conn, tmp_path):
    conn_id = netsuite_conn(ca_bundle=str(tmp_path / "never-started" / "ca.pem"))
    with pytest.raises(ConnectionConfigError, match="does not exist.*make sandbox"):
        list(NetSuiteHook(conn_id).suiteql("SELECT id FROM customer"))


def test_netsuite_retry_lines_say_what_they_wait_for(ns, netsuite_conn, capfd):
    hook = NetSuiteHook(netsuite_conn(max_attempts=3, backoff_base=0.01, backoff_max=0.05))
    ns.control(NS, "governance", {"rate_503": 1.0, "seed": 3})
    try:
        with pytest.raises(NetSuiteError):
            list(hook.suiteql("SELECT id FROM customer"))
    finally:
        ns.control(NS, "governance", {"rate_503": 0})
    address = f"127.0.0.1:{ns.config.netsuite_port}"
    logged = _logged(capfd)
    assert f"Waiting for NetSuite at {address}: attempt 1/3 failed" in logged, logged
    assert f"Waiting for NetSuite at {address}: attempt 2/3 failed" in logged


def test_salesforce_retry_lines_say_what_they_wait_for(sf, salesforce_conn, capfd):
    hook = SalesforceSyncHook(salesforce_conn(), max_attempts=2, backoff_base=0.01, backoff_max=0.05)
    sf.control(SF, "governance", {"rate_503": 1.0, "seed": 3})
    try:
        with pytest.raises(SalesforceServerError):
            list(hook.query("SELECT Id FROM Account"))
    finally:
        sf.control(SF, "governance", {"rate_503": 0})
    logged = _logged(capfd)
    assert f"Waiting for Salesforce at 127.0.0.1:{sf.config.salesforce_port}: attempt 1/2 failed" in logged, logged
