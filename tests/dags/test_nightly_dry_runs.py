"""A dry run of each nightly DAG (issue 15, item 8) through real ``dag.test()`` runs against both stand-ins:
it writes nothing, stays green when the only refusals are records a real run would refuse (its summary
lists them, and why), and still goes red when a task cannot do its part (a system it cannot reach)."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from cr_sandbox.process import free_port
from tests.dags import test_nightly_windows as windows
from tests.dags.test_contract_flows import sf_requests, writes
from tests.dags.test_nightly_windows import (
    CONTRACT_DAG,
    ITEM_DAG,
    MISSING_ID,
    NIGHTLY_DAGS,
    QUIET_DAY,
    RENEWAL_DAG,
    SF_CONN_VAR,
    customer_without_account,
    new_contract,
    remembered,
    rendered,
    sf_contract_ids,
    summary_of,
)

# The fixtures of the nightly-window tests: runs with every param spelled out, retry lists cleared around.
run_dag, no_memory = windows.run_dag, windows.no_memory


def soon() -> dt.datetime:
    """A manual run's ``run_after`` whose window ends just after now: it holds what the test just made."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)


def test_contract_dry_run_stays_green_and_lists_the_contract_a_real_run_would_refuse(
    fresh_sandbox, run_dag, ns_sql, sf_api, caplog
):
    orphan = customer_without_account(fresh_sandbox, ns_sql)
    good = new_contract(fresh_sandbox, ns_sql, "DRY-GOOD", "1001")
    bad = new_contract(fresh_sandbox, ns_sql, "DRY-ORPHAN", orphan)
    before = sf_requests(fresh_sandbox)

    with caplog.at_level("INFO"):
        run = run_dag(CONTRACT_DAG, run_after=soon(), dry_run=True)

    assert run.state == "success"
    assert writes(sf_requests(fresh_sandbox) - before) == 0 and sf_contract_ids(sf_api) == []
    summary = summary_of(run)
    assert (summary["dry_run"], summary["read"], summary["failed"]) == (True, 2, 1)
    assert summary["failures_by_code"] == {"missing_account": 1}
    text = rendered(summary)
    assert "DRY RUN, nothing was written" in text and "read 2, would write 1, would refuse 1" in text
    assert f"{bad['id']} [missing_account]" in text
    assert "DRY RUN, nothing was written" in caplog.text  # the report task's log says so
    assert remembered(CONTRACT_DAG) is None  # a dry run remembers nothing for the next run

    # The same records in a real run: the good contract is written, the run goes red on the refusal.
    real = run_dag(CONTRACT_DAG, run_after=soon())
    assert real.state == "failed"
    assert sf_contract_ids(sf_api) == [good["id"]]


def test_renewal_dry_run_stays_green_and_lists_the_renewal_a_real_run_would_refuse(
    fresh_sandbox, run_dag, ns_sql, sf_api
):
    # A contract due for renewal: the module's script creates its estimate. Its items have no active
    # price book entry in Salesforce, so a real run refuses the renewal (missing_pricebook_entry).
    fresh_sandbox.control("netsuite", "seed", {"contracts": 1, "items_per_contract": 2, "estimates": 0})
    fresh_sandbox.control("netsuite", "run-scripts")
    [contract] = ns_sql("SELECT id, custrecord_contract_renewal_tran AS renewal FROM customrecord_contracts")
    assert contract["renewal"]
    for entry in sf_api.query_all("SELECT Id FROM PricebookEntry WHERE IsActive = true")["records"]:
        sf_api.PricebookEntry.update(entry["Id"], {"IsActive": False})
    before = sf_requests(fresh_sandbox)

    run = run_dag(RENEWAL_DAG, run_after=soon(), dry_run=True)

    assert run.state == "success"
    assert writes(sf_requests(fresh_sandbox) - before) == 0
    summary = summary_of(run)
    assert (summary["dry_run"], summary["failures_by_code"]) == (True, {"missing_pricebook_entry": 1})
    assert [f["key"] for f in summary["first_failures"]] == [contract["renewal"]]
    text = rendered(summary)
    assert "DRY RUN, nothing was written" in text and "read 1, would write 0, would refuse 1" in text
    assert remembered(RENEWAL_DAG) is None

    assert run_dag(RENEWAL_DAG, run_after=soon()).state == "failed"  # a real run goes red on it


def test_contract_item_dry_run_stays_green_and_lists_the_items_a_real_run_would_refuse(
    fresh_sandbox, run_dag, ns_sql, sf_api
):
    contract = new_contract(fresh_sandbox, ns_sql, "DRY-ITEMS", "1001")
    [item] = ns_sql(
        f"SELECT id FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {contract['id']}"
    )
    assert run_dag(CONTRACT_DAG, full_resync=True).state == "success"  # the item's contract is in Salesforce
    before = sf_requests(fresh_sandbox)

    run = run_dag(ITEM_DAG, logical_date=QUIET_DAY, dry_run=True, netsuite_ids=[int(item["id"]), MISSING_ID])

    assert run.state == "success"
    assert writes(sf_requests(fresh_sandbox) - before) == 0
    summary = summary_of(run)
    assert (summary["dry_run"], summary["read"], summary["failures_by_code"]) == (True, 1, {"not_found": 1})
    text = rendered(summary)
    assert "read 1, would write 1, would refuse 1" in text
    assert f"{MISSING_ID} [not_found]" in text

    assert (
        run_dag(ITEM_DAG, logical_date=QUIET_DAY, netsuite_ids=[int(item["id"]), MISSING_ID]).state
        == "failed"
    )


@pytest.mark.parametrize("dag_id", NIGHTLY_DAGS)
def test_nightly_dry_run_for_an_id_netsuite_does_not_have_stays_green_and_says_so(
    fresh_sandbox, run_dag, dag_id
):
    run = run_dag(dag_id, logical_date=QUIET_DAY, dry_run=True, netsuite_ids=[MISSING_ID])

    assert run.state == "success"
    summary = summary_of(run)
    assert (summary["dry_run"], summary["failures_by_code"]) == (True, {"not_found": 1})
    assert f"{MISSING_ID} [not_found]" in rendered(summary)


@pytest.mark.parametrize("dag_id", NIGHTLY_DAGS)
def test_nightly_dry_run_goes_red_when_a_system_cannot_be_reached(
    fresh_sandbox, run_dag, dag_id, monkeypatch, caplog
):
    # Something in each flow's window (a contract, its items, its renewal estimate): every flow then has
    # Salesforce lookups to make.
    fresh_sandbox.control("netsuite", "seed", {"contracts": 1, "items_per_contract": 1, "estimates": 0})
    fresh_sandbox.control("netsuite", "run-scripts")
    conn = json.loads(os.environ[SF_CONN_VAR])
    conn["extra"]["instance_url"] = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv(SF_CONN_VAR, json.dumps(conn))

    run = run_dag(dag_id, run_after=soon(), dry_run=True)

    assert run.state == "failed"  # a task that cannot do its part fails the dry run too
    assert "Salesforce at 127.0.0.1" in caplog.text and "refused the connection" in caplog.text
