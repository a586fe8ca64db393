"""Issue 13 finding 6: a backfill run and a manual run of sf_opportunity_to_ns_sales_order at the same time,
under the real scheduler of the `make up` stack. Backfill runs are not counted against `max_active_runs` in
Airflow 3, so both runs are active together; the load lock (crsync.runtime.load_lock) must keep their loads
apart: each Opportunity is sent by one run only, never by both at once, and ends Synced with one order.

(Named to sort after test_airflow_ui.py and test_backfill.py, which count the DAG's runs and backfills.)"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
import requests

from tests.ops.conftest import AirflowStack
from tests.ops.test_backfill import parse, seed_opportunities_at

pytestmark = pytest.mark.slow

DAG_ID = "sf_opportunity_to_ns_sales_order"
HOUR = timedelta(hours=1)
OPPORTUNITIES = 6
LOAD_TASKS = ("load_customers", "load_orders", "write_back")
MANUAL_RUN_ID = "overlap_manual_queued"


def end_open_backfills(stack: AirflowStack) -> None:
    """Airflow allows one running backfill per DAG; one that has nothing left to run (e.g. the empty
    re-backfill at the end of test_backfill.py) is only marked completed by the scheduler after 2 minutes."""
    for backfill in stack.api_json("GET", "/backfills", params={"dag_id": DAG_ID})["backfills"]:
        if not backfill["completed_at"]:
            stack.api_json("PUT", f"/backfills/{backfill['id']}/cancel")


def create_backfill(stack: AirflowStack, start: datetime) -> None:
    """The backfill of the window at ``start``, made while the DAG is paused (see ``AirflowStack.paused``);
    the DAG is unpaused afterwards."""
    end_open_backfills(stack)
    with stack.paused(DAG_ID):
        _create_backfill(stack, start)


def _create_backfill(stack: AirflowStack, start: datetime) -> None:
    for _attempt in range(5):
        created = stack.airflow_cli(
            "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", start.isoformat(), "--to-date", start.isoformat(),
            "--max-active-runs", "1", "--reprocess-behavior", "completed",
        )  # fmt: skip
        # SQLite metadata DB: "database is locked" while the scheduler writes (see test_backfill.py).
        if created.returncode == 0 or "database is locked" not in created.stdout + created.stderr:
            break
        # The refused attempt may already have committed the backfill and its run: creating it again
        # (reprocess "completed") would replace a run the scheduler is working on.
        if backfill_run_at(stack, start) is not None:
            return
        time.sleep(3)
    assert created.returncode == 0, created.stdout + created.stderr


def backfill_run_at(stack: AirflowStack, start: datetime) -> dict | None:
    runs = stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill", "limit": 100})
    return next((r for r in runs["dag_runs"] if r["logical_date"] and parse(r["logical_date"]) == start), None)


def wait_for_runs(stack: AirflowStack, run_ids: set[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {
            r["dag_run_id"]: r
            for r in stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
            if r["dag_run_id"] in run_ids
        }
        if len(runs) == len(run_ids) and all(r["state"] in ("success", "failed") for r in runs.values()):
            return runs
        if time.monotonic() > deadline:
            pytest.fail(f"runs not done after {timeout:.0f}s: {({k: v['state'] for k, v in runs.items()})}")
        stack.fail_if_scheduler_died()
        time.sleep(2)


def trigger_manual_run(stack: AirflowStack) -> str:
    """Trigger a queued-mode run by hand, as a user does, with a run id of its own.

    The stack's metadata DB is SQLite: right after ``backfill create`` the scheduler's writes can hold the
    API server's insert past a client timeout (once in CI, 60 s). The trigger is then sent again under the
    same run id, so a first attempt that did commit is found (409) rather than doubled by a second run."""
    body = {"dag_run_id": MANUAL_RUN_ID, "logical_date": None,
            "conf": {"mode": "queued", "dry_run": False, "opportunity_ids": []}}
    for _attempt in range(3):
        try:
            resp = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json=body, timeout=120)
        except requests.exceptions.Timeout:
            continue
        if resp.status_code == 409:  # an earlier attempt's insert went through after its client gave up
            return MANUAL_RUN_ID
        assert resp.ok, f"POST dagRuns: {resp.status_code} {resp.text}"
        return resp.json()["dag_run_id"]
    pytest.fail("the API server did not answer the manual trigger in 3 x 120 s")


def task_instances(stack: AirflowStack, run_id: str) -> list[dict]:
    return stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})[
        "task_instances"
    ]


def sent_opportunities(stack: AirflowStack, run_id: str) -> set[str]:
    """Opportunity ids the run's load_orders tasks wrote to NetSuite (their results, from XCom)."""
    sent: set[str] = set()
    for ti in task_instances(stack, run_id):
        if ti["task_id"] != "load_orders" or ti["state"] != "success":
            continue
        value = stack.xcom_value(DAG_ID, run_id, "load_orders", map_index=ti["map_index"])
        sent |= {r["key"] for r in value["results"]}
    return sent


