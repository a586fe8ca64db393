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
            XComModel.get_many(
                run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, include_prior_dates=False
            )
        ).all()
        return {row.key: XComModel.deserialize_value(row) for row in rows if row.key.startswith("_link_")}


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
