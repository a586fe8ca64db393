"""Finding 3 of issue 13: nothing bounded a run. A stalled NetSuite or Salesforce reply now ends the request
within the settings' read timeout (one retry), with an error that says what timed out and what to check, and
the failure notifier reports the task as timed out.

The stand-ins stall through their governance knobs (``rate_slow`` 1, ``slow_ms`` 30 s): the request is
handled but its reply leaves 30 s later, as a hung vendor or proxy would behave.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.reliability.conftest import NO_FAULTS, NS, SF

STALL_MS = 30_000
READ_TIMEOUT = 1.5


@pytest.fixture
def short_timeouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The packaged settings with ``http.read_timeout`` 1.5 s and ``http.connect_timeout`` 2 s."""
    from crsync.settings import DEFAULT_SETTINGS_FILE

    text = DEFAULT_SETTINGS_FILE.read_text()
    assert "  read_timeout: 120\n" in text and "  connect_timeout: 10\n" in text
    path = tmp_path / "settings.yaml"
    path.write_text(
        text.replace("  read_timeout: 120\n", f"  read_timeout: {READ_TIMEOUT}\n").replace(
            "  connect_timeout: 10\n", "  connect_timeout: 2\n"
        )
    )
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(path))
    return path


@pytest.fixture
def stalled(fresh):
    """``stall(system)``: every vendor request of that stand-in answers 30 s late; undone afterwards."""

    touched: list[str] = []

    def stall(system: str) -> None:
        touched.append(system)
        fresh.control(system, "governance", {"rate_slow": 1.0, "slow_ms": STALL_MS})

    yield stall
    for system in touched:
        fresh.control(system, "governance", {**NO_FAULTS, "slow_ms": 2000})
        if system != NS:
            continue  # only NetSuite's stand-in enforces a concurrency limit
        # Requests the client gave up on are still held by the stand-in until their stall ends; wait for
        # them, so they do not count against a later test's concurrency limit.
        deadline = time.monotonic() + STALL_MS / 1000 + 15
        while True:
            fresh.control(system, "stats/reset")  # the peak restarts at the requests in flight now
            if fresh.control(system, "stats", method="GET")["peak_concurrency"] == 0:
                break
            assert time.monotonic() < deadline, f"{system}: stalled requests still in flight"
            time.sleep(1)


def test_a_stalled_salesforce_query_fails_within_the_read_timeout(sandbox_env, short_timeouts, stalled):
    from crsync.runtime.flows.common import salesforce_hook
    from crsync_provider.hooks._http import HttpTimeoutError

    stalled(SF)
    hook = salesforce_hook()
    started = time.monotonic()
    with pytest.raises(HttpTimeoutError) as caught:
        list(hook.query("SELECT Id FROM Account LIMIT 1"))
    elapsed = time.monotonic() - started
    # Two attempts of 1.5 s plus one backoff (at most 0.5 s), never the 30 s stall.
    assert elapsed < 2 * READ_TIMEOUT + 3, elapsed
    message = str(caught.value)
    assert message.startswith("Salesforce sent no reply within 1.5 s (read timeout, http.read_timeout")
    assert "GET https://" in message and "/query" in message and "after 2 attempt(s)" in message
    assert "Check Salesforce's status page" in message


def test_a_stalled_netsuite_query_fails_within_the_read_timeout(sandbox_env, short_timeouts, stalled):
    from crsync.runtime.flows.common import netsuite_hook
    from crsync_provider.hooks._http import HttpTimeoutError

    stalled(NS)
    hook = netsuite_hook()
    started = time.monotonic()
    with pytest.raises(HttpTimeoutError) as caught:
        hook.suiteql_page("SELECT id FROM customer", limit=1)
    elapsed = time.monotonic() - started
    assert elapsed < 2 * READ_TIMEOUT + 3, elapsed
    message = str(caught.value)
    assert message.startswith("NetSuite sent no reply within 1.5 s (read timeout, http.read_timeout")
    assert "POST https://" in message and "/query/v1/suiteql" in message and "after 2 attempt(s)" in message


def test_a_netsuite_connection_timeout_extra_still_wins(sandbox_env, short_timeouts, ns_connection):
    from crsync.runtime.flows.common import netsuite_hook

    ns_connection(timeout=7, connect_timeout=3)
    assert netsuite_hook().timeouts == (3.0, 7.0)
    ns_connection(timeout=None, connect_timeout=None)
    assert netsuite_hook().timeouts == (2.0, READ_TIMEOUT)


