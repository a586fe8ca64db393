"""A new user's first commands, run as they would type them (``bin/airflow ...`` in a subprocess with its
own AIRFLOW_HOME, sandbox state folder and ports; no Airflow stack and, here, no sandbox running):

- ``bin/airflow dags test sf_opportunity_to_ns_sales_order`` with the sandbox stopped fails at once: one
  attempt, no HTTP or task retries, the run itself over in seconds (its ``run_duration``), and its last
  lines say to start the sandbox (``make sandbox`` / ``make up``);
- ``bin/airflow`` on a home where ``bin/setup-airflow`` never ran sets the home up first (metadata DB,
  sandbox connections) and then runs the command;
- a second ``make up`` on the same AIRFLOW_HOME is refused while the first one runs.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from pathlib import Path

import pytest

from cr_sandbox.process import free_port
from cr_sandbox.tls import ensure_certificates
from tests.ops.conftest import _stack_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
OPP_DAG = "sf_opportunity_to_ns_sales_order"


def _user_env(airflow_home: Path, sandbox_dir: Path) -> dict[str, str]:
    """The user's environment without this test session's Airflow/sandbox settings, plus ports nothing
    listens on (a sandbox that is not running): the `make up` stack's environment, never started here."""
    return _stack_env(airflow_home, sandbox_dir)


def _bin(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / args[0]), *args[1:]],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def set_up_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A home set up by ``bin/setup-airflow``, for a sandbox that was started once (its CA exists) and
    is stopped now."""
    base = tmp_path_factory.mktemp("first-hour")
    env = _user_env(base / "airflow", base / "sandbox")
    ensure_certificates(base / "sandbox")
    setup = _bin(env, "bin/setup-airflow", timeout=300)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return env


def test_dags_test_without_sandbox_fails_fast_and_says_start_the_sandbox(set_up_home):
    env = set_up_home
    started = time.monotonic()
    try:
        run = _bin(env, "bin/airflow", "dags", "test", OPP_DAG, timeout=120)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"`bin/airflow dags test {OPP_DAG}` still running after 120 s:\n{out[-3000:]}")
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    last_lines = "\n".join(out.strip().splitlines()[-15:])
    # What matters is one attempt that fails at once, which the log shows (below: no HTTP retry, no task
    # retry, one failure) and the time of the failing task's attempt, from its start to its end in the log:
    # a refused loopback connection takes milliseconds, the task's own start-up (imports, settings, hooks)
    # a few seconds, more under load; one HTTP back-off or task retry (retry_delay 1 min) would be far
    # longer. The wall clock adds Airflow's CLI start-up (imports, DAG parsing, DB, the run's earlier tasks),
    # not this project's: about 20 s on an idle 2-core machine, 76 s seen here with parallel test sessions
    # on 2 shared cores; it is only guarded against a hang.
    def stamp(event: str) -> dt.datetime:
        found = re.search(rf"^(\S+Z) .*\[DAG TEST\] {event} task_id=extract\b", out, re.MULTILINE)
        assert found, f"no '{event}' line for extract:\n{out[-4000:]}"
        return dt.datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))

    attempt = (stamp("end task") - stamp("starting")).total_seconds()
    assert attempt < 20, f"the failing attempt took {attempt:.1f} s (wall clock {took:.0f} s):\n{out[-4000:]}"
    assert took < 110, f"took {took:.0f} s:\n{out[-4000:]}"
    assert "make sandbox" in last_lines, last_lines
    ports = {env["SANDBOX_NS_PORT"], env["SANDBOX_SF_PORT"]}
    assert any(f"127.0.0.1:{port}" in last_lines for port in ports), last_lines
    # Once: no HTTP retries, no task retries.
    assert "retrying in" not in out, out[-4000:]
    assert "up_for_retry" not in out.lower(), out[-4000:]
    assert out.count("Task failed with exception") == 1, out[-4000:]
    # The alert in the log is plain text (Slack's emoji codes are for Slack only).
    alert = next(line for line in out.splitlines() if "Contract renewal sync failed" in line)
    assert not re.search(r":[a-z][a-z0-9_+-]*:", alert.split("]", 1)[-1]), alert


def test_bin_airflow_sets_up_a_fresh_home_first(tmp_path):
    """`bin/airflow <command>` where `bin/setup-airflow` never ran: metadata DB and sandbox connections
    are made first, once."""
    env = _user_env(tmp_path / "airflow", tmp_path / "sandbox")
    first = _bin(env, "bin/airflow", "connections", "get", "netsuite_default", "-o", "json", timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"127.0.0.1:{env['SANDBOX_NS_PORT']}" in first.stdout, first.stdout
    assert "First use of AIRFLOW_HOME" in first.stderr
    again = _bin(env, "bin/airflow", "connections", "get", "salesforce_default", "-o", "json", timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "First use" not in again.stderr  # set up once


def test_a_second_make_up_on_the_same_home_is_refused(tmp_path):
    """bin/up with the pid file of a live bin/up in its AIRFLOW_HOME stops before starting anything."""
    env = _user_env(tmp_path / "airflow", tmp_path / "sandbox")
    env["AIRFLOW__API__PORT"] = str(free_port())
    (tmp_path / "airflow").mkdir()
    running = subprocess.Popen(["sleep", "120"])  # stands in for the first `make up`
    try:
        lock = tmp_path / "airflow" / "up.pid"
        lock.write_text(f"{running.pid}\n")
        second = _bin(env, "bin/up", timeout=60)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"make up is already running for AIRFLOW_HOME={tmp_path / 'airflow'} (pid {running.pid})" in (
            second.stderr
        )
        assert lock.read_text().strip() == str(running.pid)  # the first one's lock is left alone
        assert not (tmp_path / "sandbox" / "sandbox.log").exists()  # nothing was started
    finally:
        running.kill()
        running.wait()
