"""Parts that need no stand-in traffic: transform memory, XCom row size, DAG parse time."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.report import Row
from bench.workspace import ROOT

MEMORY_TARGET_MB = 500
XCOM_ROW_TARGET = 1024
PARSE_TARGET_S = 0.3


def _run_json(args: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ), cwd=ROOT
    )
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# Peak memory of the transform over 100,000 line records (a subprocess: its own peak RSS)
# --------------------------------------------------------------------------------------------------


def transform_memory(lines_total: int, sample_path: Path, lines_per_opp: int = 5) -> list[Row]:
    args = ["-m", "bench.memprobe", str(lines_total), str(lines_per_opp)]
    if sample_path.exists():
        args.append(str(sample_path))
    got = _run_json(args, timeout=300)
    peak = got["peak_rss_mb"]
    return [
        Row(
            "memory",
            f"transform peak memory, {got['lines']:,} line records ({got['opportunities']:,} Opportunities "
            f"x {lines_per_opp}; shape: {got['shape']})",
            f"< {MEMORY_TARGET_MB} MB",
            f"peak RSS {peak:.0f} MB (process incl. input; before transform {got['rss_before_mb']:.0f} MB, "
            f"imports only {got['rss_imports_mb']:.0f} MB); {got['transform_s']:.1f} s",
            peak < MEMORY_TARGET_MB,
            got,
        )
    ]


# --------------------------------------------------------------------------------------------------
# XCom rows in the metadata DB for a 10,000-record batch (through the configured backend)
# --------------------------------------------------------------------------------------------------


_XCOM_DAG = """
from airflow.sdk import dag, task

RECORDS = {records}


@dag(dag_id="crsync_bench_xcom", schedule=None, catchup=False)
def crsync_bench_xcom():
    @task
    def batch() -> list[dict]:
        # design.md NetSuite write instructions, the shape the hourly flow's batches have
        return [
            {{
                "key": f"006BENCH{{i:010d}}",
                "record_type": "salesOrder",
                "external_id": f"006BENCH{{i:010d}}",
                "body": {{"entity": {{"id": "1001"}}, "custbody_order_type": {{"id": "1"}},
                         "item": {{"items": [{{"item": {{"id": "501"}}, "quantity": 2, "rate": 1200.0}}]}}}},
                "transform_from": None,
            }}
            for i in range(RECORDS)
        ]

    @task
    def size(rows: list[dict]) -> int:
        return len(rows)

    size(batch())


crsync_bench_xcom()
"""


def xcom_size(records: int, work: Path) -> list[Row]:
    """Run a one-task DAG returning a ``records``-long batch through ``dag.test()``: the task's return
    value goes through the configured XComObjectStorageBackend like every flow's batches. Then read the
    stored row from the metadata DB's xcom table and find the batch file in the object-storage folder.
    (The DAG file lives in the work folder; it is registered under the project's bundle for the run.)"""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    dag_id = "crsync_bench_xcom"
    path = work / "bench_xcom_dag.py"
    path.write_text(_XCOM_DAG.format(records=records))
    bag = DagBag(dag_folder=str(path))
    if bag.import_errors:
        raise RuntimeError(f"bench XCom DAG: {bag.import_errors}")
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    run = bag.dags[dag_id].test(logical_date=None)
    with create_session() as session:
        stored = session.execute(
            select(XComModel.task_id, XComModel.key, func.length(XComModel.value), XComModel.value).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run.run_id
            )
        ).all()
    batch_rows = [r for r in stored if r[0] == "batch"]
    if not batch_rows:
        raise RuntimeError(f"no XCom row for {dag_id}.batch (run {run.state})")
    length = int(batch_rows[0][2])
    ref = batch_rows[0][3]
    ref_text = ref.decode() if isinstance(ref, bytes) else ref if isinstance(ref, str) else json.dumps(ref)
    folder = os.environ["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH"].removeprefix("file://")
    files = [p for p in Path(folder).rglob("*") if p.is_file() and f"/{dag_id}/" in str(p) and "/batch/" in str(p)]
    in_store = any(f.name in ref_text for f in files)
    file_bytes = max((f.stat().st_size for f in files), default=0)
    got = 0
    for f in files:  # read the batch back from object storage: it is all there
        import gzip

        data = f.read_bytes()
        got = len(json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data))
    return [
        Row(
            "xcom",
            f"XCom row in the metadata DB for a {records:,}-record batch",
            f"< {XCOM_ROW_TARGET} bytes, batch in object storage",
            f"{length} bytes in the xcom table; the batch ({got:,} records, {file_bytes / 1024:.0f} KiB gzip) "
            f"{'in object storage' if in_store else 'NOT found in object storage'}",
            length < XCOM_ROW_TARGET and in_store and got == records,
            {"rows": [{"task_id": r[0], "key": r[1], "bytes": int(r[2])} for r in stored], "reference": ref_text,
             "files": [str(f) for f in files], "run_state": str(run.state)},
        )
    ]


