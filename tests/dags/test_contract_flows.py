"""End to end: ns_contract_to_sf_contract and ns_contract_item_to_sf_contract_item through dag.test()
against both stand-ins over HTTPS (no mocks of project code).

Orders are created in NetSuite the way the hourly flow does (PUT salesOrder/eid:<Opportunity id>, TBA), so
the stand-in's Contract Renewals module creates the contract and its items.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from cr_sandbox import clients
from tests.dags.conftest import task_links

CONTRACT_DAG = "ns_contract_to_sf_contract"
ITEM_DAG = "ns_contract_item_to_sf_contract_item"
WAITING_VARIABLE = "ns_contract_item_to_sf_contract_item.waiting_item_ids"
#: A scheduled-style run whose window [2026-01-05 02:xx, 2026-01-06 02:xx) holds no change.
QUIET_DAY = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
#: How the stand-ins' stats name Salesforce REST paths.
SF = "/services/data/vXX.X"


# ----------------------------------------------------------------------------------------------- helpers


@pytest.fixture
def ns_record(sandbox):
    """Write NetSuite records through the stand-in's record service with TBA (an independent client)."""

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return clients.netsuite_record(sandbox.config, method, path, json=body)

    return call


@pytest.fixture
def no_waiting_items(airflow_db):
    """The waiting-items Variable starts (and ends) absent."""
    from airflow.models.variable import Variable

    Variable.delete(WAITING_VARIABLE)
    yield
    Variable.delete(WAITING_VARIABLE)


def waiting_variable() -> list[int] | None:
    from airflow.models.variable import Variable

    return Variable.get(WAITING_VARIABLE, default_var=None, deserialize_json=True)


def _param_values(dag) -> list[tuple[Any, Any]]:
    params = [dag.params] + [task.params for task in dag.tasks if task.params]
    return [(p.get_param(k), copy.deepcopy(p.get_param(k).value)) for p in params for k in p]


@pytest.fixture
def run_dag(flow_dags, no_waiting_items):
    """Run a DAG in-process like a trigger with conf would (manual: no logical date unless given).

    In-process, Airflow merges run conf into the DAG's own Param objects (a worker would re-parse the
    file for the next run), so each run restores the params it started with: conf never leaks.
    """

    def run(dag_id: str, logical_date: datetime | None = None, **conf: Any):
        dag = flow_dags[dag_id]
        saved = _param_values(dag)
        try:
            return dag.test(run_conf=conf or None, logical_date=logical_date)
        finally:
            for param, value in saved:
                param.value = value

    return run


def task_result(run, task_id: str) -> Any:
    """The return value (XCom) of a task of a finished test run, through the configured XCom backend."""
    from airflow.models.xcom import XComModel
    from airflow.sdk.execution_time.xcom import resolve_xcom_backend
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key="return_value")
    with create_session() as session:
        rows = session.scalars(query).all()
        assert rows, f"no result for {task_id}"
        return resolve_xcom_backend().deserialize_value(rows[0])


def summary_of(run) -> dict[str, Any]:
    return task_result(run, "report")


def new_order(
    ns_record,
    opp_id: str,
    customer: str,
    items: list[tuple[str, float]],
    *,
    contract_id: str | None = None,
    start: str = "2026-12-01",
    end: str = "2027-11-30",
    tran_date: str | None = None,
) -> None:
    """A sales order created from an Opportunity (external id = Opportunity id), as the hourly flow sends it.

    It is dated ``tran_date`` (default: ``start``), never the real today: an upsell's items start on its
    order's date, so an undated order would give different items on a different day.
    """
    body: dict[str, Any] = {
        "entity": {"id": customer}, "tranDate": tran_date or start,
        # The Contract Renewals form and its required fields (issue 17).
        "customForm": {"id": "129"}, "custbody_end_user": {"id": customer}, "startdate": start,
        "custbody_order_type": {"id": "3" if contract_id else "1"},
        "item": {"items": [{"item": {"id": item}, "quantity": qty} for item, qty in items]},
    }
    if contract_id:
        body["custbody_contract_name"] = {"id": contract_id}
    else:
        body.update({"custbody_swe_contract_start_date": start, "custbody_swe_contract_end_date": end})
    ns_record("PUT", f"salesOrder/eid:{opp_id}?replace=item", body)


