"""A dry run of sf_opportunity_to_ns_sales_order (issue 15, item 8), end to end through dag.test()
against both stand-ins: it writes nothing to either system, stays green when the only refusals are
records it would refuse (it lists them instead), and its summary says what would be written."""

from __future__ import annotations

from typing import Any

from tests.dags.test_contract_flows import ns_requests, sf_requests, writes
from tests.dags.test_opportunity_flow import DAG_ID, DEFAULT_CONF, orders_for

FIELDS = "Id, StageName, Sync_Status__c, Sync_Error__c, NetSuite_Id__c, SystemModstamp, AccountId"


def opportunities(sf_api, ids: list[str]) -> dict[str, dict[str, Any]]:
    quoted = ", ".join(f"'{i}'" for i in ids)
    return {r["Id"]: r for r in sf_api.query(f"SELECT {FIELDS} FROM Opportunity WHERE Id IN ({quoted})")["records"]}


def test_a_window_mode_dry_run_writes_nothing_stays_green_and_lists_what_it_would_refuse(
    fresh_sandbox, flow_dags, sf_api, ns_sql, caplog
):
    seed = fresh_sandbox.control
    # Would be written: a queued Contract New for an Account NetSuite knows, and one for a new Account
    # (its customer would be created first).
    [known, new_account] = seed("salesforce", "seed", {"opportunities": 2, "order_type": "Contract New"})[
        "opportunity_ids"
    ]
    prospect = sf_api.Account.create({"Name": "Dry Run Prospect Ltd"})["id"]
    sf_api.Opportunity.update(new_account, {"AccountId": prospect})
    # Would be refused: a deal sent earlier and lost since (Closed Lost with a NetSuite order id).
    [lost] = seed("salesforce", "seed", {"opportunities": 1, "order_type": "Contract New",
                                         "stage": "Closed Lost", "sync_status": "Synced"})["opportunity_ids"]  # fmt: skip
    sf_api.Opportunity.update(lost, {"NetSuite_Id__c": "98765"})
    ids = [known, new_account, lost]
    before = opportunities(sf_api, ids)
    sf_before, ns_before = sf_requests(fresh_sandbox), ns_requests(fresh_sandbox)

    with caplog.at_level("INFO"):
        run = flow_dags[DAG_ID].test(run_conf={**DEFAULT_CONF, "mode": "window", "dry_run": True}, logical_date=None)

    assert run.state == "success"
    # Nothing written anywhere: no write request reached either system, and the records are as they were.
    assert writes(sf_requests(fresh_sandbox) - sf_before) == 0
    assert writes(ns_requests(fresh_sandbox) - ns_before) == 0
    assert opportunities(sf_api, ids) == before
    assert all(orders_for(ns_sql, i) == [] for i in ids)
    # The run's summary (task log of `report`) says what would be written and what would be refused, and why.
    log = caplog.text
    assert "DRY RUN, nothing was written" in log
    assert "read 3, would write 2, would refuse 1" in log
    assert "closed_lost: 1" in log and f"{lost} [closed_lost] Opportunity is Closed Lost" in log
    assert "missing_customer" not in log  # the new Account's order is not refused: its customer comes first
    assert "would write 1 NetSuite customer record(s)" in log
    assert "would write 2 NetSuite sales order record(s)" in log
