"""End to end: a whole renewal cycle through the DAGs against both stand-ins over HTTPS.

New contract (Opportunity -> sales order -> contract -> Salesforce Contract), clock moved to the target
renewal date, the module's nightly script, then ``ns_renewal_estimate_to_sf_opportunity`` creates the
renewal Opportunity; a changed estimate updates it without duplicates; the Quote setting produces a Quote;
the won renewal goes back through the hourly flow as a sales order transformed from the estimate and the
module turns it into the renewal contract, the original becoming Renewal Processed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from requests_oauthlib import OAuth1

from cr_sandbox import order_steps

RENEWAL_DAG = "ns_renewal_estimate_to_sf_opportunity"
ORDER_DAG = "sf_opportunity_to_ns_sales_order"
CONTRACT_DAG = "ns_contract_to_sf_contract"
NS, SF = "netsuite", "salesforce"
ROOT = Path(__file__).resolve().parents[2]
# Contract status ids of the sandbox (docs/netsuite-sandbox.md).
ACTIVE, RENEWAL_GENERATED, RENEWAL_PROCESSED = "2", "3", "4"
NS_SOURCE_CONF = {"netsuite_ids": [], "full_resync": False, "dry_run": False}
DEFAULT_CONF = {
    RENEWAL_DAG: NS_SOURCE_CONF,
    CONTRACT_DAG: NS_SOURCE_CONF,
    ORDER_DAG: {"opportunity_ids": [], "mode": "queued", "dry_run": False},
}
RENEWAL_LINE_FIELDS = (
    "Id, NetSuite_Line_Id__c, Quantity, UnitPrice, Start_Date__c, End_Date__c, Term_Months__c"
)


# --------------------------------------------------------------------------------------------- helpers


class Clock:
    """Runs of the DAGs at the stand-ins' (moved) time: each manual run's window ends at ``run_after``."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.runs = 0

    def now(self, system: str = NS) -> dt.datetime:
        now = self.sandbox.control(system, "clock", method="GET")["now"]
        moment = dt.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def move_to(self, day: str) -> None:
        for system in (NS, SF):
            self.sandbox.control(system, "clock", {"today": day})

    def run(self, dag, system: str = NS, **conf):
        # A manual run (no logical date) whose one-day (or one-hour) window ends just after "now" on the
        # source system's clock; distinct run_after values keep run ids distinct.
        # Every param is passed: in-process dag.test() runs write a run's conf into the DAG's shared Param
        # objects (ParamsDict.__setitem__ -> Param.resolve), so a param left out keeps the previous run's value.
        self.runs += 1
        run_after = self.now(system) + dt.timedelta(minutes=1, microseconds=self.runs)
        return dag.test(run_conf={**DEFAULT_CONF[dag.dag_id], **conf}, logical_date=None, run_after=run_after)


@pytest.fixture
def clock(fresh_sandbox):
    yield Clock(fresh_sandbox)
    for system in (NS, SF):
        fresh_sandbox.control(system, "clock", {"reset": True})


@pytest.fixture
def ns_rest(sandbox):
    """An independent NetSuite REST client (TBA) for record reads and changes."""
    creds = sandbox.config.netsuite
    auth = OAuth1(creds.consumer_key, creds.consumer_secret, creds.token_id, creds.token_secret,
                  realm=creds.account_id, signature_method="HMAC-SHA256")  # fmt: skip

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        resp = requests.request(method, f"{sandbox.netsuite_url}/services/rest/record/v1/{path}", auth=auth,
                                verify=str(sandbox.ca_path), timeout=60, **kwargs)  # fmt: skip
        assert resp.status_code < 300, resp.text
        return resp

    return call


def renewal_opportunities(sf_api, estimate_id: str | None = None) -> list[dict[str, Any]]:
    where = f"= '{estimate_id}'" if estimate_id else "!= null"
    return sf_api.query_all(
        "SELECT Id, Name, StageName, CloseDate, Order_Type__c, ContractId, AccountId, Pricebook2Id, "
        "NetSuite_Renewal_Estimate_Id__c, Sync_Status__c, NetSuite_Id__c, IsClosed, IsWon "
        f"FROM Opportunity WHERE NetSuite_Renewal_Estimate_Id__c {where}"
    )["records"]