def seed_opportunity(sandbox, account: str = "1001", order_type: str = "Contract New") -> str:
    seeded = sandbox.control(
        "salesforce",
        "seed",
        {
            "opportunities": 1,
            "lines_per_opportunity": 1,
            "order_type": order_type,
            "sync_status": "Synced",
            "account_netsuite_id": account,
        },
    )
    return seeded["opportunity_ids"][0]


def contract_of_order(ns_sql, opp_id: str) -> dict[str, Any]:
    rows = ns_sql(
        "SELECT c.id, c.name, c.custrecord_contracts_bill_to_customer customer FROM customrecord_contracts c "
        f"JOIN transaction t ON t.custbody_contract_name = c.id WHERE t.externalid = '{opp_id}'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def settle() -> None:
    """Sandbox stamps are whole seconds and a window's end is exclusive: let the changes fall before it."""
    time.sleep(1.05)


def sf_contracts(sf_api) -> list[dict[str, Any]]:
    return sf_api.query_all(
        "SELECT Id, NetSuite_Id__c, NetSuite_Name__c, NetSuite_Status__c, AccountId, Account.NetSuite_Id__c, "
        "StartDate, End_Date__c, ContractTerm, Contract_Value__c, Target_Renewal_Date__c FROM Contract"
    )["records"]


def sf_items(sf_api) -> list[dict[str, Any]]:
    return sf_api.query_all(
        "SELECT Id, Name, NetSuite_Id__c, Contract__c, Contract__r.NetSuite_Id__c, Product__c, "
        "Product__r.NetSuite_Id__c, Quantity__c, Start_Date__c, End_Date__c, Term_Months__c, Status__c "
        "FROM Contract_Item__c"
    )["records"]


def opportunity_contract(sf_api, opp_id: str) -> str | None:
    return sf_api.query(f"SELECT ContractId FROM Opportunity WHERE Id = '{opp_id}'")["records"][0][
        "ContractId"
    ]


def sf_requests(sandbox) -> Counter:
    """Salesforce request counts by (method, path template) so far (its stats have no reset: use deltas)."""
    stats = sandbox.control("salesforce", "stats", method="GET")
    return Counter({(r["method"], r["path"]): r["count"] for r in stats["requests"]})


def ns_requests(sandbox) -> Counter:
    stats = sandbox.control("netsuite", "stats", method="GET")
    return Counter({(r["method"], r["path"]): r["count"] for r in stats["requests"]})


def writes(counts: Counter) -> int:
    return sum(n for (method, _), n in counts.items() if method in ("POST", "PATCH", "PUT", "DELETE"))


# ----------------------------------------------------------------------------------------------- tests


def test_new_contract_and_items_reach_salesforce_linked_and_reruns_change_nothing(
    fresh_sandbox, run_dag, ns_record, ns_sql, sf_api, complete_orders
):
    opp_id = seed_opportunity(fresh_sandbox)
    new_order(ns_record, opp_id, "1001", [("501", 10), ("503", 1), ("505", 2)])
    complete_orders()
    contract = contract_of_order(ns_sql, opp_id)
    settle()

    run = run_dag(CONTRACT_DAG)
    assert run.state == "success"
    assert summary_of(run)["created"] == 1
    [sf_contract] = sf_contracts(sf_api)
    assert sf_contract["NetSuite_Id__c"] == contract["id"]
    assert sf_contract["NetSuite_Name__c"] == contract["name"] == f"{contract['id']}_2026-12-01_2027-11-30"
    assert sf_contract["Account"]["NetSuite_Id__c"] == "1001"
    assert (sf_contract["StartDate"], sf_contract["End_Date__c"], sf_contract["ContractTerm"]) == (
        "2026-12-01",
        "2027-11-30",
        12,
    )
    assert sf_contract["NetSuite_Status__c"] == "Active"
    assert sf_contract["Target_Renewal_Date__c"] == "2027-09-01"  # end - 90 days
    assert opportunity_contract(sf_api, opp_id) == sf_contract["Id"]
    # "Open in Salesforce" on the load task: the one Contract it wrote.
    sf_url = fresh_sandbox.salesforce_url
    assert task_links(run, "load")["_link_SalesforceRecordLink"] == f"{sf_url}/{sf_contract['Id']}"

    run = run_dag(ITEM_DAG)
    assert run.state == "success"
    assert summary_of(run)["created"] == 3
    # Several records written: the link opens the object's list view.
    assert task_links(run, "load")["_link_SalesforceRecordLink"] == f"{sf_url}/lightning/o/Contract_Item__c/list"
    items = sf_items(sf_api)
    assert len(items) == 3
    assert {i["Contract__c"] for i in items} == {sf_contract["Id"]}
    assert sorted(i["Product__r"]["NetSuite_Id__c"] for i in items) == ["501", "503", "505"]
    assert all(i["Product__c"] for i in items)
    assert {(i["Start_Date__c"], i["End_Date__c"], i["Term_Months__c"]) for i in items} == {
        ("2026-12-01", "2027-11-30", 12)
    }
    ns_items = ns_sql(
        f"SELECT id FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {contract['id']}"
    )
    assert sorted(i["NetSuite_Id__c"] for i in items) == sorted(i["id"] for i in ns_items)

    # The same window again: same counts, only updates, nothing duplicated, no Opportunity write.
    before = sf_requests(fresh_sandbox)
    rerun_contracts, rerun_items = run_dag(CONTRACT_DAG), run_dag(ITEM_DAG)
    assert (rerun_contracts.state, rerun_items.state) == ("success", "success")
    assert {k: summary_of(rerun_contracts)[k] for k in ("read", "created", "updated", "failed")} == {
        "read": 1,
        "created": 0,
        "updated": 1,
        "failed": 0,
    }
    assert {k: summary_of(rerun_items)[k] for k in ("read", "created", "updated", "failed")} == {
        "read": 3,
        "created": 0,
        "updated": 3,
        "failed": 0,
    }
    delta = sf_requests(fresh_sandbox) - before
    assert delta[("PATCH", f"{SF}/composite/sobjects")] == 0  # Opportunity links already set: no update
    assert [c["Id"] for c in sf_contracts(sf_api)] == [sf_contract["Id"]]
    assert sorted(i["Id"] for i in sf_items(sf_api)) == sorted(i["Id"] for i in items)

    # Upsell: the new items join the same contract (co-termed); the upsell Opportunity is linked too.
    upsell_id = seed_opportunity(fresh_sandbox, order_type="Contract Upsell")
    new_order(ns_record, upsell_id, "1001", [("509", 5)], contract_id=contract["id"], tran_date="2027-03-01")
    complete_orders()
    settle()
    assert run_dag(CONTRACT_DAG).state == "success"
    assert run_dag(ITEM_DAG).state == "success"
    assert [c["Id"] for c in sf_contracts(sf_api)] == [sf_contract["Id"]]
    items = sf_items(sf_api)
    assert len(items) == 4 and {i["Contract__c"] for i in items} == {sf_contract["Id"]}
    upsell_item = next(i for i in items if i["Product__r"]["NetSuite_Id__c"] == "509")
    assert (upsell_item["Start_Date__c"], upsell_item["End_Date__c"]) == ("2027-03-01", "2027-11-30")
    assert opportunity_contract(sf_api, upsell_id) == sf_contract["Id"]


def test_item_before_its_contract_waits_and_is_recovered_after_the_contract_run(
    fresh_sandbox, run_dag, ns_record, ns_sql, sf_api, complete_orders
):
    opp_id = seed_opportunity(fresh_sandbox, account="1002")
    new_order(ns_record, opp_id, "1002", [("501", 1), ("503", 1), ("505", 1)])
    complete_orders()
    contract = contract_of_order(ns_sql, opp_id)
    item_ids = sorted(
        int(r["id"])
        for r in ns_sql(
            f"SELECT id FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {contract['id']}"
        )
    )
    settle()

    early = run_dag(ITEM_DAG)
    assert early.state == "success"  # reported, not failed
    summary = summary_of(early)
    assert (summary["failed"], summary["skipped_by_reason"]) == (0, {"waiting_for_contract": 3})
    assert sf_items(sf_api) == []
    assert waiting_variable() == item_ids

    assert run_dag(CONTRACT_DAG).state == "success"
    # The next item run's own window holds no change: the items come from the waiting list.
    recovered = run_dag(ITEM_DAG, logical_date=QUIET_DAY)
    assert recovered.state == "success"
    assert {k: summary_of(recovered)[k] for k in ("read", "created", "skipped")} == {
        "read": 3,
        "created": 3,
        "skipped": 0,
    }
    items = sf_items(sf_api)
    assert sorted(int(i["NetSuite_Id__c"]) for i in items) == item_ids
    assert {i["Contract__r"]["NetSuite_Id__c"] for i in items} == {contract["id"]}
    assert waiting_variable() == []

    # Nothing waits any more: a quiet window reads nothing.
    assert summary_of(run_dag(ITEM_DAG, logical_date=QUIET_DAY))["read"] == 0


def test_customer_without_account_fails_alone_after_the_good_contract_is_written(
    fresh_sandbox, run_dag, ns_record, ns_sql, sf_api, complete_orders
):
    fresh_sandbox.control("netsuite", "seed", {"customers": 1, "contracts": 0, "estimates": 0})
    orphan = max(int(r["id"]) for r in ns_sql("SELECT id FROM customer"))
    assert orphan > 1008
    good_opp = seed_opportunity(fresh_sandbox, account="1003")
    new_order(ns_record, good_opp, "1003", [("501", 1)])
    new_order(ns_record, "ORDER-WITHOUT-OPPORTUNITY", str(orphan), [("501", 1)])
    complete_orders()
    good, bad = contract_of_order(ns_sql, good_opp), contract_of_order(ns_sql, "ORDER-WITHOUT-OPPORTUNITY")
    settle()

    run = run_dag(CONTRACT_DAG)

    assert run.state == "failed"  # red because one contract failed ...
    assert [c["NetSuite_Id__c"] for c in sf_contracts(sf_api)] == [good["id"]]  # ... after the good one
    assert opportunity_contract(sf_api, good_opp)
    summary = task_result(run, "link_opportunities")
    assert (summary["created"], summary["failed"], summary["failures_by_code"]) == (
        1,
        1,
        {"missing_account": 1},
    )
    [failure] = summary["first_failures"]
    assert failure["key"] == bad["id"]
    assert f"NetSuite customer {orphan} has no Salesforce Account" in failure["message"]

    # Its items wait for it (not failed); the good contract's item is written.
    items_run = run_dag(ITEM_DAG)
    assert items_run.state == "success"
    assert summary_of(items_run)["skipped_by_reason"] == {"waiting_for_contract": 1}
    assert [i["Contract__r"]["NetSuite_Id__c"] for i in sf_items(sf_api)] == [good["id"]]


def test_dry_run_and_manual_ids_write_nothing_unasked(
    fresh_sandbox, run_dag, ns_record, ns_sql, sf_api, flow_dags, complete_orders
):
    from airflow.sdk.definitions.param import ParamValidationError

    first, second = (
        seed_opportunity(fresh_sandbox, account="1004"),
        seed_opportunity(fresh_sandbox, account="1005"),
    )
    new_order(ns_record, first, "1004", [("501", 1), ("503", 1)])
    new_order(ns_record, second, "1005", [("505", 1)])
    complete_orders()
    first_contract, second_contract = contract_of_order(ns_sql, first), contract_of_order(ns_sql, second)
    settle()

    before = sf_requests(fresh_sandbox)
    items_dry = run_dag(ITEM_DAG, dry_run=True)
    contracts_dry = run_dag(CONTRACT_DAG, dry_run=True)
    assert (items_dry.state, contracts_dry.state) == ("success", "success")
    assert writes(sf_requests(fresh_sandbox) - before) == 0
    assert sf_contracts(sf_api) == [] and sf_items(sf_api) == []
    assert waiting_variable() is None  # the waiting list it would write is only logged
    assert summary_of(contracts_dry)["skipped_by_reason"] == {"dry_run": 2}
    assert summary_of(items_dry)["skipped_by_reason"] == {"waiting_for_contract": 3}

    # Manual ids (the window is ignored): only the named contract.
    run = run_dag(CONTRACT_DAG, logical_date=QUIET_DAY, netsuite_ids=[int(second_contract["id"])])
    assert run.state == "success"
    assert [c["NetSuite_Id__c"] for c in sf_contracts(sf_api)] == [second_contract["id"]]
    # Full resync reads everything whatever the window.
    run = run_dag(CONTRACT_DAG, logical_date=QUIET_DAY, full_resync=True)
    assert summary_of(run)["read"] == 2 and len(sf_contracts(sf_api)) == 2
    assert first_contract["id"] in {c["NetSuite_Id__c"] for c in sf_contracts(sf_api)}

    # Ids are validated before any task runs.
    for dag_id in (CONTRACT_DAG, ITEM_DAG):
        params = copy.deepcopy(flow_dags[dag_id].params)
        params["netsuite_ids"] = [101, 102]  # valid
        for bad in (["101"], [0], ["101 OR 1=1"], [101, 101]):
            with pytest.raises(ParamValidationError):
                params["netsuite_ids"] = bad


def test_1000_contracts_and_5000_items_load_with_minimal_calls(fresh_sandbox, run_dag, sf_api, capsys):
    started = time.monotonic()
    seeded = fresh_sandbox.control(
        "netsuite", "seed", {"contracts": 1000, "items_per_contract": 5, "estimates": 0}
    )
    assert (seeded["contracts"], seeded["contract_items"]) == (1000, 5000)
    settle()

    fresh_sandbox.control("netsuite", "stats/reset", {})
    sf_before = sf_requests(fresh_sandbox)
    contracts = run_dag(CONTRACT_DAG)
    assert contracts.state == "success"
    assert summary_of(contracts)["created"] == 1000
    ns_contract_calls, sf_contract_calls = ns_requests(fresh_sandbox), sf_requests(fresh_sandbox) - sf_before

    fresh_sandbox.control("netsuite", "stats/reset", {})
    sf_before = sf_requests(fresh_sandbox)
    items = run_dag(ITEM_DAG)
    assert items.state == "success"
    summary = summary_of(items)
    assert {k: summary[k] for k in ("read", "created", "failed", "skipped")} == {
        "read": 5000,
        "created": 5000,
        "failed": 0,
        "skipped": 0,
    }
    ns_item_calls, sf_item_calls = ns_requests(fresh_sandbox), sf_requests(fresh_sandbox) - sf_before
    elapsed = time.monotonic() - started

    suiteql = ("POST", "/services/rest/query/v1/suiteql")
    # NetSuite: one SuiteQL request per 1,000 rows (+1 for the contracts' orders lookup).
    assert ns_contract_calls[suiteql] == math.ceil(1000 / 1000) + 1
    assert ns_item_calls[suiteql] == math.ceil(5000 / 1000)
    assert sum(ns_contract_calls.values()) + sum(ns_item_calls.values()) == 7
    # Salesforce: 1,000 contracts in ceil(1000/200) collection calls; 5,000 items through one Bulk 2.0 job.
    assert sf_contract_calls[("PATCH", f"{SF}/composite/sobjects/Contract/NetSuite_Id__c")] == math.ceil(
        1000 / 200
    )
    assert not [k for k in sf_item_calls if k[1].startswith(f"{SF}/composite")]
    bulk = {k: n for k, n in sf_item_calls.items() if "/jobs/ingest" in k[1]}
    assert sum(bulk.values()) <= 8, bulk
    assert len(sf_items(sf_api)) == 5000

    with capsys.disabled():
        print(f"\n1,000 contracts + 5,000 items in {elapsed:.1f}s")
        for label, counts in (
            ("NetSuite, contracts", ns_contract_calls),
            ("Salesforce, contracts", sf_contract_calls),
            ("NetSuite, items", ns_item_calls),
            ("Salesforce, items", sf_item_calls),
        ):
            print(f"  {label}: {sum(counts.values())} call(s): {dict(sorted(counts.items()))}")
