"""The sandbox connections are a fallback only (issue 13, finding 9): with CRSYNC_USE_SANDBOX=1 (the
default), a connection the user saved (UI / metadata DB) is the one tasks resolve, and bin/setup-airflow
(run by `make up`) says which connection is in use for each id, host only."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cr_sandbox.config import SandboxConfig
from cr_sandbox.process import RunningSandbox

ROOT = Path(__file__).resolve().parents[2]
USER_HOST = "https://1234567.suitetalk.api.netsuite.com"
USER_SECRET = "users-own-consumer-secret-9d1e"
USER_NETSUITE = {
    "conn_type": "netsuite",
    "host": USER_HOST,
    "login": "users-own-consumer-key",
    "password": USER_SECRET,
    "extra": {"account_id": "1234567", "token_id": "t", "token_secret": "users-own-token-secret"},
}


def project_env(home: Path, sandbox: RunningSandbox) -> dict[str, str]:
    """The user's shell (no Airflow/sandbox variables of this test session) + a fresh AIRFLOW_HOME, with
    the default CRSYNC_USE_SANDBOX=1, pointed at the test sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SANDBOX_", "PYTEST_"))}
    env.update(sandbox.env())
    env.update({"AIRFLOW_HOME": str(home), "CRSYNC_USE_SANDBOX": "1"})
    return env


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*argv], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


PROBE_DAG = """
import json
from airflow.sdk import dag, task

@dag(dag_id="which_connection", schedule=None)
def which_connection():
    @task
    def resolve(conn_id: str):
        from crsync_provider.hooks.netsuite import NetSuiteHook

        conn = NetSuiteHook(conn_id).connection
        print("RESOLVED " + json.dumps({"host": conn.host, "login": conn.login}), flush=True)

    resolve("{conn_id}")

which_connection()
"""


def resolve(env: dict[str, str], conn_id: str, tmp_path: Path) -> dict[str, str | None]:
    """Resolve ``conn_id`` in a task, as the flows' hooks do, in a run started like ``bin/airflow dags
    test`` (bin/airflow-env.sh; a task reads AIRFLOW_CONN_* variables first, then asks Airflow, which reads
    secrets backends and the metadata DB)."""
    dags = tmp_path / "probe_dags"
    dags.mkdir(exist_ok=True)
    (dags / "which_connection.py").write_text(PROBE_DAG.replace("{conn_id}", conn_id))
    done = run({**env, "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}, str(ROOT / "bin/airflow"), "dags", "test",
               "which_connection")
    (line,) = [x for x in (done.stdout + done.stderr).splitlines() if "RESOLVED {" in x][-1:]
    return json.loads(line[line.index("RESOLVED ") + 9 :].split("}")[0] + "}")


@pytest.fixture
def airflow_home(tmp_path: Path) -> Path:
    return tmp_path / "airflow"


def test_no_connection_of_that_id_falls_back_to_the_sandbox(sandbox, airflow_home, tmp_path):
    env = project_env(airflow_home, sandbox)

    setup = run(env, str(ROOT / "bin/setup-airflow"))

    config = SandboxConfig(
        state_dir=sandbox.config.state_dir,
        netsuite_port=sandbox.config.netsuite_port,
        salesforce_port=sandbox.config.salesforce_port,
    )
    assert resolve(env, "netsuite_default", tmp_path)["host"] == config.netsuite_url
    assert f"netsuite_default: sandbox (metadata DB), {config.netsuite_url}" in setup.stdout
    assert f"salesforce_default: sandbox (metadata DB), {config.salesforce_url}" in setup.stdout


def test_a_connection_saved_by_the_user_wins_over_the_sandbox(sandbox, airflow_home, tmp_path):
    env = project_env(airflow_home, sandbox)
    run(env, str(ROOT / "bin/setup-airflow"))
    # The user edits netsuite_default in the UI (Admin > Connections): the metadata DB row is replaced.
    subprocess.run([str(ROOT / "bin/airflow"), "connections", "delete", "netsuite_default"], env=env,
                   capture_output=True, timeout=300, cwd=ROOT)
    run(env, str(ROOT / "bin/airflow"), "connections", "add", "netsuite_default", "--conn-json",
        json.dumps(USER_NETSUITE))

    assert resolve(env, "netsuite_default", tmp_path) == {"host": USER_HOST, "login": "users-own-consumer-key"}

    # The next `make up` (bin/setup-airflow) keeps it, and says which connection is in use, host only.
    setup = run(env, str(ROOT / "bin/setup-airflow"))
    assert resolve(env, "netsuite_default", tmp_path)["host"] == USER_HOST
    assert f"netsuite_default: user-defined (metadata DB), {USER_HOST}" in setup.stdout
    assert "salesforce_default: sandbox (metadata DB)" in setup.stdout
    assert USER_SECRET not in setup.stdout + setup.stderr
    assert "users-own-token-secret" not in setup.stdout + setup.stderr