def opportunity_lines(sf_api, opp_id: str) -> list[dict[str, Any]]:
    return sf_api.query_all(
        f"SELECT {RENEWAL_LINE_FIELDS}, PricebookEntryId, PricebookEntry.Product2.NetSuite_Id__c "
        f"FROM OpportunityLineItem WHERE OpportunityId = '{opp_id}' ORDER BY NetSuite_Line_Id__c"
    )["records"]


def contract(ns_sql, contract_id: str) -> dict[str, Any]:
    return ns_sql(
        "SELECT id, name, custrecord_contract_status, custrecord_contract_renewal_tran, "
        "custrecord_swe_original_contract, TO_CHAR(custrecord_contracts_start_date, 'YYYY-MM-DD') AS start_date, "
        "TO_CHAR(custrecord_contracts_end_date, 'YYYY-MM-DD') AS end_date, "
        "TO_CHAR(custrecord_swe_target_renewal_date, 'YYYY-MM-DD') AS target_date, "
        "TO_CHAR(custrecord_contract_date_renewed, 'YYYY-MM-DD') AS date_renewed "
        f"FROM customrecord_contracts WHERE id = {contract_id}"
    )[0]


def estimate_lines(ns_sql, estimate_id: str) -> list[dict[str, Any]]:
    return ns_sql(
        # SuiteQL shows sales lines with the posting sign (negative quantity); the renewal shows it positive.
        "SELECT id, item, ABS(quantity) AS quantity, rate FROM transactionline "
        f"WHERE transaction = {estimate_id} AND mainline = 'F' ORDER BY id"
    )


# --------------------------------------------------------------------------------------------- the cycle


def new_contract(fresh_sandbox, flow_dags, clock, sf_api, ns_sql) -> dict[str, Any]:
    """A "Contract New" Opportunity ordered by the hourly DAG; the module's contract brought to Salesforce."""
    seeded = fresh_sandbox.control(
        SF, "seed", {"opportunities": 1, "lines_per_opportunity": 3, "order_type": "Contract New"}
    )
    opp_id = seeded["opportunity_ids"][0]
    assert clock.run(flow_dags[ORDER_DAG], SF).state == "success"
    # NetSuite users approve and bill it; the module's R07/R03 scripts make the contract and its items,
    # Pending -> Active (issue 17: the shared step of the ``complete_orders`` fixture).
    order_steps.complete_orders(fresh_sandbox)
    order = ns_sql(
        "SELECT id, tranid, custbody_contract_name, entity FROM transaction "
        f"WHERE type = 'SalesOrd' AND externalid = '{opp_id}'"
    )
    assert len(order) == 1
    contract_id = order[0]["custbody_contract_name"]
    original = contract(ns_sql, contract_id)
    assert original["custrecord_contract_status"] == ACTIVE
    assert clock.run(flow_dags[CONTRACT_DAG], NS).state == "success"
    sf_contract = sf_api.query(
        f"SELECT Id, NetSuite_Id__c, NetSuite_Status__c FROM Contract WHERE NetSuite_Id__c = '{contract_id}'"
    )["records"]
    assert len(sf_contract) == 1
    return {"opportunity_id": opp_id, "order": order[0], "contract": original, "sf_contract": sf_contract[0]}


def renewal_generated(fresh_sandbox, clock, ns_sql, start: dict[str, Any]) -> dict[str, Any]:
    """Clock at the target renewal date on both stand-ins, then the module's nightly script."""
    clock.move_to(start["contract"]["target_date"])
    done = fresh_sandbox.control(NS, "run-scripts")
    original = contract(ns_sql, start["contract"]["id"])
    assert original["custrecord_contract_status"] == RENEWAL_GENERATED, done
    estimate_id = original["custrecord_contract_renewal_tran"]
    estimate = ns_sql(
        "SELECT id, tranid, type, status, entity, custbody_order_type, custbody_swe_from_contract, "
        "TO_CHAR(startdate, 'YYYY-MM-DD') AS startdate, TO_CHAR(enddate, 'YYYY-MM-DD') AS enddate "
        f"FROM transaction WHERE id = {estimate_id}"
    )[0]
    assert estimate["type"] == "Estimate" and estimate["custbody_order_type"] == "2"
    assert estimate["custbody_swe_from_contract"] == start["contract"]["id"]
    return estimate


