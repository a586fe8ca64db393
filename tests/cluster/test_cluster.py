"""The hourly flow on the production engine (`make cluster`: PostgreSQL, Redis, CeleryExecutor, two workers),
against the sandbox with NetSuite's account concurrency limit, as issue 14 asks:

1. 1,000 queued Opportunities at limit 5 / pool 5, ``load_orders`` over 5 chunks, tasks on both workers;
2. the same with the worker holding a load task SIGKILLed (its whole process tree, as a lost machine);
3. limit 15 / pool 15 (SuiteCloud Plus): 3 load tasks at once across the workers, 1,500 orders at 50 ms;
4. a real ``airflow backfill create`` of 6 hourly windows on PostgreSQL (no "database is locked" retry).

Each prints its figures (``make cluster-test`` runs pytest with ``-s``). Timing figures depend on the
machine's load (2 cores shared with everything else here); the bounds are the issue's.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from tests.cluster.conftest import OPP_DAG, Cluster, wait_until
from tests.ops.test_backfill import HOUR, parse, seed_opportunities_at

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

QUEUED = {"opportunity_ids": [], "mode": "queued", "dry_run": False}
LINES = 2
RUN_TIMEOUT = 900.0


# ---------------------------------------------------------------------------------------------- helpers
def fresh(cluster: Cluster, *, limit: int, latency_ms: float, pool: int) -> None:
    """Both stand-ins empty but for the shared catalog; NetSuite at ``limit``; the pool at ``pool`` slots."""
    cluster.control("netsuite", "reset", {})
    cluster.control("salesforce", "reset", {})
    cluster.control("netsuite", "seed", {"contracts": 0})
    cluster.control("salesforce", "seed", {"catalog_only": True})
    cluster.control("netsuite", "governance", {"concurrency_limit": limit, "latency_ms": latency_ms})
    cluster.api_json("PATCH", "/pools/netsuite_api", params={"update_mask": "slots"},
                     json={"name": "netsuite_api", "slots": pool, "include_deferred": False})
    cluster.api_json("PATCH", f"/dags/{OPP_DAG}", json={"is_paused": False})


def seed(cluster: Cluster, count: int) -> list[str]:
    seeded = cluster.control("salesforce", "seed", {"opportunities": count, "lines_per_opportunity": LINES,
                                                     "order_type": "Contract New", "sync_status": "Processing"})
    cluster.control("netsuite", "stats/reset")
    return seeded["opportunity_ids"]


def trigger(cluster: Cluster, run_id: str) -> None:
    cluster.listed_dags({OPP_DAG})
    cluster.api_json("POST", f"/dags/{OPP_DAG}/dagRuns",
                     json={"dag_run_id": run_id, "logical_date": None, "conf": QUEUED})


def finish(cluster: Cluster, run_id: str) -> float:
    started = time.monotonic()
    run = cluster.wait_for_run(OPP_DAG, run_id, timeout=RUN_TIMEOUT)
    assert run["state"] == "success", cluster.describe_run(OPP_DAG, run_id)
    return time.monotonic() - started


def outcome(cluster: Cluster, run_id: str, opportunity_ids: list[str]) -> dict[str, Any]:
    """The figures of a run: NetSuite's peak concurrency and 429s, orders per Opportunity, Sync status, and
    which worker ran which task."""
    ns = cluster.control("netsuite", "stats", method="GET")
    orders = cluster.suiteql("SELECT id, externalid FROM transaction WHERE type = 'SalesOrd'")
    per_opportunity = Counter(str(o.get("externalid")) for o in orders)
    statuses = {r["Id"]: r for r in cluster.soql_all("SELECT Id, Sync_Status__c, NetSuite_Id__c FROM Opportunity")}
    tis = cluster.task_instances(OPP_DAG, run_id)
    loads = [ti for ti in tis if ti["task_id"] == "load_orders"]
    puts = [s for s in ns["spans"] if s["method"] == "PUT" and "salesOrder" in s["path"]]
    return {
        "peak": ns["peak_concurrency"],
        "429s": sum(r["count"] for r in ns["requests"] if r["status"] == 429),
        "rejected_over_limit": ns["rejected_over_limit"],
        "orders": len(orders),
        "orders_for_these": sum(per_opportunity[i] for i in opportunity_ids),
        "missing": [i for i in opportunity_ids if per_opportunity[i] == 0],
        "duplicated": {i: n for i, n in per_opportunity.items() if n > 1},
        "not_synced": [i for i in opportunity_ids if statuses.get(i, {}).get("Sync_Status__c") != "Synced"],
        "put_requests": sum(r["count"] for r in ns["requests"] if r["method"] == "PUT" and "salesOrder" in r["path"]),
        "netsuite_load_s": max((s["seconds"] for s in puts), default=0.0),
        "tasks_by_worker": dict(Counter(ti["hostname"] for ti in tis if ti["hostname"])),
        "loads_by_worker": dict(Counter(ti["hostname"] for ti in loads)),
        "load_tasks": len(loads),
        "load_overlap": _max_overlap(loads),
        "load_tasks_s": _timeline(loads),
    }


def _timeline(tis: list[dict[str, Any]]) -> list[str]:
    """Each task's start (seconds after the first one started), duration and worker."""
    ran = sorted((t for t in tis if t["start_date"] and t["end_date"]), key=lambda t: t["start_date"])
    if not ran:
        return []
    first = parse(ran[0]["start_date"])
    return [f"[{t['map_index']}] +{(parse(t['start_date']) - first).total_seconds():.1f}s "
            f"{(parse(t['end_date']) - parse(t['start_date'])).total_seconds():.1f}s on {t['hostname']}" for t in ran]


