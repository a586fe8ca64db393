"""Fixtures for end-to-end DAG runs against the sandbox: the DAGs, independent clients for assertions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1
from simple_salesforce import Salesforce

from cr_sandbox.process import RunningSandbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def flow_dags(airflow_db: str, sandbox_env: dict[str, str]) -> dict[str, Any]:
    """The project's DAG objects, parsed once, with Airflow and the connections pointing at the sandbox."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="session")
def ns_sql(sandbox: RunningSandbox) -> Callable[[str], list[dict[str, Any]]]:
    """Run SuiteQL with an independent TBA client (requests + requests-oauthlib), all pages."""
    creds = sandbox.config.netsuite
    auth = OAuth1(
        creds.consumer_key,
        creds.consumer_secret,
        creds.token_id,
        creds.token_secret,
        realm=creds.account_id,
        signature_method="HMAC-SHA256",
    )

    def run(query: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            resp = requests.post(
                f"{sandbox.netsuite_url}/services/rest/query/v1/suiteql",
                params={"limit": 1000, "offset": offset},
                json={"q": query},
                headers={"Prefer": "transient"},
                auth=auth,
                verify=str(sandbox.ca_path),
                timeout=60,
            )
            resp.raise_for_status()
            page = resp.json()
            rows += [{k: v for k, v in item.items() if k != "links"} for item in page["items"]]
            if not page["hasMore"]:
                return rows
            offset += 1000

    return run


@pytest.fixture(scope="session")
def sf_api(sandbox: RunningSandbox) -> Salesforce:
    """simple-salesforce in session mode against the Salesforce stand-in (independent of our hooks)."""
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override session.verify
    return Salesforce(
        instance_url=sandbox.salesforce_url,
        session_id=sandbox.config.salesforce.access_token,
        session=session,
        version="59.0",
    )


@pytest.fixture
def fresh_sandbox(sandbox: RunningSandbox) -> RunningSandbox:
    """Both stand-ins reset and seeded with the catalog only (customers, items, products, pricebook)."""
    sandbox.control("netsuite", "reset", {})
    sandbox.control("salesforce", "reset", {})
    sandbox.control("netsuite", "seed", {"contracts": 0})
    sandbox.control("salesforce", "seed", {"catalog_only": True})
    return sandbox