def walk_renewal_chain(sf_api, contract_id: str) -> list[tuple[str, str]]:
    """(Contract Id, its originating Opportunity Id) from ``contract_id`` back to the first contract,
    following Contract.Opportunity__c and then that Opportunity's ContractId (the contract it renews)."""
    chain: list[tuple[str, str]] = []
    while contract_id and len(chain) < 10:
        [row] = sf_api.query(f"SELECT Id, Opportunity__c FROM Contract WHERE Id = '{contract_id}'")["records"]
        opportunity = row["Opportunity__c"]
        if not opportunity:
            break
        chain.append((row["Id"], opportunity))
        [opp] = sf_api.query(f"SELECT Id, ContractId FROM Opportunity WHERE Id = '{opportunity}'")["records"]
        contract_id = opp["ContractId"] if opp["ContractId"] != row["Id"] else None
    return chain


def write_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nightly: dict[str, Any] | None = None, **renewal: str
) -> Path:
    """A copy of the packaged settings with ``renewal`` (and ``nightly``) keys changed, as CRSYNC_SETTINGS_FILE."""
    text = (ROOT / "include/crsync/settings.yaml").read_text()
    data = yaml.safe_load(text)
    data["renewal"].update(renewal)
    data["nightly"].update(nightly or {})
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(path))
    return path


