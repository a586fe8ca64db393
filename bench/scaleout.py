"""Scale-out: the hourly flow's load fanned out over several LocalExecutor workers, under the pool.

A real Airflow (``airflow standalone``: API server, scheduler with LocalExecutor at parallelism 4,
DAG processor, triggerer) on the benchmark's metadata DB, with a settings copy (``CRSYNC_SETTINGS_FILE``)
whose ``batch_sizes.netsuite_writes_per_task`` is small so ``load_orders`` maps over several chunks.
Each ``load_orders`` task takes ``netsuite.concurrency`` slots of the ``netsuite_api`` pool (sized to the
account limit), so however many workers are free, NetSuite never sees more than the limit at once.
The figures: the NetSuite stand-in's peak concurrency and 429 count, and how many load tasks overlapped.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.flows import OPP_CONF, OPP_DAG, fresh
from bench.report import Row
from bench.workspace import NS, VENV_BIN, airflow_cli, by_path, count, stats
from crsync.settings import DEFAULT_SETTINGS_FILE

PARALLELISM = 4


def _settings_copy(path: Path, chunk: int) -> Path:
    text = DEFAULT_SETTINGS_FILE.read_text()
    setting = re.compile(r"^(\s*netsuite_writes_per_task:\s*)\d+", re.MULTILINE)
    if not setting.search(text):
        raise RuntimeError("settings.yaml has no 'netsuite_writes_per_task: <n>' line; update bench/scaleout.py")
    path.write_text(setting.sub(rf"\g<1>{chunk}", text, count=1))
    return path


def _runs(dag_id: str) -> list[Any]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return [(r.run_id, str(r.state), r.run_type, r.start_date)
                for r in session.query(DagRun).filter(DagRun.dag_id == dag_id)]


def _tis(dag_id: str, run_id: str) -> list[dict[str, Any]]:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    with create_session() as session:
        return [
            {"task_id": t.task_id, "map_index": t.map_index, "state": str(t.state), "start": t.start_date,
             "end": t.end_date, "pool": t.pool, "pool_slots": t.pool_slots}
            for t in session.query(TI).filter(TI.dag_id == dag_id, TI.run_id == run_id)
        ]


def _wait_for_api(port: int, proc: subprocess.Popen, work: Path, *, timeout: float) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow standalone exited ({proc.returncode}); see {work / 'standalone.log'}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"Airflow API server not up after {timeout:.0f} s; see {work / 'standalone.log'}")


def _max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def run(sandbox: Any, work: Path, *, limit: int, latency_ms: float, opportunities: int = 300, lines: int = 5,
        chunk: int = 60, deadline_s: float = 240, part: str = "scale-out", wall_time_target: float | None = None,
        ) -> list[Row]:
    """One run of the hourly DAG through a real scheduler. With ``wall_time_target`` (a multiple of the ideal
    ``opportunities x latency / limit``), also the NetSuite load wall time as the stand-in saw it: first
    sales-order PUT received -> last one answered."""
    from cr_sandbox.process import free_port

    # one run id per part: both parts share the bench's metadata DB, and a run id is unique per DAG
    run_id = "bench_" + re.sub(r"\W+", "_", part).strip("_")
    fresh(sandbox)
    sandbox.control("salesforce", "seed", {"opportunities": opportunities, "lines_per_opportunity": lines,
                                           "order_type": "Contract New"})
    sandbox.control(NS, "governance", {"concurrency_limit": limit, "latency_ms": latency_ms})
    sandbox.control(NS, "stats/reset")

    port = free_port()
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone starts `airflow ...`
        "CRSYNC_SETTINGS_FILE": str(_settings_copy(work / "settings-scaleout.yaml", chunk)),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    })
    os.environ["CRSYNC_SETTINGS_FILE"] = env["CRSYNC_SETTINGS_FILE"]  # the CLI calls below share it
    airflow_cli("pools", "set", "netsuite_api", str(limit), "NetSuite account concurrency limit", env=env)
    airflow_cli("dags", "reserialize", env=env, timeout=180)  # DAGs in the DB (with the settings copy)
    airflow_cli("dags", "pause", OPP_DAG, env=env)
    conf = json.dumps(OPP_CONF)
    log = open(work / "standalone.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([str(VENV_BIN / "airflow"), "standalone"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_api(port, proc, work, timeout=300)  # tasks need the Execution API from their first try
        airflow_cli("dags", "trigger", OPP_DAG, "-c", conf, "-r", run_id, env=env)
        airflow_cli("dags", "unpause", OPP_DAG, env=env)
        triggered = datetime.now(UTC)  # the queued run can start from here
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            runs = {r[0]: r[1] for r in _runs(OPP_DAG)}
            if runs.get(run_id) in ("success", "failed") and not any(
                s in ("running", "queued") for s in runs.values()
            ):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited ({proc.returncode}); see {work / 'standalone.log'}")
            time.sleep(2)
        else:
            raise TimeoutError(f"the scale-out run did not finish in {deadline_s:.0f} s; see {work / 'standalone.log'}")
        elapsed = time.monotonic() - started
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        log.close()
        os.environ.pop("CRSYNC_SETTINGS_FILE", None)
        sandbox.control(NS, "governance", {"latency_ms": 0})

    ns = stats(sandbox, NS)
    ours = next(r for r in _runs(OPP_DAG) if r[0] == run_id)
    state, run_started = ours[1], ours[3]
    tis = [t for t in _tis(OPP_DAG, run_id) if t["start"] and t["end"]]
    loads = [t for t in tis if t["task_id"] == "load_orders"]
    overlap_loads = _max_overlap([(t["start"], t["end"]) for t in loads]) if loads else 0
    overlap_all = _max_overlap([(t["start"], t["end"]) for t in tis]) if tis else 0
    first = min((t["start"] for t in tis), default=None)
    startup = (first - run_started).total_seconds() if first and run_started else float("nan")
    too_many = count(ns, status=429)
    peak = ns["peak_concurrency"]
    if state != "success":
        raise RuntimeError(f"scale-out run ended {state}; see {work / 'standalone.log'}")
    rows = _wall_time_rows(part, ns, opportunities, latency_ms, limit, wall_time_target, overlap_loads)
    return rows + [
        Row(
            part,
            f"{opportunities}x{lines} through scheduler + LocalExecutor (parallelism {PARALLELISM}), "
            f"load_orders mapped over {len(loads)} chunks of {chunk}, pool netsuite_api = {limit}",
            f"NetSuite peak concurrency <= {limit}",
            f"peak {peak}; at most {overlap_loads} load task(s) at once (pool_slots "
            f"{loads[0]['pool_slots'] if loads else '?'}), {overlap_all} task(s) of the run at once",
            peak <= limit,
            {"tis": [{**t, "start": str(t["start"]), "end": str(t["end"])} for t in tis],
             "netsuite_requests": by_path(ns)},
        ),
        Row(
            part,
            "NetSuite 429s caused by our traffic (stand-in rejections over the limit)",
            "0",
            f"{too_many} x 429 ({ns['rejected_over_limit']} rejected over limit) in "
            f"{count(ns)} requests ({count(ns, method='PUT')} PUT for {opportunities} orders)",
            too_many == 0 and ns["rejected_over_limit"] == 0,
            {},
        ),
        Row(
            part,
            "start-up: run started by the scheduler -> first task running; run wall time",
            "reported",
            f"{startup:.1f} s; run finished {elapsed:.0f} s after unpause (an hourly scheduled run included)",
            None,
            {"first_task": str(first), "run_started": str(run_started), "unpaused": str(triggered), "deadline_s": deadline_s,
             "window_s": str(timedelta(seconds=elapsed))},
        ),
    ]


def _wall_time_rows(part: str, ns: dict[str, Any], orders: int, latency_ms: float, limit: int,
                    target: float | None, overlap_loads: int) -> list[Row]:
    if target is None:
        return []
    spans = [s for s in ns.get("spans", []) if s["method"] == "PUT" and "salesOrder" in s["path"]]
    load = max((s["seconds"] for s in spans), default=float("nan"))
    ideal = orders * latency_ms / 1000.0 / limit
    return [Row(
        part,
        f"NetSuite load wall time at limit {limit} ({orders:,} orders, {latency_ms:g} ms; first order PUT "
        f"received -> last answered, as the stand-in saw it; {overlap_loads} load task(s) at once)",
        f"<= {target:g}x ideal ({orders:,} x {latency_ms / 1000:g} s / {limit} = {ideal:.1f} s)",
        f"{load:.1f} s = {load / ideal:.2f}x ideal",
        load <= target * ideal,
        {"load_s": load, "ideal_s": ideal, "spans": spans},
    )]
