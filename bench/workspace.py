"""The benchmark's throw-away world: a temp Airflow home configured like the tests, and the sandbox.

Airflow reads its configuration when first imported, so :func:`configure_airflow` must run before
anything imports ``airflow`` (``bench/__main__.py`` calls it first thing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
NS = "netsuite"
SF = "salesforce"


def project_airflow_env(airflow_home: Path) -> dict[str, str]:
    """The variables ``bin/airflow-env.sh`` exports (sandbox connections excluded: set per sandbox)."""
    out = subprocess.run(
        ["bash", "-c", f'source "{ROOT}/bin/airflow-env.sh" && env -0'],
        env={**os.environ, "AIRFLOW_HOME": str(airflow_home), "CRSYNC_USE_SANDBOX": "0", "ROOT": str(ROOT)},
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    pairs = (item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("AIRFLOW") or k == "NO_PROXY"}


def configure_airflow(airflow_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Point this process (and the subprocesses it starts) at a fresh Airflow home; returns the env."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    for key in [k for k in os.environ if k.startswith("AIRFLOW_CONN_") or k.startswith("AIRFLOW__")]:
        os.environ.pop(key)
    env = project_airflow_env(airflow_home)
    env.update(extra or {})
    os.environ.update(env)
    return env


def sandbox_connection_env(sandbox: Any) -> dict[str, str]:
    """SANDBOX_* and AIRFLOW_CONN_NETSUITE_DEFAULT / _SALESFORCE_DEFAULT for this sandbox."""
    from cr_sandbox.config import SandboxConfig
    from cr_sandbox.connections import env_var_name, sandbox_connections

    env = dict(sandbox.env())
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for conn_id, definition in sandbox_connections(SandboxConfig()).items():
            env[env_var_name(conn_id)] = json.dumps(definition)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return env


def airflow_cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    """Run ``airflow <args>`` with this process's environment; raise with its output on failure."""
    proc = subprocess.run(
        [str(VENV_BIN / "airflow"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or dict(os.environ),
    )
    if proc.returncode:
        raise RuntimeError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def migrate_db() -> float:
    started = time.perf_counter()
    airflow_cli("db", "migrate", timeout=400)
    return time.perf_counter() - started


def stats(sandbox: Any, system: str) -> dict[str, Any]:
    return sandbox.control(system, "stats", method="GET")


def count(
    snapshot: dict[str, Any] | list[dict[str, Any]],
    *,
    method: str | None = None,
    path: str = "",
    status: int | None = None,
    exclude: str | None = None,
) -> int:
    rows = snapshot["requests"] if isinstance(snapshot, dict) else snapshot
    return sum(
        r["count"]
        for r in rows
        if (method is None or r["method"] == method)
        and path in r["path"]
        and (exclude is None or exclude not in r["path"])
        and (status is None or r["status"] == status)
    )


def by_path(snapshot: dict[str, Any]) -> dict[str, int]:
    """``METHOD path -> count`` (all statuses), for the JSON detail."""
    out: dict[str, int] = {}
    for r in snapshot["requests"]:
        key = f"{r['method']} {r['path']}" + ("" if r["status"] < 300 else f" [{r['status']}]")
        out[key] = out.get(key, 0) + r["count"]
    return out


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Requests made between two stats snapshots (the Salesforce stand-in has no stats reset)."""
    seen = {(r["method"], r["path"], r["status"]): r["count"] for r in before["requests"]}
    rows = []
    for r in after["requests"]:
        n = r["count"] - seen.get((r["method"], r["path"], r["status"]), 0)
        if n:
            rows.append({**r, "count": n})
    return {
        "requests": rows,
        "total": sum(r["count"] for r in rows),
        "peak_concurrency": after.get("peak_concurrency"),
        "rejected_over_limit": after.get("rejected_over_limit", 0) - before.get("rejected_over_limit", 0),
    }