def test_a_bulk_job_poll_is_bounded_too(sandbox_env, short_timeouts, stalled):
    """Bulk API 2.0: creating, uploading and polling the job all go through the bounded session."""
    from crsync.runtime.flows.common import salesforce_hook
    from crsync_provider.hooks._http import HttpTimeoutError

    stalled(SF)
    started = time.monotonic()
    with pytest.raises(HttpTimeoutError, match="Salesforce sent no reply within 1.5 s"):
        salesforce_hook().upsert_bulk("Account", "NetSuite_Id__c", [{"Name": "A", "NetSuite_Id__c": "1"}])
    assert time.monotonic() - started < 2 * READ_TIMEOUT + 3


def test_a_stalled_run_fails_and_the_alert_says_it_timed_out(
    sandbox_env, short_timeouts, stalled, flow_dags, run_opportunity_flow, monkeypatch, caplog, capfd
):
    """A real run of the hourly DAG against a stalled Salesforce: extract fails in seconds, not minutes, and
    the notifier's message (real context of the real failed task) says what timed out and what to check.

    Airflow retries are switched off for this run only: ``dag.test`` waits out each ``retry_delay`` (1, then
    2 minutes), which says nothing about the timeout.
    """
    for task in flow_dags["sf_opportunity_to_ns_sales_order"].tasks:
        monkeypatch.setattr(task, "retries", 0)
    stalled(SF)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        run = run_opportunity_flow()
    elapsed = time.monotonic() - started
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert run.state == "failed" and tis["extract"].state == "failed", {k: t.state for k, t in tis.items()}
    # Two attempts of 1.5 s plus the task's start on a busy machine; without the timeout one attempt alone
    # would wait out the 30 s stall.
    assert tis["extract"].duration < STALL_MS / 1000, tis["extract"].duration
    assert elapsed < 2 * STALL_MS / 1000, elapsed
    output = capfd.readouterr()
    logged = caplog.text + output.out + output.err
    assert "Contract renewal sync timed out: DAG sf_opportunity_to_ns_sales_order" in logged
    assert "task extract (try 1)" in logged
    assert "Salesforce sent no reply within 1.5 s (read timeout, http.read_timeout" in logged
    assert "Check Salesforce's status page" in logged


def test_the_alert_for_an_execution_timeout_says_how_long_and_what_to_check():
    """The context Airflow passes to ``on_failure_callback`` when ``execution_timeout`` ran out."""
    from datetime import timedelta

    from airflow.sdk.exceptions import AirflowTaskTimeout

    from crsync.runtime.alerts import failure_message

    task = SimpleNamespace(execution_timeout=timedelta(minutes=45))
    ti = SimpleNamespace(
        dag_id="sf_opportunity_to_ns_sales_order", task_id="load_orders", try_number=3, task=task, log_url=None
    )
    context = {
        "ti": ti,
        "task": task,
        "dag_run": SimpleNamespace(run_id="scheduled__2026-11-26T10:00:00+00:00"),
        "exception": AirflowTaskTimeout("Timeout, PID: 4242"),
    }
    text = failure_message(context)
    assert text.startswith("Contract renewal sync timed out: DAG sf_opportunity_to_ns_sales_order")
    assert "Task load_orders ran longer than its execution_timeout of 0:45:00 and was stopped" in text
    assert "check" in text.lower() and "netsuite_api" in text


def test_the_alert_for_a_dagrun_timeout_names_the_run_and_its_limit():
    """The DAG-level callback context after ``dagrun_timeout`` (reason ``timed_out``)."""
    from datetime import timedelta

    from crsync.runtime.alerts import SyncFailureNotifier, failure_message

    dag = SimpleNamespace(dag_id="sf_opportunity_to_ns_sales_order", dagrun_timeout=timedelta(hours=3))
    context = {"dag": dag, "run_id": "scheduled__2026-11-26T10:00:00+00:00", "reason": "timed_out"}
    text = failure_message(context)
    assert "timed out: DAG sf_opportunity_to_ns_sales_order, run scheduled__2026-11-26T10:00:00+00:00" in text
    assert "dagrun_timeout of 3:00:00" in text
    # The DAG-level notifier reports only timeouts: a failed task was already reported by its own callback.
    assert SyncFailureNotifier(run_timeouts_only=True).should_notify({**context, "reason": "task_failure"}) is False
    assert SyncFailureNotifier(run_timeouts_only=True).should_notify(context) is True