def _max_overlap(tis: list[dict[str, Any]]) -> int:
    events = sorted([(parse(t["start_date"]), 1) for t in tis if t["start_date"] and t["end_date"]]
                    + [(parse(t["end_date"]), -1) for t in tis if t["start_date"] and t["end_date"]])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def report(title: str, figures: dict[str, Any], **extra: Any) -> None:
    shown = {k: (v if not isinstance(v, list) or k.endswith("_s") else f"{len(v)} {v[:5]}")
             for k, v in {**figures, **extra}.items()}
    print(f"\n[cluster-test] {title}\n" + "\n".join(f"  {k}: {v}" for k, v in shown.items()), flush=True)


def assert_exactly_once(figures: dict[str, Any], count: int) -> None:
    assert figures["missing"] == [], f"{len(figures['missing'])} Opportunities have no order"
    assert figures["duplicated"] == {}, f"duplicated orders: {figures['duplicated']}"
    assert figures["orders"] == figures["orders_for_these"] == count
    assert figures["not_synced"] == [], f"{len(figures['not_synced'])} Opportunities not Synced"


# ---------------------------------------------------------------------------------------------- scenarios
def test_1000_opportunities_at_limit_5_across_both_workers(cluster: Cluster):
    fresh(cluster, limit=5, latency_ms=50, pool=5)
    cluster.set_chunk(200)  # 1,000 orders -> load_orders mapped over 5 chunks
    ids = seed(cluster, 1000)
    trigger(cluster, "cluster_limit5")
    wall = finish(cluster, "cluster_limit5")
    figures = outcome(cluster, "cluster_limit5", ids)
    report("1,000 Opportunities, NetSuite limit 5, pool 5", figures, run_wall_s=round(wall, 1))

    assert figures["peak"] <= 5
    assert figures["429s"] == 0 and figures["rejected_over_limit"] == 0
    assert_exactly_once(figures, 1000)
    assert figures["load_tasks"] == 5
    assert set(figures["tasks_by_worker"]) == {"worker-1", "worker-2"}, figures["tasks_by_worker"]


def test_a_worker_killed_while_it_loads_loses_and_duplicates_nothing(cluster: Cluster):
    # 150 ms per request: a 200-order chunk takes ~6 s at 5 at once, time enough to kill its worker mid-load.
    fresh(cluster, limit=5, latency_ms=150, pool=5)
    cluster.set_chunk(200)
    ids = seed(cluster, 1000)
    run_id = "cluster_worker_killed"
    trigger(cluster, run_id)

    def loading() -> dict[str, Any] | None:
        running = [ti for ti in cluster.task_instances(OPP_DAG, run_id)
                   if ti["task_id"] == "load_orders" and ti["state"] == "running" and ti["hostname"]]
        if not running:
            return None
        ns = cluster.control("netsuite", "stats", method="GET")
        puts = sum(r["count"] for r in ns["requests"] if r["method"] == "PUT" and "salesOrder" in r["path"])
        return running[0] if puts >= 20 else None  # it is writing orders now

    victim = wait_until(loading, timeout=600, what="a load_orders task writing orders")
    worker = victim["hostname"]
    killed_pids = cluster.kill_machine(worker)
    ns = cluster.control("netsuite", "stats", method="GET")
    puts_at_kill = sum(r["count"] for r in ns["requests"] if r["method"] == "PUT" and "salesOrder" in r["path"])
    wall = finish(cluster, run_id)

    tries = cluster.tries(OPP_DAG, run_id, "load_orders", victim["map_index"])
    figures = outcome(cluster, run_id, ids)
    restarted = f"{worker} exited (killed by SIGKILL); starting it again" in cluster.output()
    report(
        "1,000 Opportunities, a worker SIGKILLed mid-load (limit 5, pool 5)", figures,
        killed=f"{worker}: {len(killed_pids)} processes (Celery, its pool, the task) while it ran "
               f"load_orders[{victim['map_index']}] try {victim['try_number']}; {puts_at_kill} order PUTs sent by then",
        tries_of_that_task=[f"try {t['try_number']} on {t['hostname']}: {t['state']}" for t in tries],
        worker_restarted_by_make_cluster=restarted, run_wall_s=round(wall, 1),
    )

    assert len(tries) >= 2, tries
    first, last = tries[0], tries[-1]
    assert first["hostname"] == worker and first["state"] in ("failed", "up_for_retry"), first
    assert last["state"] == "success" and last["try_number"] > first["try_number"], last
    assert restarted, cluster.output()[-2000:]
    assert_exactly_once(figures, 1000)
    assert figures["peak"] <= 5
    assert figures["429s"] == 0 and figures["rejected_over_limit"] == 0