def test_renewal_round_trip(fresh_sandbox, flow_dags, clock, sf_api, ns_sql, ns_rest, tmp_path, monkeypatch):
    # The stand-ins' clock jumps about nine months between this test's nightly contract runs: the catch-up
    # reads the whole jump (standing for the nightly runs in between) instead of failing the run for the
    # days beyond nightly.max_catch_up_days that it would leave unread.
    write_settings(tmp_path, monkeypatch, nightly={"max_catch_up_days": 366})
    start = new_contract(fresh_sandbox, flow_dags, clock, sf_api, ns_sql)
    original_id = start["contract"]["id"]
    estimate = renewal_generated(fresh_sandbox, clock, ns_sql, start)
    est_id = estimate["id"]
    ns_lines = estimate_lines(ns_sql, est_id)
    renewing = [line for line in ns_lines if float(line["quantity"]) > 0]
    assert len(renewing) >= 2, ns_lines

    # 0. A dry run for the estimate's id (manual run) shows what it would write and writes nothing.
    assert clock.run(flow_dags[RENEWAL_DAG], netsuite_ids=[int(est_id)], dry_run=True).state == "success"
    assert renewal_opportunities(sf_api) == []

    # 1. The nightly run after the script: one renewal Opportunity, linked, with one priced line per estimate line.
    assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
    [renewal] = renewal_opportunities(sf_api)
    assert renewal["NetSuite_Renewal_Estimate_Id__c"] == est_id
    assert renewal["Order_Type__c"] == "Contract Renewal"
    assert renewal["StageName"] == "Prospecting"  # the settings' stage
    assert renewal["CloseDate"] == start["contract"]["end_date"]  # close_date_rule contract_end
    assert renewal["ContractId"] == start["sf_contract"]["Id"]
    account = sf_api.query(f"SELECT Id FROM Account WHERE NetSuite_Id__c = '{estimate['entity']}'")["records"]
    assert [a["Id"] for a in account] == [renewal["AccountId"]]
    sf_lines = opportunity_lines(sf_api, renewal["Id"])
    assert [line["NetSuite_Line_Id__c"] for line in sf_lines] == [
        f"{est_id}_{line['id']}" for line in renewing
    ]
    for sf_line, ns_line in zip(sf_lines, renewing, strict=True):
        assert sf_line["PricebookEntry"]["Product2"]["NetSuite_Id__c"] == ns_line["item"]
        assert sf_line["Quantity"] == float(ns_line["quantity"])
        assert sf_line["UnitPrice"] == float(ns_line["rate"])
        assert (sf_line["Start_Date__c"], sf_line["End_Date__c"]) == (
            estimate["startdate"],
            estimate["enddate"],
        )
        assert sf_line["Term_Months__c"] == 12
    first_line_ids = {line["NetSuite_Line_Id__c"]: line["Id"] for line in sf_lines}

    # 2. Sales renames it; the estimate changes in NetSuite: a quantity change and a dropped line (quantity 0,
    # the module's rule). The next nightly run updates the same Opportunity and line, removes the dropped one.
    sf_api.Opportunity.update(renewal["Id"], {"Name": "Acme renewal (sales owns the name)"})
    kept, dropped = renewing[0], renewing[1]
    ns_rest("PATCH", f"estimate/{est_id}", json={"item": {"items": [
        {"line": int(kept["id"]), "quantity": 5}, {"line": int(dropped["id"]), "quantity": 0}]}})  # fmt: skip
    for _ in range(2):  # a rerun of the same window changes nothing
        assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
        [again] = renewal_opportunities(sf_api)
        assert again["Id"] == renewal["Id"] and again["Name"] == "Acme renewal (sales owns the name)"
        sf_lines = opportunity_lines(sf_api, renewal["Id"])
        assert [(line["NetSuite_Line_Id__c"], line["Quantity"]) for line in sf_lines] == [
            (f"{est_id}_{kept['id']}", 5.0)
        ]
        assert sf_lines[0]["Id"] == first_line_ids[f"{est_id}_{kept['id']}"]  # updated, not re-created

    # 3. Won, and "Create NetSuite Order" clicked: the hourly flow orders it by transforming the estimate.
    sf_api.Opportunity.update(renewal["Id"], {"StageName": "Closed Won", "Sync_Status__c": "Processing"})
    assert clock.run(flow_dags[ORDER_DAG], SF).state == "success"
    orders = ns_sql(
        "SELECT id, tranid, externalid, createdfrom, custbody_order_type, custbody_swe_from_contract, "
        f"custbody_contract_name FROM transaction WHERE type = 'SalesOrd' AND externalid = '{renewal['Id']}'"
    )
    assert len(orders) == 1, orders
    order = orders[0]
    assert order["createdfrom"] == est_id and order["custbody_order_type"] == "2"
    assert order["custbody_swe_from_contract"] == original_id
    order_lines = ns_sql(
        f"SELECT item, quantity FROM transactionline WHERE transaction = {order['id']} AND mainline = 'F' "
        "AND quantity < 0 ORDER BY id"  # sales lines carry the posting sign
    )
    assert [(line["item"], -float(line["quantity"])) for line in order_lines] == [(kept["item"], 5.0)]
    assert ns_sql(f"SELECT status FROM transaction WHERE id = {est_id}")[0]["status"] == "B"  # Processed
    synced = renewal_opportunities(sf_api)[0]
    assert synced["Sync_Status__c"] == "Synced" and synced["NetSuite_Id__c"] == order["id"]

    # 4. The module: the order's renewal contract becomes Active (once billed), the original Renewal Processed.
    order_steps.complete_orders(fresh_sandbox, [order["id"]])
    order["custbody_contract_name"] = ns_sql(
        f"SELECT custbody_contract_name FROM transaction WHERE id = {order['id']}"
    )[0]["custbody_contract_name"]
    renewal_contract = contract(ns_sql, order["custbody_contract_name"])
    assert renewal_contract["id"] != original_id
    assert renewal_contract["custrecord_swe_original_contract"] == original_id
    assert renewal_contract["custrecord_contract_status"] == ACTIVE
    assert (renewal_contract["start_date"], renewal_contract["end_date"]) == (
        estimate["startdate"],
        estimate["enddate"],
    )
    original = contract(ns_sql, original_id)
    assert original["custrecord_contract_status"] == RENEWAL_PROCESSED and original["date_renewed"]
    items = ns_sql(
        "SELECT custrecord_ci_item AS item, custrecord_ci_quantity AS quantity FROM customrecord_contract_item "
        f"WHERE custrecord_ci_contract_id = {renewal_contract['id']}"
    )
    assert [(i["item"], float(i["quantity"])) for i in items] == [(kept["item"], 5.0)]

    # 5. The nightly flows: the renewal contract reaches Salesforce, the original shows Renewal Processed; the
    # ordered estimate is skipped by the renewal flow (nothing changes).
    assert clock.run(flow_dags[CONTRACT_DAG]).state == "success"
    contracts = {
        c["NetSuite_Id__c"]: c
        for c in sf_api.query_all("SELECT Id, NetSuite_Id__c, NetSuite_Status__c FROM Contract")["records"]
    }
    assert contracts[original_id]["NetSuite_Status__c"] == "Renewal Processed"
    assert contracts[renewal_contract["id"]]["NetSuite_Status__c"] == "Active"
    # Lineage both ways: the renewal Opportunity keeps the contract it renews; each contract records the
    # Opportunity whose order made it, so the chain walks renewal contract -> renewal Opportunity ->
    # original contract -> new-contract Opportunity.
    walked = walk_renewal_chain(sf_api, contracts[renewal_contract["id"]]["Id"])
    assert walked == [
        (contracts[renewal_contract["id"]]["Id"], renewal["Id"]),
        (contracts[original_id]["Id"], start["opportunity_id"]),
    ]
    assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
    assert len(renewal_opportunities(sf_api)) == 1
    assert renewal_opportunities(sf_api)[0]["ContractId"] == contracts[original_id]["Id"]
    assert len(opportunity_lines(sf_api, renewal["Id"])) == 1
    print("ROUND TRIP", {
        "new_opportunity": start["opportunity_id"], "new_order": start["order"], "original_contract": original,
        "estimate": estimate, "renewal_opportunity": synced, "renewal_order": order,
        "renewal_contract": renewal_contract, "sf_contracts": contracts,
        "final_renewal": renewal_opportunities(sf_api)[0],
    })  # fmt: skip


