"""`make up` under test: bin/up (sandbox + setup-airflow + `airflow standalone`) as a child process with a
temporary AIRFLOW_HOME, a temporary sandbox state folder and free ports, shared by the tests of this folder.

Clients for assertions talk to the processes over HTTP(S) only: Airflow's REST API v2 (JWT from the simple
auth manager's `POST /auth/token`), SOQL against the Salesforce stand-in, SuiteQL against the NetSuite one.

The stack runs with `[scheduler] use_job_schedule = False`: the scheduler creates no hourly runs on its own
(an unpaused DAG would otherwise get one for the latest hour at once, in `queued` mode, and pick up the
Opportunities seeded for other tests), so the only runs are the ones the tests trigger or backfill.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from cr_sandbox.config import SandboxConfig
from cr_sandbox.process import free_port

ROOT = Path(__file__).resolve().parents[2]
FLOW_DAG_IDS = (
    "sf_opportunity_to_ns_sales_order",
    "ns_contract_to_sf_contract",
    "ns_contract_item_to_sf_contract_item",
    "ns_renewal_estimate_to_sf_opportunity",
)
STARTUP_TIMEOUT = float(os.environ.get("CRSYNC_UP_STARTUP_TIMEOUT", "420"))
STOP_TIMEOUT = 90.0
#: What `airflow scheduler` logs when its loop dies (`airflow standalone` does not restart it).
SCHEDULER_CRASHED = "Exception when executing SchedulerJob._run_scheduler_loop"


@dataclass
class AirflowStack:
    """A running `bin/up`: its environment, the REST API, the sandbox and the output so far."""

    process: subprocess.Popen
    env: dict[str, str]
    api_url: str
    sandbox: SandboxConfig
    log_path: Path
    started_at: datetime
    session: requests.Session = field(default_factory=requests.Session)
    _token: str | None = None

    # ------------------------------------------------------------------ Airflow
    def password(self) -> str:
        path = Path(self.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())["admin"]

    def token(self) -> str:
        if self._token is None:
            resp = self.session.post(
                f"{self.api_url}/auth/token",
                json={"username": "admin", "password": self.password()},
                timeout=60,
            )
            assert resp.status_code == 201, resp.text
            self._token = resp.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, *, timeout: float = 60, **kwargs: Any) -> requests.Response:
        """Call Airflow's REST API v2 (``path`` below /api/v2) with the admin's JWT."""
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return self.session.request(
            method, f"{self.api_url}/api/v2{path}", headers=headers, timeout=timeout, **kwargs
        )

    def api_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        resp = self.api(method, path, **kwargs)
        assert resp.ok, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def xcom_value(self, dag_id: str, run_id: str, task_id: str, *, map_index: int | None = None) -> Any:
        """A task's ``return_value``: values over the object-storage threshold live in the XCom folder (the
        REST API returns their ``file://`` path), smaller ones come back inline."""
        params: dict[str, Any] = {"deserialize": "true"}
        if map_index is not None and map_index >= 0:
            params["map_index"] = map_index
        value = self.api_json(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value", params=params
        )["value"]
        if isinstance(value, str) and value.startswith("file://"):
            with gzip.open(value.removeprefix("file://"), "rt") as stored:
                return json.load(stored)
        return json.loads(value) if isinstance(value, str) else value

    def airflow_cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """`bin/airflow ...` with the stack's environment (same AIRFLOW_HOME, metadata DB and sandbox)."""
        return subprocess.run(
            [str(ROOT / "bin/airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @contextlib.contextmanager
    def paused(self, dag_id: str) -> Iterator[None]:
        """``dag_id`` paused inside the block and unpaused after it. ``airflow backfill create`` runs inside
        it: on the SQLite metadata DB Airflow commits each backfill run as it makes it, and when "database
        is locked" stops it half-way it deletes the runs it made (``_cleanup_partial_backfill``). A scheduler
        that has already picked one of them up dies on the vanished row (ObjectDeletedError; ``airflow
        standalone`` does not restart it). The scheduler does not look at the runs of a paused DAG."""
        self.api_json("PATCH", f"/dags/{dag_id}", json={"is_paused": True})
        try:
            yield
        finally:
            self.api_json("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def listed_dags(self, expected: set[str], timeout: float = 180) -> set[str]:
        """DAG ids the API lists, once ``expected`` are among them (the DAG processor parses in the
        background) or ``timeout`` has passed."""
        deadline = time.monotonic() + timeout
        while True:
            listed = {d["dag_id"] for d in self.api_json("GET", "/dags", params={"limit": 100})["dags"]}
            if expected <= listed or time.monotonic() > deadline:
                return listed
            time.sleep(2)

    def fail_if_scheduler_died(self) -> None:
        """Fail the test at once, saying why, when the stack's scheduler is dead: no run can finish then,
        and every later test of this stack would wait out its timeout."""
        if SCHEDULER_CRASHED in self.output():
            pytest.fail(f"the stack's scheduler died (see {self.log_path}): the runs cannot finish")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.api_json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            self.fail_if_scheduler_died()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"run {run_id} still {run['state']} after {timeout:.0f}s\n{self.describe_run(dag_id, run_id)}"
                )
            time.sleep(2)

    def describe_run(self, dag_id: str, run_id: str) -> str:
        """Task states of a run and the end of the failed tasks' logs (for assertion messages)."""
        tis = self.api_json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        lines = [f"{ti['task_id']}[{ti['map_index']}]: {ti['state']}" for ti in tis]
        for ti in tis:
            if ti["state"] in ("failed", "up_for_retry", "upstream_failed"):
                resp = self.api(
                    "GET",
                    f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{max(ti['try_number'], 1)}",
                    params={"map_index": ti["map_index"], "full_content": "true"},
                    headers={"Accept": "application/json"},
                )
                lines.append(f"--- log of {ti['task_id']} ---\n{resp.text[-3000:]}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ sandbox
    def control(self, system: str, action: str, payload: dict | None = None, method: str = "POST") -> dict:
        base = self.sandbox.netsuite_url if system == "netsuite" else self.sandbox.salesforce_url
        resp = requests.request(
            method, f"{base}/__sandbox/{action}", json=payload, verify=str(self.sandbox.ca_path), timeout=120
        )
        resp.raise_for_status()
        return resp.json() if resp.content else {}

    def soql(self, query: str) -> list[dict[str, Any]]:
        resp = requests.get(
            f"{self.sandbox.salesforce_url}/services/data/v59.0/query",
            params={"q": query},
            headers={"Authorization": f"Bearer {self.sandbox.salesforce.access_token}"},
            verify=str(self.sandbox.ca_path),
            timeout=60,
        )
        resp.raise_for_status()
        return resp.json()["records"]

    def suiteql(self, query: str) -> list[dict[str, Any]]:
        """SuiteQL with an independent TBA client (requests + requests-oauthlib), all pages."""
        creds = self.sandbox.netsuite
        auth = OAuth1(
            creds.consumer_key,
            creds.consumer_secret,
            creds.token_id,
            creds.token_secret,
            realm=creds.account_id,
            signature_method="HMAC-SHA256",
        )
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            resp = requests.post(
                f"{self.sandbox.netsuite_url}/services/rest/query/v1/suiteql",
                params={"limit": 1000, "offset": offset},
                json={"q": query},
                headers={"Prefer": "transient"},
                auth=auth,
                verify=str(self.sandbox.ca_path),
                timeout=60,
            )
            resp.raise_for_status()
            page = resp.json()
            rows += [{k: v for k, v in item.items() if k != "links"} for item in page["items"]]
            if not page["hasMore"]:
                return rows
            offset += 1000

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _stack_env(airflow_home: Path, sandbox_dir: Path) -> dict[str, str]:
    """The user's environment without this test session's Airflow/sandbox settings, plus the stack's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "SANDBOX_", "PYTEST_")) and k not in ("VIRTUAL_ENV",)
    }
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "SANDBOX_DIR": str(sandbox_dir),
            "SANDBOX_NS_PORT": str(free_port()),
            "SANDBOX_SF_PORT": str(free_port()),
            "AIRFLOW__API__PORT": str(free_port()),
            # standalone's other listeners (task log servers) default to fixed ports
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # see the module docstring
            "AIRFLOW__CORE__PARALLELISM": "4",
            "CRSYNC_USE_SANDBOX": "1",
            # A second, read-only user (simple auth manager role viewer): the sync health page's permissions.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        }
    )
    return env


def _session_processes(sid: int) -> list[int]:
    """Every live process of the session ``sid`` (bin/up is started as a session leader)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _airflow_session(env: dict[str, str]) -> int | None:
    """The session bin/up runs Airflow in (it writes its id to ``$AIRFLOW_HOME/up.airflow-sid``)."""
    try:
        return int((Path(env["AIRFLOW_HOME"]) / "up.airflow-sid").read_text().strip())
    except (OSError, ValueError):
        return None


def _stop(process: subprocess.Popen, airflow_sid: int | None = None) -> list[int]:
    """Ctrl-C as a terminal sends it (SIGINT to the process group), then kill whatever is left of
    bin/up's session and of the session it runs Airflow in. Returns the pids that were still alive after
    bin/up exited (they should not exist)."""
    sid = process.pid
    if process.poll() is None:
        try:
            os.killpg(sid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    leftovers: list[int] = []
    deadline = time.monotonic() + 10
    sessions = [sid] + ([airflow_sid] if airflow_sid else [])
    while (alive := [p for s in sessions for p in _session_processes(s)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in alive:
        leftovers.append(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if process.poll() is None:
        process.kill()
        process.wait()
    return leftovers


@pytest.fixture(scope="session")
def airflow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    """`bin/up` running until the end of the session; stopped (and checked stopped) at teardown."""
    base = tmp_path_factory.mktemp("make-up")
    env = _stack_env(base / "airflow", base / "sandbox")
    log_path = base / "up.log"
    log_file = open(log_path, "wb")  # noqa: SIM115
    started_at = datetime.now(UTC)
    process = subprocess.Popen(
        [str(ROOT / "bin/up")],
        cwd=str(ROOT),
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own session and process group: stopped as a whole at the end
        # Ctrl-C reaches `make up` from a terminal; a runner that started this session in the background
        # hands its children SIGINT ignored, which bash can then not trap: give bin/up a terminal's default.
        preexec_fn=_default_sigint,
    )
    sandbox = SandboxConfig(
        state_dir=Path(env["SANDBOX_DIR"]),
        netsuite_port=int(env["SANDBOX_NS_PORT"]),
        salesforce_port=int(env["SANDBOX_SF_PORT"]),
    )
    stack = AirflowStack(
        process=process,
        env=env,
        api_url=f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}",
        sandbox=sandbox,
        log_path=log_path,
        started_at=started_at,
    )
    leftovers: list[int] = []
    try:
        _wait_until_up(stack)
        yield stack
    finally:
        leftovers = _stop(process, _airflow_session(env))
        log_file.close()
    assert not leftovers, f"processes still running after Ctrl-C: {leftovers}\n{stack.output()[-3000:]}"
    for port in (env["AIRFLOW__API__PORT"], env["SANDBOX_NS_PORT"], env["SANDBOX_SF_PORT"]):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still served after Ctrl-C"


def _wait_until_up(stack: AirflowStack) -> None:
    """The API server answers, the banner with the login is printed, and the four flows are parsed."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if stack.process.poll() is not None:
            pytest.fail(f"bin/up exited with {stack.process.returncode}:\n{stack.output()[-5000:]}")
        try:
            healthy = stack.session.get(f"{stack.api_url}/api/v2/monitor/health", timeout=5).ok
        except requests.RequestException:
            healthy = False
        if healthy and "Airflow UI:" in stack.output():
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the API server is not up after {STARTUP_TIMEOUT:.0f}s:\n{stack.output()[-5000:]}")
        time.sleep(2)