def xcom_rows_of_runs() -> list[Row]:
    """The largest XCom row written by every flow run of this benchmark (they went through the same backend)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        rows = session.execute(
            select(XComModel.dag_id, XComModel.task_id, func.length(XComModel.value)).where(
                XComModel.dag_id != "crsync_bench_xcom"
            )
        ).all()
    if not rows:
        return []
    biggest = max(rows, key=lambda r: int(r[2] or 0))
    return [
        Row(
            "xcom",
            f"largest XCom row of all flow runs above ({len(rows)} rows)",
            f"< {XCOM_ROW_TARGET} bytes",
            f"{int(biggest[2])} bytes ({biggest[0]}.{biggest[1]})",
            int(biggest[2]) < XCOM_ROW_TARGET,
            {},
        )
    ]


# --------------------------------------------------------------------------------------------------
# DAG parse time (each file in a fresh interpreter, after importing Airflow)
# --------------------------------------------------------------------------------------------------

_PARSE_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import airflow
from airflow.sdk import dag, task
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
stats = [{"file": s.file, "duration": s.duration.total_seconds() if hasattr(s.duration, "total_seconds") else s.duration,
          "dags": s.dag_num} for s in bag.dagbag_stats]
print(json.dumps({"airflow_import_s": t1 - t0, "dagbag_s": t2 - t1, "stats": stats,
                  "errors": {k: str(v)[:300] for k, v in bag.import_errors.items()}}))
"""


def parse_times(repeats: int = 1) -> list[Row]:
    files = sorted((ROOT / "dags").glob("*.py"))
    # warm-up: compiles every module to .pyc once (a fresh clone has none), as a long-running
    # dag processor would have; with PYTHONDONTWRITEBYTECODE set (some shells and images set it) every
    # probe would compile the project's modules again and time the compiler, not the parse
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _run_json(["-c", _PARSE_PROBE, str(ROOT / "dags")], timeout=180, env=env)
    rows: list[Row] = []
    worst = 0.0
    for path in files:
        runs = [_run_json(["-c", _PARSE_PROBE, str(path)], timeout=180, env=env) for _ in range(repeats)]
        if runs[0]["errors"]:
            rows.append(Row("parse", f"parse {path.name}", f"< {PARSE_TARGET_S} s", f"import error {runs[0]['errors']}", False))
            continue
        parse = statistics.median(r["dagbag_s"] for r in runs)
        worst = max(worst, parse)
        rows.append(
            Row(
                "parse",
                f"parse {path.name} (DagBag, fresh interpreter, after importing Airflow)",
                f"< {PARSE_TARGET_S} s",
                f"{parse:.3f} s (Airflow import {statistics.median(r['airflow_import_s'] for r in runs):.1f} s)",
                parse < PARSE_TARGET_S,
                {"runs": runs},
            )
        )
    return rows