def test_quote_setting_creates_a_quote_with_quote_lines(
    fresh_sandbox, flow_dags, clock, sf_api, ns_sql, ns_rest, tmp_path, monkeypatch
):
    start = new_contract(fresh_sandbox, flow_dags, clock, sf_api, ns_sql)
    estimate = renewal_generated(fresh_sandbox, clock, ns_sql, start)
    est_id = estimate["id"]
    renewing = [line for line in estimate_lines(ns_sql, est_id) if float(line["quantity"]) > 0]
    write_settings(tmp_path, monkeypatch, target="quote", stage_name="Qualification")
    # The customer has no Account in Salesforce (any more): the flow creates one by NetSuite_Id__c.
    [old_account] = sf_api.query(f"SELECT Id FROM Account WHERE NetSuite_Id__c = '{estimate['entity']}'")[
        "records"
    ]
    sf_api.Account.update(old_account["Id"], {"NetSuite_Id__c": None})

    assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
    [renewal] = renewal_opportunities(sf_api)
    [account] = sf_api.query(f"SELECT Id, Name FROM Account WHERE NetSuite_Id__c = '{estimate['entity']}'")[
        "records"
    ]
    assert account["Id"] != old_account["Id"] and account["Id"] == renewal["AccountId"]
    assert account["Name"] == "Acme Analytics Inc."
    assert renewal["StageName"] == "Qualification" and renewal["ContractId"] == start["sf_contract"]["Id"]
    assert opportunity_lines(sf_api, renewal["Id"]) == []  # the lines are on the Quote
    [quote] = sf_api.query(
        "SELECT Id, Name, OpportunityId, Pricebook2Id, NetSuite_Estimate_Id__c FROM Quote"
    )["records"]
    assert quote["NetSuite_Estimate_Id__c"] == est_id and quote["OpportunityId"] == renewal["Id"]

    def quote_lines() -> list[dict[str, Any]]:
        return sf_api.query_all(
            f"SELECT {RENEWAL_LINE_FIELDS}, PricebookEntry.Product2.NetSuite_Id__c FROM QuoteLineItem "
            f"WHERE QuoteId = '{quote['Id']}' ORDER BY NetSuite_Line_Id__c"
        )["records"]

    lines = quote_lines()
    assert [(q["NetSuite_Line_Id__c"], q["PricebookEntry"]["Product2"]["NetSuite_Id__c"], q["Quantity"]) for q in lines] == [
        (f"{est_id}_{n['id']}", n["item"], float(n["quantity"])) for n in renewing
    ]  # fmt: skip

    # A line removed from the estimate (the whole item sublist replaced without it) leaves the Quote.
    kept = renewing[0]
    ns_rest("PATCH", f"estimate/{est_id}", params={"replace": "item"}, json={"item": {"items": [
        {"item": {"id": kept["item"]}, "quantity": 2, "rate": float(kept["rate"]),
         "custcol_swe_contract_start_date": estimate["startdate"],
         "custcol_swe_contract_end_date": estimate["enddate"]}]}})  # fmt: skip
    new_lines = estimate_lines(ns_sql, est_id)
    assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
    assert len(renewal_opportunities(sf_api)) == 1
    assert len(sf_api.query("SELECT Id FROM Quote")["records"]) == 1
    assert [(q["NetSuite_Line_Id__c"], q["Quantity"]) for q in quote_lines()] == [
        (f"{est_id}_{n['id']}", 2.0) for n in new_lines
    ]
