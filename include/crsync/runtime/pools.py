"""Check the ``netsuite_api`` pool at the start of a run, before any task waits on it.

Why at the start of the run, and not in the load task itself: the scheduler never starts a task whose
``pool_slots`` exceed its pool's total ("Requested pool slots ... are greater than total pool slots",
airflow/jobs/scheduler_job_runner.py); such a task stays ``scheduled`` for ever and its own code never runs.
So the first task of a run (``extract``, through :func:`crsync.runtime.flows.common.run_scope`) compares
the largest ``pool_slots`` of the DAG's NetSuite tasks with the pool's size and fails the run at once,
without retries, with both numbers and the fix.

How the pool size is read: Airflow 3 gives tasks no metadata-DB access, and the Task SDK (execution API)
has no pool call, so it is read through Airflow's public REST API v2, ``GET /api/v2/pools/{name}``, with
the Airflow connection ``airflow_api`` (type ``http``: host = the API server's base URL; login/password
of an Airflow user allowed to read pools, exchanged at ``POST /auth/token``, or password alone = an
access token). Without that connection the check is skipped with a warning; the run is then still bounded
by its ``dagrun_timeout``. docs/operations.md, "The netsuite_api pool".
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from crsync.runtime.dag_defaults import NETSUITE_POOL

log = logging.getLogger(__name__)

AIRFLOW_API_CONN_ID = "airflow_api"


def required_slots(dag: Any, pool: str = NETSUITE_POOL) -> tuple[int, str | None]:
    """The largest ``pool_slots`` among the DAG's tasks in ``pool``, and that task's id."""
    tasks = [t for t in getattr(dag, "tasks", []) if getattr(t, "pool", None) == pool]
    if not tasks:
        return 0, None
    widest = max(tasks, key=lambda t: int(t.pool_slots))
    return int(widest.pool_slots), widest.task_id


def pool_size(pool: str, *, timeout: tuple[float, float]) -> int | None:
    """Total slots of ``pool`` through the REST API v2; None when connection ``airflow_api`` is not defined.

    :raises AirflowFailException: the pool does not exist.
    """
    try:
        conn = BaseHook.get_connection(AIRFLOW_API_CONN_ID)
    except AirflowNotFoundException:
        return None
    base = (conn.host or "").rstrip("/")
    if "://" not in base:  # the password goes to this host: plain http only on this machine
        from crsync_provider.hooks._http import is_loopback

        host = base.split("/", 1)[0].split(":", 1)[0]
        base = f"{'http' if is_loopback(host) else 'https'}://{base}"
    if conn.port and base.count(":") < 2:
        base = f"{base}:{conn.port}"
    with requests.Session() as session:
        token = conn.password or ""
        if conn.login:
            resp = session.post(
                f"{base}/auth/token", json={"username": conn.login, "password": conn.password}, timeout=timeout
            )
            resp.raise_for_status()
            token = resp.json()["access_token"]
        resp = session.get(
            f"{base}/api/v2/pools/{pool}", headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
    if resp.status_code == 404:
        raise AirflowFailException(
            f"The Airflow pool {pool} does not exist, so no NetSuite task can start. Create it: "
            f"NETSUITE_POOL_SLOTS=<your account's concurrency limit> bin/setup-airflow, or Admin > Pools."
        )
    resp.raise_for_status()
    return int(resp.json()["slots"])


def check_netsuite_pool(context: Any, *, concurrency_setting: int, timeout: tuple[float, float]) -> None:
    """Fail the run at once when a NetSuite task of its DAG needs more slots than ``netsuite_api`` has.

    :param concurrency_setting: ``netsuite.concurrency`` (the load tasks' slots), named in the message.
    :param timeout: (connect, read) seconds for the REST API calls.
    :raises AirflowFailException: the pool is smaller than a task's slots (no retry can fix that).
    """
    needed, task_id = required_slots(context.get("dag"))
    if not needed:
        return
    try:
        size = pool_size(NETSUITE_POOL, timeout=timeout)
    except (requests.RequestException, KeyError, ValueError) as exc:
        # A broken check must not stop the sync: say so, and let the run go on (dagrun_timeout bounds it).
        log.warning("Pool %s not checked: Airflow's REST API call failed (%s)", NETSUITE_POOL, exc)
        return
    if size is None:
        log.warning(
            "Pool %s not checked: no Airflow connection %r (docs/operations.md, 'The netsuite_api pool'). "
            "If the pool has fewer than %d slots, task %s will wait until the run's dagrun_timeout.",
            NETSUITE_POOL,
            AIRFLOW_API_CONN_ID,
            needed,
            task_id,
        )
        return
    if 0 <= size < needed:  # -1: an unlimited pool
        raise AirflowFailException(
            f"Pool {NETSUITE_POOL} has {size} slot(s) but task {task_id} takes {needed} "
            f"(netsuite.concurrency: {concurrency_setting} in the integration settings); the scheduler would "
            f"never start it. Fix one of: size the pool to your NetSuite account's concurrency limit "
            f"(NETSUITE_POOL_SLOTS={needed} bin/setup-airflow, or Admin > Pools > {NETSUITE_POOL}: "
            f"{needed} slots), or lower netsuite.concurrency to {size} or less. Nothing was read or written."
        )
    log.info("Pool %s: %d slot(s); its widest NetSuite task (%s) takes %d", NETSUITE_POOL, size, task_id, needed)
