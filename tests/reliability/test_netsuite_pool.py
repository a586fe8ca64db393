"""Finding 4 of issue 13: a ``netsuite_api`` pool smaller than the load tasks' slots left ``load_orders``
waiting for ever (the scheduler never starts a task whose ``pool_slots`` exceed the pool). The first task of
the run now reads the pool through Airflow's REST API v2 (connection ``airflow_api``) and fails the run at
once, without retries, naming both numbers and the fix; with a pool that fits, the load runs.

A real Airflow API server (``airflow.api_fastapi.app.create_app``, simple auth manager, this session's
metadata DB) is served by uvicorn on a free port in this process; the pool is set through its REST API.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from cr_sandbox.process import free_port
from tests.reliability.conftest import SF, orders_by_external_id

POOL = "netsuite_api"


class AirflowApi:
    """The REST API v2 of the in-process server, as admin."""

    def __init__(self, url: str, password: str) -> None:
        self.url = url
        self.password = password
        token = requests.post(
            f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def set_pool(self, slots: int) -> None:
        body = {"name": POOL, "slots": slots, "include_deferred": False}
        resp = requests.patch(
            f"{self.url}/api/v2/pools/{POOL}",
            params={"update_mask": "slots"},
            json=body,
            headers=self.headers,
            timeout=30,
        )
        if resp.status_code == 404:
            resp = requests.post(f"{self.url}/api/v2/pools", json=body, headers=self.headers, timeout=30)
        assert resp.ok, resp.text
        assert requests.get(f"{self.url}/api/v2/pools/{POOL}", headers=self.headers, timeout=30).json()["slots"] == slots


@pytest.fixture(scope="module")
def airflow_api(airflow_db: str) -> Iterator[AirflowApi]:
    import os

    import uvicorn
    from airflow.api_fastapi.app import create_app

    app = create_app("core")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.2)
    passwords = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    api = AirflowApi(f"http://127.0.0.1:{port}", json.loads(passwords.read_text())["admin"])
    yield api
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def with_api_connection(airflow_api: AirflowApi, monkeypatch: pytest.MonkeyPatch) -> AirflowApi:
    """Connection ``airflow_api`` (type http) to the server, with an Airflow user's login."""
    conn = {"conn_type": "http", "host": airflow_api.url, "login": "admin", "password": airflow_api.password}
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(conn))
    return airflow_api


def test_a_pool_smaller_than_the_load_slots_fails_the_run_at_once_and_says_how_to_fix_it(
    fresh, sandbox_env, with_api_connection, run_opportunity_flow: Callable, ns_sql, caplog, capfd
):
    with_api_connection.set_pool(2)  # netsuite.concurrency is 5 (packaged settings)
    opp_ids = fresh.control(SF, "seed", {"opportunities": 1, "order_type": "Contract New"})["opportunity_ids"]

    started = time.monotonic()
    with caplog.at_level(logging.INFO):
        run = run_opportunity_flow()
    elapsed = time.monotonic() - started

    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert tis["extract"].state == "failed" and tis["extract"].try_number == 1  # no retry
    assert tis["load_orders"].state == "upstream_failed"
    assert elapsed < 60, elapsed
    output = capfd.readouterr()
    logged = caplog.text + output.out + output.err
    assert "Pool netsuite_api has 2 slot(s) but task load_customers takes 5" in logged or (
        "Pool netsuite_api has 2 slot(s) but task load_orders takes 5" in logged
    )
    assert "(netsuite.concurrency: 5 in the integration settings)" in logged
    assert "NETSUITE_POOL_SLOTS=5 bin/setup-airflow" in logged and "Admin > Pools" in logged
    assert "lower netsuite.concurrency to 2 or less" in logged
    assert orders_by_external_id(ns_sql, opp_ids) == {}  # nothing was written


def test_a_pool_that_fits_lets_the_load_run(
    fresh, sandbox_env, with_api_connection, run_opportunity_flow: Callable, ns_sql, caplog
):
    with_api_connection.set_pool(5)
    opp_ids = fresh.control(SF, "seed", {"opportunities": 2, "order_type": "Contract New"})["opportunity_ids"]

    with caplog.at_level(logging.INFO):
        run = run_opportunity_flow()

    assert run.state == "success"
    assert orders_by_external_id(ns_sql, opp_ids) == {i: 1 for i in opp_ids}