def test_suitecloud_plus_limit_15_runs_load_tasks_at_once_across_workers(cluster: Cluster):
    fresh(cluster, limit=15, latency_ms=50, pool=15)
    cluster.set_chunk(500)  # 1,500 orders -> 3 chunks; each load task takes 5 slots: 3 at once in 15
    ids = seed(cluster, 1500)
    trigger(cluster, "cluster_limit15")
    wall = finish(cluster, "cluster_limit15")
    figures = outcome(cluster, "cluster_limit15", ids)
    ideal = 1500 * 0.05 / 15
    report("1,500 Opportunities, NetSuite limit 15 (SuiteCloud Plus), pool 15, 50 ms", figures,
           ideal_s=ideal, ratio=round(figures["netsuite_load_s"] / ideal, 2), run_wall_s=round(wall, 1))

    assert figures["peak"] <= 15
    assert figures["429s"] == 0 and figures["rejected_over_limit"] == 0
    assert_exactly_once(figures, 1500)
    assert figures["load_overlap"] >= 2, "load tasks did not run at once"
    assert len(figures["loads_by_worker"]) == 2, f"load tasks on one worker only: {figures['loads_by_worker']}"
    assert figures["put_requests"] == 1500
    # Issue 14's speed target (1.25 x the ideal) is a figure, printed here and measured by `make bench`
    # (part scaleout15), not a timed assertion: on 2 cores the one-process stand-in's own CPU (about 6 ms a
    # PUT, 300 PUTs a second at limit 15) decides it (docs/benchmarks.md, "Cluster"); issue 14 stays open on it.
    met = figures["netsuite_load_s"] <= 1.25 * ideal
    print(f"[cluster-test] limit-15 target 1.25 x {ideal:.1f} s: {'met' if met else 'NOT MET'} "
          f"({figures['netsuite_load_s']:.2f} s, {figures['netsuite_load_s'] / ideal:.2f}x; the ideal at limit 5 "
          f"is {1500 * 0.05 / 5:.1f} s)", flush=True)


def test_backfill_of_six_hourly_windows_on_postgresql(cluster: Cluster):
    fresh(cluster, limit=5, latency_ms=0, pool=5)
    last = cluster.started_at.replace(minute=0, second=0, microsecond=0) - HOUR
    starts = [last - (5 - k) * HOUR for k in range(6)]
    expected = {start: seed_opportunities_at(cluster, start + timedelta(minutes=30), 2) for start in starts}
    ids = [i for chunk in expected.values() for i in chunk]
    conf = {"mode": "window", "dry_run": False, "opportunity_ids": []}
    created = cluster.airflow_cli(
        "backfill", "create", "--dag-id", OPP_DAG, "--from-date", starts[0].isoformat(),
        "--to-date", starts[-1].isoformat(), "--dag-run-conf", json.dumps(conf), "--max-active-runs", "3",
    )
    # Once, no "database is locked" retry: PostgreSQL takes the scheduler's writes and this one at once.
    assert created.returncode == 0, created.stdout + created.stderr

    started = time.monotonic()

    def done() -> list[dict[str, Any]] | None:
        runs = cluster.api_json("GET", f"/dags/{OPP_DAG}/dagRuns",
                                params={"run_type": "backfill", "limit": 100})["dag_runs"]
        return runs if len(runs) == 6 and all(r["state"] in ("success", "failed") for r in runs) else None

    runs = wait_until(done, timeout=RUN_TIMEOUT, what="6 backfill runs finished", interval=3)
    wall = time.monotonic() - started
    failed = {r["dag_run_id"]: cluster.describe_run(OPP_DAG, r["dag_run_id"]) for r in runs if r["state"] != "success"}
    assert not failed, "\n\n".join(f"{k}:\n{v}" for k, v in failed.items())
    intervals = sorted((parse(r["data_interval_start"]), parse(r["data_interval_end"])) for r in runs)
    read = {parse(r["data_interval_start"]): cluster.xcom_value(OPP_DAG, r["dag_run_id"], "report")["read"]
            for r in runs}
    figures = outcome(cluster, runs[0]["dag_run_id"], ids)
    shown = {k: figures[k] for k in ("peak", "429s", "orders", "orders_for_these", "missing", "duplicated",
                                     "not_synced", "put_requests")}
    report("airflow backfill create, 6 hourly windows (PostgreSQL)", shown,
           windows=[f"{s:%H:%M}-{e:%H:%M} read {read[s]}" for s, e in intervals], backfill_wall_s=round(wall, 1))

    assert intervals == [(s, s + HOUR) for s in starts]
    assert all(read[s] == len(expected[s]) for s in starts), read
    assert_exactly_once(figures, len(ids))
