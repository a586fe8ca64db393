"""Fixtures of the reliability suite: the DAGs, independent clients, sandbox helpers, subprocess Airflow.

Everything runs over real HTTPS against the stand-ins (session fixture ``sandbox``); nothing of this
project is mocked. The independent clients (``ns_sql``: requests + requests-oauthlib; ``sf_api``:
simple-salesforce) never go through the hooks under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce

from cr_sandbox.process import RunningSandbox

ROOT = Path(__file__).resolve().parents[2]
OPP_DAG = "sf_opportunity_to_ns_sales_order"
CONTRACT_DAG = "ns_contract_to_sf_contract"
NS, SF = "netsuite", "salesforce"
OPP_CONF = {"opportunity_ids": [], "mode": "queued", "dry_run": False}
NS_SOURCE_CONF = {"netsuite_ids": [], "full_resync": False, "dry_run": False}
NO_FAULTS = {
    "latency_ms": 0,
    "rate_429": 0,
    "rate_500": 0,
    "rate_503": 0,
    "rate_drop": 0,
    "rate_slow": 0,
}


@pytest.fixture(scope="session")
def flow_dags(airflow_db: str, sandbox_env: dict[str, str]) -> dict[str, Any]:
    """The project's DAG objects, parsed once, with Airflow and the connections pointing at the sandbox."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def run_opportunity_flow(flow_dags) -> Callable[..., Any]:
    """``dag.test`` of the hourly flow with its params spelled out (dag.test keeps the previous conf)."""

    def run(**overrides: Any) -> Any:
        # Queued mode reads ``SystemModstamp < <window end>``; the window end used to be run_after cut to
        # the whole second (an Opportunity queued in that second waited an hour). Fixed in windows.py
        # since; the pause keeps these tests independent of that rounding.
        time.sleep(1.1)
        return flow_dags[OPP_DAG].test(run_conf={**OPP_CONF, **overrides}, logical_date=None)

    return run


@pytest.fixture
def fresh(sandbox: RunningSandbox, sandbox_env: dict[str, str]) -> Iterator[RunningSandbox]:
    """Both stand-ins reset, catalog only, no faults; faults cleared again afterwards. The hooks' default
    connections point at this sandbox (``sandbox_env``), whichever test runs first."""
    sandbox.control(NS, "reset", {})
    sandbox.control(SF, "reset", {})
    sandbox.control(NS, "seed", {"contracts": 0})
    sandbox.control(SF, "seed", {"catalog_only": True})
    yield sandbox
    sandbox.control(NS, "governance", {**NO_FAULTS, "concurrency_limit": 5})
    sandbox.control(SF, "governance", {**NO_FAULTS, "rate_unable_to_lock_row": 0})


@pytest.fixture
def ns_connection(sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict]:
    """Redefine ``netsuite_default`` for one test: ``ns_connection(concurrency_limit=1, token_secret=...)``.

    Also gives the process fresh NetSuite account slots (a task process starts with none), since the
    hook sizes the process-wide semaphore by the first limit it sees.
    """
    from crsync_provider.hooks import netsuite_concurrency

    def redefine(*, password: str | None = None, **extra: Any) -> dict:
        name = "AIRFLOW_CONN_NETSUITE_DEFAULT"
        definition = json.loads(os.environ[name])
        if password is not None:
            definition["password"] = password
        definition["extra"].update(extra)
        monkeypatch.setenv(name, json.dumps(definition))
        monkeypatch.setattr(netsuite_concurrency, "ACCOUNTS", netsuite_concurrency.AccountRegistry())
        return definition

    return redefine


def sales_order_counts(ns_sql: Callable, prefix: str = "") -> tuple[int, int]:
    """(sales orders with an external id, distinct external ids) in NetSuite."""
    like = f" AND externalid LIKE '{prefix}%'" if prefix else ""
    row = ns_sql(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT externalid) AS d FROM transaction "
        f"WHERE type = 'SalesOrd' AND externalid IS NOT NULL{like}"
    )[0]
    return int(row["n"]), int(row["d"])


def orders_by_external_id(ns_sql: Callable, ids: list[str]) -> dict[str, int]:
    """External id -> number of sales orders carrying it."""
    counts: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        part = ", ".join(f"'{i}'" for i in ids[start : start + 500])
        for row in ns_sql(
            f"SELECT externalid, COUNT(*) AS n FROM transaction WHERE type = 'SalesOrd' "
            f"AND externalid IN ({part}) GROUP BY externalid"
        ):
            counts[row["externalid"]] = int(row["n"])
    return counts


def opportunities(sf_api: Salesforce, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Id -> Opportunity sync fields (independent SOQL)."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 200):
        part = ", ".join(f"'{i}'" for i in ids[start : start + 200])
        for record in sf_api.query_all(
            "SELECT Id, Name, Sync_Status__c, Sync_Error__c, NetSuite_Id__c, NetSuite_Order_Number__c "
            f"FROM Opportunity WHERE Id IN ({part})"
        )["records"]:
            out[record["Id"]] = record
    return out


def injected(sandbox: RunningSandbox, system: str) -> dict[str, int]:
    return sandbox.control(system, "stats", method="GET")["injected_faults"]


# ------------------------------------------------------------------------------ subprocess Airflow


@pytest.fixture(scope="session")
def airflow_cli(sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict]:
    """An environment for ``bin/airflow`` in a subprocess: its own AIRFLOW_HOME (set up once by
    ``bin/setup-airflow``), the sandbox connections, file task logs under ``$AIRFLOW_HOME/logs``."""
    home = tmp_path_factory.mktemp("airflow-cli")

    def env(**extra: str) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AIRFLOW") and not k.startswith("SANDBOX_") and k != "CRSYNC_SETTINGS_FILE"
        }
        base.update(sandbox.env())
        base.update({"AIRFLOW_HOME": str(home), "CRSYNC_USE_SANDBOX": "1"})
        base.update(extra)
        return base

    done = subprocess.run(
        [str(ROOT / "bin/setup-airflow")], env=env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env.home = home  # type: ignore[attr-defined]
    return env