def load_span(stack: AirflowStack, run_id: str) -> tuple[datetime, datetime]:
    """From the first load task's start to the last one's end, in one run."""
    tis = [t for t in task_instances(stack, run_id) if t["task_id"] in LOAD_TASKS and t["start_date"]]
    assert tis, f"{run_id} ran no load task"
    return min(parse(t["start_date"]) for t in tis), max(parse(t["end_date"]) for t in tis)


def test_a_backfill_run_and_a_manual_run_never_load_at_the_same_time(airflow_stack: AirflowStack):
    stack = airflow_stack
    stack.listed_dags({DAG_ID})
    # A closed window well before the windows test_backfill.py uses; the Opportunities are queued in it.
    window = stack.started_at.replace(minute=0, second=0, microsecond=0) - 12 * HOUR
    opp_ids = seed_opportunities_at(stack, window + timedelta(minutes=30), OPPORTUNITIES)
    before = {r["dag_run_id"] for r in stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})[
        "dag_runs"]}  # fmt: skip
    # Each NetSuite reply takes 300 ms, so a load lasts long enough for two unguarded runs to overlap.
    stack.control("netsuite", "governance", {"latency_ms": 300})
    try:
        create_backfill(stack, window)  # its window [window, window+1h) holds the queued Opportunities
        manual_run_id = trigger_manual_run(stack)
        deadline = time.monotonic() + 60
        while True:
            runs = stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
            new = {r["dag_run_id"]: r for r in runs if r["dag_run_id"] not in before}
            backfill_ids = [k for k, r in new.items() if r["run_type"] == "backfill"]
            if backfill_ids or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert len(backfill_ids) == 1, new
        run_ids = {backfill_ids[0], manual_run_id}
        runs = wait_for_runs(stack, run_ids, timeout=600)
    finally:
        stack.control("netsuite", "governance", {"latency_ms": 0})

    details = {k: stack.describe_run(DAG_ID, k) for k, r in runs.items() if r["state"] != "success"}
    assert not details, "\n\n".join(f"{k}:\n{v}" for k, v in details.items())
    sent = {k: sent_opportunities(stack, k) & set(opp_ids) for k in run_ids}
    spans = {k: load_span(stack, k) for k in run_ids}
    id_list = ", ".join(f"'{i}'" for i in opp_ids)
    orders = stack.suiteql(f"SELECT id, externalid FROM transaction WHERE type = 'SalesOrd' AND externalid IN ({id_list})")
    synced = {r["Id"]: r for r in stack.soql(
        f"SELECT Id, Sync_Status__c, NetSuite_Id__c FROM Opportunity WHERE Id IN ({id_list})")}  # fmt: skip
    print("FINDING 6b", json.dumps({
        "runs": {k: [r["run_type"], r["start_date"], r["end_date"]] for k, r in runs.items()},
        "load_spans": {k: [str(a), str(b)] for k, (a, b) in spans.items()},
        "opportunities_sent_per_run": {k: len(v) for k, v in sent.items()},
        "ns_sales_orders": len(orders),
        "sf_by_status": {s: sum(1 for r in synced.values() if r["Sync_Status__c"] == s)
                         for s in {r["Sync_Status__c"] for r in synced.values()}},
    }))  # fmt: skip

    # The two runs were active at the same time (the backfill is not held back by max_active_runs) ...
    starts = [parse(r["start_date"]) for r in runs.values()]
    ends = [parse(r["end_date"]) for r in runs.values()]
    assert max(starts) < min(ends), f"the runs did not overlap: {runs}"
    # ... each Opportunity was sent by one run only ...
    first, second = sent.values()
    assert not first & second, f"sent by both runs: {sorted(first & second)}"
    assert first | second == set(opp_ids), sent
    # ... and the two runs' loads did not overlap: one run's load tasks ended before the other's began.
    (a_start, a_end), (b_start, b_end) = sorted(spans.values())
    assert a_end <= b_start, f"loads overlapped: {a_start}-{a_end} and {b_start}-{b_end}"
    # Every Opportunity is Synced with its one sales order.
    by_opp: dict[str, list[str]] = {}
    for order in orders:
        by_opp.setdefault(order["externalid"], []).append(order["id"])
    for opp_id in opp_ids:
        assert len(by_opp.get(opp_id, [])) == 1, (opp_id, by_opp.get(opp_id))
        assert synced[opp_id]["Sync_Status__c"] == "Synced" and synced[opp_id]["NetSuite_Id__c"] == by_opp[opp_id][0]
