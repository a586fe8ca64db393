"""Fixtures for the Salesforce stand-in tests: a simple-salesforce client against the session sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from cr_sandbox.process import RunningSandbox

ACCESS_TOKEN = "sandbox-access-token"


def trusting_session(sandbox: RunningSandbox) -> requests.Session:
    """A session that trusts only the sandbox CA.

    ``trust_env = False`` matters: with ``REQUESTS_CA_BUNDLE`` set in the environment, requests replaces
    ``session.verify`` with that bundle on every call and the sandbox certificate fails to verify.
    """
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.trust_env = False
    return session


@pytest.fixture(scope="module")
def sf_sandbox(sandbox: RunningSandbox) -> RunningSandbox:
    """The sandbox with the Salesforce stand-in reset once per module and the catalog seeded."""
    sandbox.control("salesforce", "reset")
    sandbox.control("salesforce", "seed", {"catalog_only": True})
    return sandbox


@pytest.fixture()
def sf(sf_sandbox: RunningSandbox) -> Iterator[Salesforce]:
    """simple-salesforce in session mode, exactly as the Airflow hook builds it."""
    client = Salesforce(instance_url=sf_sandbox.salesforce_url, session_id=ACCESS_TOKEN,
                        session=trusting_session(sf_sandbox))
    yield client
    client.session.close()


@pytest.fixture()
def request_counts(sf_sandbox: RunningSandbox) -> Callable[..., int]:
    """``request_counts(method, path_template, status=None)``: requests seen so far (since the last reset)."""

    def count(method: str, path: str, status: int | None = None) -> int:
        body: dict[str, Any] = sf_sandbox.control("salesforce", "stats", method="GET")
        return sum(row["count"] for row in body["requests"]
                   if row["method"] == method and row["path"] == path and (status is None or row["status"] == status))

    return count
