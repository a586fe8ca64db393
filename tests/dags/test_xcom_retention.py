"""XCom storage of real runs: each task's payload is stored once, as plain JSON, and the maintenance DAG
removes the object-storage files of old runs only (issue 13, findings 8 and 11)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

OPP_DAG = "sf_opportunity_to_ns_sales_order"
MAINTENANCE_DAG = "crsync_maintenance"
CONF = {"opportunity_ids": [], "mode": "queued", "dry_run": False}
DAY = 86_400


def xcom_root() -> Path:
    """The XCom object-storage folder the tests' Airflow writes to (file://... from bin/airflow-env.sh)."""
    return Path(os.environ["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH"].removeprefix("file://"))


def run_files(dag_id: str, run_id: str) -> list[Path]:
    folder = xcom_root() / dag_id / run_id
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def xcom_rows(run) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, include_prior_dates=False)
        ).all()
        session.expunge_all()
        return rows


def age(paths: list[Path], days: float) -> None:
    """Set the files' modification time ``days`` back (what an object store reports for an old object)."""
    then = time.time() - days * DAY
    for path in paths:
        os.utime(path, (then, then))


@pytest.fixture
def run_hourly(flow_dags, fresh_sandbox):
    def run():
        fresh_sandbox.control("salesforce", "seed", {"opportunities": 2, "order_type": "Contract New"})
        run = flow_dags[OPP_DAG].test(run_conf=dict(CONF), logical_date=None)
        assert run.state == "success"
        return run

    return run


def test_each_task_stores_its_payload_once_as_plain_json(run_hourly):
    run = run_hourly()

    rows = [row for row in xcom_rows(run) if not row.key.startswith("_link_")]
    per_task = Counter((row.task_id, row.map_index) for row in rows)
    # One row per task instance (the return value), not one more per key of the returned dict.
    assert {row.key for row in rows} == {"return_value"}, sorted({(r.task_id, r.key) for r in rows})
    assert set(per_task.values()) == {1}, per_task
    assert {task for task, _ in per_task} == {
        "extract",
        "transform",
        "load_customers",
        "order_chunks",
        "load_orders",
        "write_back",
        "report",
    }
    # In object storage: at most one file per task instance (small values stay in the DB row).
    files = run_files(run.dag_id, run.run_id)
    assert files, "the batches of a real run should reach object storage"
    assert len(files) <= len(per_task)
    assert Counter(p.parent.name for p in files).most_common(1)[0][1] == 1
    # Plain JSON only: nothing that needs [core] allowed_deserialization_classes beyond Airflow's default.
    for path in files:
        import gzip

        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        assert "__classname__" not in text, path
        json.loads(text)
    for row in rows:
        assert "__classname__" not in json.dumps(row.value), (row.task_id, row.value)
    # ... so the project leaves the deserialization allow-list at Airflow's default.
    from airflow.configuration import conf

    assert conf.get("core", "allowed_deserialization_classes") == "airflow.*"


def test_maintenance_removes_the_xcom_files_of_old_runs_only(flow_dags, run_hourly, caplog):
    old_run = run_hourly()
    recent_run = run_hourly()
    new_run = run_hourly()
    old_files = run_files(OPP_DAG, old_run.run_id)
    recent_files = run_files(OPP_DAG, recent_run.run_id)
    new_files = run_files(OPP_DAG, new_run.run_id)
    assert old_files and recent_files and new_files
    age(old_files, 31)  # beyond the default retention (maintenance.xcom_retention_days: 30)
    age(recent_files, 29)  # within it
    # One file of the recent run is old: the run is kept whole (a cleared task may still read it).
    age(recent_files[:1], 45)
    # Files that are not this backend's (another tool's, or loose in the base folder) are never touched.
    stray = xcom_root() / OPP_DAG / "notes.txt"
    stray.write_text("not an XCom file")
    foreign = xcom_root() / "someone_elses_dag" / "manual__2020-01-01" / "t" / "x.json"
    foreign.parent.mkdir(parents=True, exist_ok=True)
    foreign.write_text("{}")
    age([stray, foreign], 400)

    caplog.set_level("INFO")
    maintenance = flow_dags[MAINTENANCE_DAG].test(run_conf={"dry_run": False}, logical_date=None)

    assert maintenance.state == "success"
    assert not any(p.exists() for p in old_files)
    assert not (xcom_root() / OPP_DAG / old_run.run_id).exists()
    assert all(p.exists() for p in recent_files + new_files)
    assert stray.exists() and foreign.exists()
    log = caplog.text
    assert f"Deleted {len(old_files)} file(s)" in log and f"of run {OPP_DAG}/{old_run.run_id}" in log
    assert f"of run {OPP_DAG}/{recent_run.run_id}" not in log
    (summary,) = [r for r in xcom_rows(maintenance) if r.key == "return_value"]
    value = summary.value if isinstance(summary.value, dict) else json.loads(summary.value)
    assert value["deleted_runs"] == [f"{OPP_DAG}/{old_run.run_id}"]
    assert value["deleted_files"] == len(old_files)


def set_run_state(run, state: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(DagRun).where(DagRun.dag_id == run.dag_id, DagRun.run_id == run.run_id).values(state=state)
        )


def test_maintenance_keeps_a_run_that_is_still_running(flow_dags, run_hourly, caplog):
    stalled = run_hourly()
    files = run_files(OPP_DAG, stalled.run_id)
    age(files, 60)
    set_run_state(stalled, "running")  # e.g. a run stuck for weeks: its batches may still be read
    caplog.set_level("INFO")
    try:
        maintenance = flow_dags[MAINTENANCE_DAG].test(run_conf={"dry_run": False}, logical_date=None)
    finally:
        set_run_state(stalled, "success")

    assert maintenance.state == "success"
    assert all(p.exists() for p in files)
    assert f"Kept {OPP_DAG}/{stalled.run_id}: files older than the cutoff but the run is still queued or running" in caplog.text


def test_maintenance_dry_run_deletes_nothing(flow_dags, run_hourly):
    old_run = run_hourly()
    old_files = run_files(OPP_DAG, old_run.run_id)
    age(old_files, 60)

    maintenance = flow_dags[MAINTENANCE_DAG].test(run_conf={"dry_run": True}, logical_date=None)

    assert maintenance.state == "success"
    assert all(p.exists() for p in old_files)


def test_db_clean_script_uses_the_same_retention(airflow_db):
    """bin/clean-airflow-db: `airflow db clean` before now - maintenance.xcom_retention_days (dry run here)."""
    import subprocess
    from datetime import UTC, datetime, timedelta

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    done = subprocess.run(
        [str(Path(__file__).resolve().parents[2] / "bin/clean-airflow-db"), "--dry-run"],
        env={**env, "CRSYNC_USE_SANDBOX": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert "maintenance.xcom_retention_days = 30" in first
    cutoff = datetime.fromisoformat(first.split("older than ")[1].split(" ")[0])
    assert abs(cutoff - (datetime.now(UTC) - timedelta(days=30))) < timedelta(minutes=5)
    assert "Checking table dag_run" in done.stdout + done.stderr
    assert "Checking table dag\n" not in done.stdout + done.stderr
