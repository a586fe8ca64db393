"""A real backfill of six hourly windows of sf_opportunity_to_ns_sales_order, run by the scheduler of the
`make up` stack against the sandbox: `bin/airflow backfill create` with `mode=window`, then through the
REST API and both stand-ins: every window ran exactly once, each read exactly the Opportunities modified
inside it (half-open [start, end)), and NetSuite holds exactly one sales order per Opportunity."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.ops.conftest import AirflowStack

pytestmark = pytest.mark.slow

DAG_ID = "sf_opportunity_to_ns_sales_order"
WINDOWS = 6
PER_WINDOW = 2
HOUR = timedelta(hours=1)


def parse(value: str) -> datetime:
    """API (`...Z`, `+00:00`) and Salesforce (`....000+0000`) datetimes."""
    value = value.replace("Z", "+00:00")
    if value.endswith("+0000"):
        value = value[:-5] + "+00:00"
    return datetime.fromisoformat(value).astimezone(UTC)


def seed_opportunities_at(stack: AirflowStack, moment: datetime, count: int) -> list[str]:
    """Seed `count` Processing Opportunities whose SystemModstamp is ``moment`` (the Salesforce stand-in's
    clock moved back for the seed, then put back to real time so later writes are stamped now)."""
    stack.control("salesforce", "clock", {"reset": True})
    offset_days = (moment - datetime.now(UTC)).total_seconds() / 86400
    stack.control("salesforce", "clock", {"advance_days": offset_days})
    try:
        seeded = stack.control(
            "salesforce",
            "seed",
            {"opportunities": count, "order_type": "Contract New", "sync_status": "Processing"},
        )
    finally:
        stack.control("salesforce", "clock", {"reset": True})
    return seeded["opportunity_ids"]


def test_backfill_runs_every_hourly_window_once_and_duplicates_nothing(airflow_stack: AirflowStack):
    stack = airflow_stack
    stack.listed_dags({DAG_ID})
    # Six closed windows [first, first+1h) ... [last, last+1h), all ending before the stack started: what
    # bin/up seeded and other tests wrote since is modified later, so in none of them.
    last = stack.started_at.replace(minute=0, second=0, microsecond=0) - HOUR
    first = last - (WINDOWS - 1) * HOUR
    starts = [first + k * HOUR for k in range(WINDOWS)]

    # Opportunities modified inside each window: in the middle, and one in the window's first second
    # (it belongs to that window only: [start, end)).
    expected: dict[datetime, list[str]] = {}
    for start in starts:
        expected[start] = seed_opportunities_at(stack, start + timedelta(minutes=30), PER_WINDOW - 1)
        expected[start] += seed_opportunities_at(stack, start + timedelta(seconds=1), 1)
    all_ids = [i for ids in expected.values() for i in ids]
    id_list = ", ".join(f"'{i}'" for i in all_ids)
    stamps = {
        r["Id"]: parse(r["SystemModstamp"])
        for r in stack.soql(f"SELECT Id, SystemModstamp FROM Opportunity WHERE Id IN ({id_list})")
    }
    for start, ids in expected.items():
        for opp_id in ids:
            assert start <= stamps[opp_id] < start + HOUR, (opp_id, stamps[opp_id], start)

    conf = {"mode": "window", "dry_run": False, "opportunity_ids": []}
    created = create_backfill(
        stack,
        "--from-date", starts[0].isoformat(),
        "--to-date", starts[-1].isoformat(),  # inclusive: the logical date (window start) of the last run
        "--dag-run-conf", json.dumps(conf),
        "--max-active-runs", "3",
    )  # fmt: skip  (the DAG is unpaused after it: tasks of a paused DAG never run)
    assert created.returncode == 0, created.stdout + created.stderr

    runs = wait_for_backfill_runs(stack, count=WINDOWS, timeout=420)

    # Every window ran exactly once, as a backfill run, successfully, with its own half-open interval.
    assert len(runs) == WINDOWS
    details = {
        r["dag_run_id"]: stack.describe_run(DAG_ID, r["dag_run_id"]) for r in runs if r["state"] != "success"
    }
    assert not details, "\n\n".join(f"{k}:\n{v}" for k, v in details.items())
    assert {r["run_type"] for r in runs} == {"backfill"}
    assert {json.dumps(r["conf"], sort_keys=True) for r in runs} == {json.dumps(conf, sort_keys=True)}
    intervals = sorted((parse(r["data_interval_start"]), parse(r["data_interval_end"])) for r in runs)
    assert intervals == [(s, s + HOUR) for s in starts]
    for (_, end), (next_start, _) in zip(intervals, intervals[1:], strict=False):
        assert end == next_start  # contiguous, no overlap, no gap

    # Each run read exactly the Opportunities of its window (the run summary of its `report` task).
    for run in runs:
        summary = stack.xcom_value(DAG_ID, run["dag_run_id"], "report")
        start = parse(run["data_interval_start"])
        assert summary["read"] == len(expected[start]), (run["dag_run_id"], summary)
        assert summary["created"] + summary["updated"] >= len(expected[start]) and summary["failed"] == 0, (
            summary
        )

    # Nothing duplicated: exactly one sales order per Opportunity, and every Opportunity is Synced with it.
    orders = stack.suiteql("SELECT id, externalid FROM transaction WHERE type = 'SalesOrd'")
    by_opp: dict[str, list[str]] = {}
    for order in orders:
        by_opp.setdefault(str(order.get("externalid")), []).append(str(order["id"]))
    synced = {
        r["Id"]: r
        for r in stack.soql(
            f"SELECT Id, Sync_Status__c, NetSuite_Id__c FROM Opportunity WHERE Id IN ({id_list})"
        )
    }
    for opp_id in all_ids:
        assert len(by_opp.get(opp_id, [])) == 1, f"{opp_id}: sales orders {by_opp.get(opp_id)}"
        assert synced[opp_id]["Sync_Status__c"] == "Synced"
        assert synced[opp_id]["NetSuite_Id__c"] == by_opp[opp_id][0]

    # The backfill as Airflow records it: one, with the conf, completed (the scheduler marks it so).
    (backfill,) = wait_for_backfills_completed(stack, timeout=120)
    assert backfill["dag_run_conf"] == conf and backfill["reprocess_behavior"] == "none"

    # The same range again (default reprocess behaviour `none`): every window already has its run, so
    # no run is created.
    again = create_backfill(stack, "--from-date", starts[0].isoformat(), "--to-date", starts[-1].isoformat())
    assert again.returncode == 0, again.stdout + again.stderr
    backfill_runs = stack.api_json(
        "GET", f"/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill", "limit": 100}
    )
    assert backfill_runs["total_entries"] == WINDOWS


def create_backfill(stack: AirflowStack, *args: str):
    """``airflow backfill create --dag-id <the hourly DAG> *args`` with the DAG paused (see
    ``AirflowStack.paused``), sent again while SQLite says "database is locked": the local SQLite metadata DB
    refuses a second writer outright when a read lock would have to be upgraded, e.g. while the scheduler
    writes, and Airflow then removes what the attempt had made. Pausing, retrying and unpausing is what a
    user does (README, troubleshooting); PostgreSQL deployments do not see this (tests/cluster runs it
    without). The DAG is unpaused afterwards."""
    with stack.paused(DAG_ID):
        for _attempt in range(5):
            created = stack.airflow_cli("backfill", "create", "--dag-id", DAG_ID, *args)
            if created.returncode == 0 or "database is locked" not in created.stdout + created.stderr:
                return created
            time.sleep(5)
    return created


def wait_for_backfill_runs(stack: AirflowStack, *, count: int, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = stack.api_json(
            "GET", f"/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill", "limit": 100}
        )["dag_runs"]
        if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        if time.monotonic() > deadline:
            states = {r["dag_run_id"]: r["state"] for r in runs}
            pytest.fail(f"backfill not done after {timeout:.0f}s: {states}")
        stack.fail_if_scheduler_died()
        time.sleep(3)


def wait_for_backfills_completed(stack: AirflowStack, *, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        backfills = stack.api_json("GET", "/backfills", params={"dag_id": DAG_ID})["backfills"]
        if backfills and all(b["completed_at"] for b in backfills):
            return backfills
        if time.monotonic() > deadline:
            pytest.fail(f"backfill not marked completed after {timeout:.0f}s: {backfills}")
        time.sleep(2)
