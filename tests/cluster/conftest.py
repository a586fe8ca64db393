"""`make cluster` under test: bin/cluster (PostgreSQL, Redis, the sandbox, API server, scheduler, DAG
processor, triggerer and two Celery workers) as a child process with its own cluster folder and free ports,
shared by the tests of this folder (``make cluster-test``, marker ``cluster``).

The cluster runs with ``[scheduler] use_job_schedule = False`` (only the runs the tests trigger or
backfill) and a settings copy (``CRSYNC_SETTINGS_FILE``) whose ``batch_sizes.netsuite_writes_per_task``
each test sets (read by the tasks when they run), so ``load_orders`` maps over several chunks.
Clients talk to the processes over HTTP(S) only, with :class:`tests.ops.conftest.AirflowStack`.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from cr_sandbox.config import SandboxConfig
from cr_sandbox.process import free_port
from crsync.settings import DEFAULT_SETTINGS_FILE
from tests.ops.conftest import AirflowStack, _session_processes, _stack_env, _wait_until_up

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 150.0
OPP_DAG = "sf_opportunity_to_ns_sales_order"


@dataclass
class Cluster(AirflowStack):
    """A running bin/cluster: :class:`AirflowStack`'s clients plus the cluster's own processes."""

    cluster_dir: Path = Path()
    settings_path: Path = Path()

    def pid(self, component: str) -> int:
        return int((self.cluster_dir / "run" / f"{component}.pid").read_text())

    def kill_machine(self, component: str) -> list[int]:
        """SIGKILL every process of a component's session (a worker: Celery, its pool, the task processes),
        as if its machine were lost. Returns the pids killed."""
        sid = self.pid(component)
        pids = _session_processes(sid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def set_chunk(self, writes_per_task: int) -> None:
        """``batch_sizes.netsuite_writes_per_task`` of the settings copy (the tasks read it when they run)."""
        text = self.settings_path.read_text()
        pattern = re.compile(r"^(\s*netsuite_writes_per_task:\s*)\d+", re.MULTILINE)
        assert pattern.search(text), "settings.yaml has no 'netsuite_writes_per_task: <n>' line"
        self.settings_path.write_text(pattern.sub(rf"\g<1>{writes_per_task}", text, count=1))

    def cli_env(self) -> dict[str, str]:
        """The environment bin/cluster gave its components (``<cluster dir>/airflow.env``), for CLI commands."""
        env = dict(self.env)
        for line in (self.cluster_dir / "airflow.env").read_text().splitlines():
            name, _, value = line.removeprefix("declare -x ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
        return env

    def airflow_cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ROOT / "bin/airflow"), *args], env=self.cli_env(), capture_output=True, text=True, timeout=timeout
        )

    def soql_all(self, query: str) -> list[dict[str, Any]]:
        """SOQL with every page (nextRecordsUrl)."""
        headers = {"Authorization": f"Bearer {self.sandbox.salesforce.access_token}"}
        resp = requests.get(f"{self.sandbox.salesforce_url}/services/data/v59.0/query", params={"q": query},
                            headers=headers, verify=str(self.sandbox.ca_path), timeout=60)
        resp.raise_for_status()
        page = resp.json()
        records = list(page["records"])
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            resp = requests.get(f"{self.sandbox.salesforce_url}{page['nextRecordsUrl']}", headers=headers,
                                verify=str(self.sandbox.ca_path), timeout=60)
            resp.raise_for_status()
            page = resp.json()
            records += page["records"]
        return records

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.api_json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                             params={"limit": 1000})["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        """Every try of one task instance (hostname, state, try_number), oldest first."""
        return self.api_json(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        )["task_instances"]


def _cluster_env(cluster_dir: Path, settings_path: Path) -> dict[str, str]:
    env = _stack_env(cluster_dir / "airflow", cluster_dir / "sandbox")
    env.update({
        "CLUSTER_DIR": str(cluster_dir),
        "CLUSTER_PG_PORT": str(free_port()),
        "CLUSTER_REDIS_PORT": str(free_port()),
        "CLUSTER_WORKER_LOG_PORTS": f"{free_port()},{free_port()}",
        "CRSYNC_SETTINGS_FILE": str(settings_path),
        # a task whose worker was killed is retried within ~half a minute (bin/cluster's default is 60 s)
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    })
    env.pop("AIRFLOW__CORE__PARALLELISM", None)  # bin/cluster's own
    return env


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """bin/cluster running until the end of the session; stopped with Ctrl-C (and checked stopped) at the end."""
    # Not pytest's tmp_path: its folders are private to root, and PostgreSQL runs as the `postgres` user.
    cluster_dir = Path(tempfile.mkdtemp(prefix="crsync-cluster-"))
    cluster_dir.chmod(0o755)
    settings_path = cluster_dir / "settings.yaml"
    settings_path.write_text(DEFAULT_SETTINGS_FILE.read_text())
    env = _cluster_env(cluster_dir, settings_path)
    log_path = cluster_dir / "cluster.log"
    log_file = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen([str(ROOT / "bin/cluster")], cwd=str(ROOT), env=env, stdout=log_file,
                               stderr=subprocess.STDOUT, start_new_session=True,
                               # a terminal's Ctrl-C: a runner started in the background hands SIGINT ignored
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stack = Cluster(
        process=process, env=env, api_url=f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}",
        sandbox=SandboxConfig(state_dir=Path(env["SANDBOX_DIR"]), netsuite_port=int(env["SANDBOX_NS_PORT"]),
                              salesforce_port=int(env["SANDBOX_SF_PORT"])),
        log_path=log_path, started_at=datetime.now(UTC), cluster_dir=cluster_dir, settings_path=settings_path,
    )
    sessions: set[int] = set()
    try:
        _wait_until_up(stack)
        sessions = {int(p.read_text()) for p in (cluster_dir / "run").glob("*.pid")}
        assert {p.stem for p in (cluster_dir / "run").glob("*.pid")} >= {
            "postgres", "redis", "sandbox", "api-server", "scheduler", "dag-processor", "triggerer",
            "worker-1", "worker-2",
        }
        yield stack
    finally:
        sessions |= {int(p.read_text()) for p in (cluster_dir / "run").glob("*.pid")}
        if process.poll() is None:
            os.kill(process.pid, signal.SIGINT)  # Ctrl-C
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        leftovers = [pid for sid in sessions | {process.pid} for pid in _session_processes(sid)]
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if process.poll() is None:
            process.kill()
            process.wait()
        log_file.close()
        print(f"\n[cluster] output of bin/cluster (last lines):\n{stack.output()[-1500:]}")
    assert not leftovers, f"processes still running after Ctrl-C: {leftovers}\n{stack.output()[-3000:]}"
    for port in (env["AIRFLOW__API__PORT"], env["CLUSTER_PG_PORT"], env["CLUSTER_REDIS_PORT"],
                 env["SANDBOX_NS_PORT"], env["SANDBOX_SF_PORT"]):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still served after Ctrl-C"
    subprocess.run(["rm", "-rf", str(cluster_dir)], check=False)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} after {timeout:.0f} s")
        time.sleep(interval)
