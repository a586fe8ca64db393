"""Shared fixtures.

- Airflow is configured before anything imports it, from the same ``bin/airflow-env.sh`` that
  ``bin/airflow`` uses, with ``AIRFLOW_HOME`` in a temporary folder (its own SQLite metadata DB and
  XCom object-storage folder).
- ``sandbox``: one sandbox process per test session, on free ports, with its own state folder.
- The session's ``AIRFLOW_HOME`` is removed when the session ends (nothing left in the temp folder).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _project_airflow_env(airflow_home: str) -> dict[str, str]:
    """The variables bin/airflow-env.sh exports (connections excluded: tests set their own)."""
    out = subprocess.run(
        ["bash", "-c", f'source "{ROOT}/bin/airflow-env.sh" && env -0'],
        env={**os.environ, "AIRFLOW_HOME": airflow_home, "CRSYNC_USE_SANDBOX": "0", "ROOT": str(ROOT)},
        check=True,
        capture_output=True,
    ).stdout.decode()
    pairs = (item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("AIRFLOW") or k == "NO_PROXY"}


_AIRFLOW_HOME = tempfile.mkdtemp(prefix="crsync-airflow-")
# At interpreter exit, after every fixture (and the sandbox and Airflow processes they started) is done.
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ.update(_project_airflow_env(_AIRFLOW_HOME))

from cr_sandbox.process import RunningSandbox, running_sandbox  # noqa: E402


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated Airflow metadata DB (SQLite) in the session's AIRFLOW_HOME."""
    subprocess.run(
        [str(ROOT / ".venv/bin/airflow"), "db", "migrate"], check=True, capture_output=True, env=dict(os.environ)
    )
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """Both stand-ins over HTTPS; tests reset and seed what they need through `/__sandbox/` controls."""
    state_dir = tmp_path_factory.mktemp("sandbox")
    with running_sandbox(state_dir) as running:
        yield running


@pytest.fixture(scope="session")
def sandbox_env(sandbox: RunningSandbox) -> Iterator[dict[str, str]]:
    """Point `SandboxConfig()` and the Airflow connections `netsuite_default`/`salesforce_default` at the
    test sandbox (sandbox-only credentials)."""
    import json

    from cr_sandbox.config import SandboxConfig
    from cr_sandbox.connections import env_var_name, sandbox_connections

    env = dict(sandbox.env())
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    for conn_id, definition in sandbox_connections(SandboxConfig()).items():
        env[env_var_name(conn_id)] = json.dumps(definition)
    saved.update({k: os.environ.get(k) for k in env if k not in saved})
    os.environ.update(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def ns_sql(sandbox: RunningSandbox):
    """Run SuiteQL with a plain TBA client (requests + requests-oauthlib), all pages: independent of the
    hooks under test."""
    from cr_sandbox import clients

    return lambda query: clients.suiteql(sandbox.config, query)


@pytest.fixture(scope="session")
def sf_api(sandbox: RunningSandbox):
    """simple-salesforce in session mode against the Salesforce stand-in (independent of our hooks)."""
    from cr_sandbox import clients

    return clients.salesforce(sandbox.config)


#: The nightly DAGs, whose high-water mark (Airflow Variable ``<dag id>.read_through``) a run advances.
NIGHTLY_DAG_IDS = (
    "ns_contract_to_sf_contract",
    "ns_contract_item_to_sf_contract_item",
    "ns_renewal_estimate_to_sf_opportunity",
)


@pytest.fixture(autouse=True)
def no_read_through_marks(request: pytest.FixtureRequest):
    """Each test that runs DAGs starts and ends without the nightly flows' high-water marks: a mark left
    by another test would make a later window reach back to it (issue 13, finding 7)."""
    if "flow_dags" not in request.fixturenames:
        yield
        return
    from airflow.models.variable import Variable

    request.getfixturevalue("airflow_db")
    names = [f"{dag_id}.read_through" for dag_id in NIGHTLY_DAG_IDS]
    for name in names:
        Variable.delete(name)
    yield
    for name in names:
        Variable.delete(name)


@pytest.fixture(scope="session")
def complete_orders(sandbox: RunningSandbox):
    """THE shared step for tests written when contracts and items appeared at order save (issue 17).

    NetSuite now makes a contract in the background (R07) and its items only after the order is billed
    (R03, hourly): call ``complete_orders()`` where a test expects them. It approves the sales orders
    Pending Approval, bills every approved unbilled order through ``!transform/invoice`` and runs R07
    then R03 (``order_ids`` limits it to some orders; ``approve=False`` leaves approval to the test).
    Returns what each step did (``approved``, ``invoices``, ``scripts``).
    """
    from cr_sandbox.order_steps import complete_orders as complete

    def run(order_ids: list[str] | None = None, *, approve: bool = True) -> dict:
        return complete(sandbox, order_ids, approve=approve)

    return run
