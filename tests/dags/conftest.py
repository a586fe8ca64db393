"""Fixtures for end-to-end DAG runs against the sandbox: the DAGs, independent clients for assertions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cr_sandbox.process import RunningSandbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def flow_dags(airflow_db: str, sandbox_env: dict[str, str]) -> dict[str, Any]:
    """The project's DAG objects, parsed once, with Airflow and the connections pointing at the sandbox."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def fresh_sandbox(sandbox: RunningSandbox) -> RunningSandbox:
    """Both stand-ins reset (data and clock) and seeded with the catalog only (customers, items, products,
    pricebook)."""
    for system in ("netsuite", "salesforce"):
        sandbox.control(system, "reset", {})
        sandbox.control(system, "clock", {"reset": True})
    sandbox.control("netsuite", "seed", {"contracts": 0})
    sandbox.control("salesforce", "seed", {"catalog_only": True})
    return sandbox


def task_links(run, task_id: str) -> dict[str, str]:
    """The extra-link URLs a finished task stored (XCom keys ``_link_<link class>``), by key."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, include_prior_dates=False)
        ).all()
        return {row.key: XComModel.deserialize_value(row) for row in rows if row.key.startswith("_link_")}
