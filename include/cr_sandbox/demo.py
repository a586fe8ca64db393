"""`make demo`: the whole contract renewal cycle through the real DAGs, against the sandbox.

New contract -> contracts and items to Salesforce -> upsell -> clock moved to the renewal date and
the module's nightly script -> renewal estimate to Opportunity -> renewal won and ordered from the
estimate -> renewal contract back to Salesforce -> reconciliation. Every DAG runs with
``bin/airflow dags test`` (the same code the scheduler runs) in the demo's own Airflow home
(``.airflow-demo/``, started afresh by every demo), never the one ``make up`` serves (``.airflow/``): the
demo's runs read a temporary sandbox, a year ahead on its moved clock, and would look broken in that UI
(links to a sandbox that is gone, dates in the future, no task log files). The demo checks both systems
after each step, prints a report, stops the sandbox it started (its temporary folder is removed, also on
Ctrl-C), says what to do next and exits 0 only when every expected record is there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cr_sandbox import clients, order_steps
from cr_sandbox.config import PROJECT_ROOT
from cr_sandbox.connections import env_connections
from cr_sandbox.process import RunningSandbox, running_sandbox

HOURLY_DAG = "sf_opportunity_to_ns_sales_order"
CONTRACT_DAG = "ns_contract_to_sf_contract"
ITEM_DAG = "ns_contract_item_to_sf_contract_item"
RENEWAL_DAG = "ns_renewal_estimate_to_sf_opportunity"
RECONCILIATION_DAG = "crsync_reconciliation"
RUN_STATE = re.compile(r"DagRun Finished: dag_id=(\S+?),.*?state=(\w+)")
#: The demo's Airflow home (``.airflow-demo/`` by default): its metadata DB, XCom files, reports and the
#: ``dags test`` output. Removed and made again by every demo; ``make up`` serves ``.airflow/``.
DEMO_HOME_ENV = "CRSYNC_DEMO_AIRFLOW_HOME"
#: Marks a folder as a demo home, so the demo only ever removes a folder it made itself.
DEMO_HOME_MARKER = ".crsync-demo-home"
#: Variables that tie Airflow (or the reports) to a home: a user's, exported for ``make up``, must not send
#: the demo's rows and files there. Without them the demo's home gets the project's defaults
#: (bin/airflow-env.sh): a SQLite DB, XCom and reports under it.
HOME_BOUND_VARIABLES = (
    "AIRFLOW_CONFIG",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET",
    "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "CRSYNC_REPORTS_PATH",
    "CRSYNC_REPORTS_CONN_ID",
)


def make_up_home() -> Path:
    """The Airflow home ``make up`` serves (bin/airflow-env.sh: ``$AIRFLOW_HOME``, else ``.airflow/``)."""
    return Path(os.environ.get("AIRFLOW_HOME") or PROJECT_ROOT / ".airflow").resolve()


def demo_home() -> Path:
    """The demo's own Airflow home: ``$CRSYNC_DEMO_AIRFLOW_HOME``, else ``.airflow-demo/``."""
    return Path(os.environ.get(DEMO_HOME_ENV) or PROJECT_ROOT / ".airflow-demo").resolve()


def enter_demo_home(home: Path, *, shown_by_make_up: Path) -> None:
    """Start the demo's Airflow home afresh and point this process (and so every ``bin/airflow`` it runs)
    at it: metadata DB, netsuite_api pool, XCom and reports there, nothing in ``make up``'s home.

    A previous demo's home is removed first: its runs read a sandbox that is gone, and its nightly flows'
    high-water marks are a year ahead (the demo moves the sandbox clock).

    :raises SystemExit: ``home`` is the home ``make up`` serves, or a folder the demo did not make.
    """
    if home == shown_by_make_up:
        raise SystemExit(
            f"The demo's Airflow home {home} is the one make up serves; set {DEMO_HOME_ENV} to another folder."
        )
    if home.exists():
        if not (home / DEMO_HOME_MARKER).exists() and any(home.iterdir()):
            raise SystemExit(
                f"{home} is not empty and was not made by the demo; the demo starts its home afresh, so it "
                f"will not use it: remove it or set {DEMO_HOME_ENV} to another folder."
            )
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / DEMO_HOME_MARKER).write_text("Made by make demo (cr_sandbox.demo); removed by the next demo.\n")
    for name in HOME_BOUND_VARIABLES:
        os.environ.pop(name, None)
    os.environ["AIRFLOW_HOME"] = str(home)
    print(f"Setting up the demo's Airflow home {home} (metadata DB, netsuite_api pool) ...", flush=True)
    setup = subprocess.run([str(PROJECT_ROOT / "bin/setup-airflow")], capture_output=True, text=True)
    if setup.returncode != 0:
        raise SystemExit(f"{setup.stdout}{setup.stderr}bin/setup-airflow failed for {home} (above).")


def dag_timetables() -> dict[str, Any]:
    """Each DAG's timetable, as ``dags test`` uses it (parsed from dags/, no I/O at import)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    return {dag_id: coerce_to_core_timetable(dag.timetable) for dag_id, dag in bag.dags.items()}


def window_holding(timetable: Any, moment: datetime) -> tuple[datetime, datetime]:
    """The schedule window ``[start, end)`` that holds ``moment``: the one after the last full window."""
    from airflow.sdk import timezone

    last = timetable.infer_manual_data_interval(run_after=timezone.coerce_datetime(moment))
    following = timetable.infer_manual_data_interval(run_after=last.end + (last.end - last.start))
    return following.start, following.end


@contextmanager
def temporary_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox whose state folder (its TLS and signing private keys, its data) lives in the system temp
    folder only while the demo runs: removed on every exit, a failure or Ctrl-C included."""
    with tempfile.TemporaryDirectory(prefix="crsync-demo-sandbox-") as state_dir:
        print(f"Starting the sandbox (state in {state_dir}, removed at the end) ...", flush=True)
        with running_sandbox(Path(state_dir)) as sandbox:
            yield sandbox


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM (a CI job cancelled) unwinds like Ctrl-C, so the sandbox stops and its folder is removed."""
    raise SystemExit(128 + signum)


@dataclass
class Step:
    title: str
    moved: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(passed for _, passed in self.checks)


class Demo:
    """Drives the sandbox and the DAGs; records what moved and whether it landed."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.config = sandbox.config
        self.sf = clients.salesforce(self.config)
        self.steps: list[Step] = []
        # The demo drives its own sandbox (free ports): its DAG runs must use it, whatever connection of
        # the same id is saved in this Airflow home, so the connections are variables (they win).
        self.env = {**os.environ, **sandbox.env(), "CRSYNC_USE_SANDBOX": "1", **env_connections(self.config)}
        self.timetables = dag_timetables()

    # ----------------------------------------------------------------- plumbing

    def say(self, text: str) -> None:
        print(text, flush=True)

    def sql(self, query: str) -> list[dict[str, Any]]:
        return clients.suiteql(self.config, query)

    def soql(self, query: str) -> list[dict[str, Any]]:
        return self.sf.query_all(query)["records"]

    def sandbox_now(self) -> datetime:
        clock = self.sandbox.control("netsuite", "clock", method="GET")
        today = clock.get("today")
        now = datetime.now(UTC)
        offset_days = (datetime.fromisoformat(today).date() - now.date()).days if today else 0
        return now + timedelta(days=offset_days)

    def move_clock(self, day: str) -> None:
        for system in ("netsuite", "salesforce"):
            self.sandbox.control(system, "clock", {"today": day})

    def run_dag(self, dag_id: str, **conf: Any) -> str:
        """``bin/airflow dags test DAG <window end>`` for the schedule window that holds sandbox 'now'.

        The date given to ``dags test`` selects the window that ends at or before it, so the demo gives
        the window's end (the time the scheduled run for it would start): docs/operations.md, "Which
        window a run reads".
        """
        start, end = window_holding(self.timetables[dag_id], self.sandbox_now())
        logical = end.isoformat()
        self.say(f"    bin/airflow dags test {dag_id} {logical}  (window [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC) ...")
        started = time.monotonic()
        proc = subprocess.run(
            [str(PROJECT_ROOT / "bin/airflow"), "dags", "test", dag_id, logical, "-c", json.dumps(conf)],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
        )
        output = proc.stdout + proc.stderr
        log_dir = Path(self.env["AIRFLOW_HOME"]) / "demo-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{dag_id}-{int(time.time())}.log").write_text(output)
        states = [m.group(2) for m in RUN_STATE.finditer(output) if m.group(1) == dag_id]
        state = states[-1] if states else f"unknown (exit {proc.returncode})"
        self.say(f"    {dag_id}: {state} in {time.monotonic() - started:.0f}s")
        return state

    def step(self, title: str) -> Step:
        self.say(f"\n== {title}")
        step = Step(title)
        self.steps.append(step)
        return step

    def check(self, step: Step, what: str, passed: bool) -> None:
        step.checks.append((what, passed))
        self.say(f"    [{'ok' if passed else 'MISSING'}] {what}")

    def opportunity(self, opp_id: str) -> dict[str, Any]:
        return self.soql(
            "SELECT Id, Name, Sync_Status__c, Sync_Error__c, NetSuite_Id__c, NetSuite_Order_Number__c, "
            f"ContractId, StageName, Amount FROM Opportunity WHERE Id = '{opp_id}'"
        )[0]

    def order_of(self, opp_id: str) -> dict[str, Any] | None:
        rows = self.sql(
            "SELECT id, tranid, custbody_contract_name, createdfrom FROM transaction "
            f"WHERE type = 'SalesOrd' AND externalid = '{opp_id}'"
        )
        return rows[0] if len(rows) == 1 else None

    def contract(self, contract_id: str) -> dict[str, Any]:
        return self.sql(
            "SELECT id, name, custrecord_contract_status status, custrecord_contract_renewal_tran renewal_tran, "
            "custrecord_swe_original_contract original, "
            "TO_CHAR(custrecord_contracts_end_date, 'YYYY-MM-DD') end_date "
            f"FROM customrecord_contracts WHERE id = {int(contract_id)}"
        )[0]

    def item_count(self, contract_id: str) -> int:
        return len(self.sql(f"SELECT id FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {int(contract_id)}"))

    def sf_contract(self, contract_id: str) -> dict[str, Any] | None:
        rows = self.soql(
            "SELECT Id, NetSuite_Name__c, NetSuite_Status__c, AccountId, "
            f"(SELECT Id FROM Contract_Items__r) FROM Contract WHERE NetSuite_Id__c = '{contract_id}'"
        )
        return rows[0] if rows else None

    @staticmethod
    def children(record: dict[str, Any] | None, name: str) -> int:
        block = (record or {}).get(name)
        return int(block["totalSize"]) if block else 0

    def in_netsuite(self, step: Step, order_id: str) -> None:
        """What happens to a new order in NetSuite before a contract has items (issue 17): a user approves
        it (unless the flow creates orders approved), a user bills it, the module's scripts run (R07 makes
        the contract, R03 its items, hourly). Done here through the vendor API, as a user would."""
        from crsync.settings import NewOrderStatus, load_settings

        if load_settings().netsuite.new_order_status is NewOrderStatus.APPROVED:
            self.say("    NetSuite: the order was created approved (settings netsuite.new_order_status: approved)")
        else:
            approved = order_steps.approve_orders(self.config, [order_id])
            self.say(f"    NetSuite user approves sales order {order_id} "
                     f"(PATCH salesOrder/{order_id} orderStatus B): {len(approved)} approved")
        unbilled = self.sql(
            f"SELECT id FROM customrecord_contract_item WHERE custrecord_ci_original_transaction = {int(order_id)}"
        )
        self.check(step, "no contract items from the order before it is billed (module default: fully billed)",
                   unbilled == [])
        invoices = order_steps.bill_orders(self.config, [order_id])
        self.say(f"    NetSuite user bills it (POST salesOrder/{order_id}/!transform/invoice): invoice {', '.join(invoices)}")
        done = order_steps.run_module_scripts(self.sandbox)
        self.say(f"    Contract Renewals module, in the background: R07 made contracts {done.get('contracts_created')}, "
                 f"hourly R03 made {done.get('contract_items_created', {}).get('contract_items', 0)} contract items")
        step.moved.append(f"NetSuite: order {order_id} approved and billed by NetSuite users; the module's R07/R03 "
                          "scripts made the contract and its items")


    # ----------------------------------------------------------------- the cycle

    def run(self) -> bool:
        for system in ("netsuite", "salesforce"):
            self.sandbox.control(system, "reset", {})
            self.sandbox.control(system, "clock", {"reset": True})
        self.sandbox.control("netsuite", "seed", {"contracts": 0})
        self.sandbox.control("salesforce", "seed", {"catalog_only": True})

        s = self.step("1. New contract: a rep clicks 'Create NetSuite Order' on a Contract New Opportunity")
        new_opp = self.sandbox.control(
            "salesforce",
            "seed",
            {"opportunities": 1, "lines_per_opportunity": 3, "order_type": "Contract New", "account_netsuite_id": "1001"},
        )["opportunity_ids"][0]
        self.run_dag(HOURLY_DAG)
        order = self.order_of(new_opp)
        opp = self.opportunity(new_opp)
        self.check(s, f"one sales order for Opportunity {new_opp}", order is not None)
        if order is None:
            return False
        self.in_netsuite(s, order["id"])
        order = self.order_of(new_opp)
        contract_id = str(order["custbody_contract_name"]) if order and order.get("custbody_contract_name") else ""
        self.check(s, "the CR module created a contract", bool(contract_id))
        self.check(s, "Opportunity Synced with the NetSuite id and order number",
                   opp["Sync_Status__c"] == "Synced" and order is not None and opp["NetSuite_Id__c"] == order["id"])
        if not s.ok:
            return False
        original = self.contract(contract_id)
        s.moved.append(f"Opportunity {new_opp} -> sales order {order['id']} ({order['tranid']}) -> contract "
                       f"{contract_id} '{original['name']}' with {self.item_count(contract_id)} items")

        s = self.step("2. Nightly: contracts and contract items to Salesforce")
        self.run_dag(CONTRACT_DAG)
        self.run_dag(ITEM_DAG)
        sf_contract = self.sf_contract(contract_id)
        self.check(s, f"Salesforce Contract for NetSuite contract {contract_id}", sf_contract is not None)
        self.check(s, "its contract items", self.children(sf_contract, "Contract_Items__r") == self.item_count(contract_id))
        self.check(s, "the Opportunity points at the contract",
                   bool(sf_contract) and self.opportunity(new_opp)["ContractId"] == sf_contract["Id"])
        if not s.ok:
            return False
        s.moved.append(f"Contract {sf_contract['Id']} '{sf_contract['NetSuite_Name__c']}' with "
                       f"{self.children(sf_contract, 'Contract_Items__r')} Contract_Item__c")

        s = self.step("3. Upsell: a new Opportunity on the same contract")
        items_before = self.item_count(contract_id)
        upsell_opp = self.sandbox.control(
            "salesforce",
            "seed",
            {"opportunities": 1, "lines_per_opportunity": 1, "order_type": "Contract Upsell",
             "account_netsuite_id": "1001", "contract_netsuite_id": contract_id},
        )["opportunity_ids"][0]
        self.run_dag(HOURLY_DAG)
        upsell_order = self.order_of(upsell_opp)
        self.check(s, f"one upsell sales order for {upsell_opp}", upsell_order is not None)
        if upsell_order is None:
            return False
        self.in_netsuite(s, upsell_order["id"])
        self.check(s, "co-termed items added to the same contract", self.item_count(contract_id) > items_before)
        self.run_dag(CONTRACT_DAG)
        self.run_dag(ITEM_DAG)
        sf_contract = self.sf_contract(contract_id)
        self.check(s, "Salesforce shows the upsell items on the contract",
                   self.children(sf_contract, "Contract_Items__r") == self.item_count(contract_id))
        if not s.ok:
            return False
        s.moved.append(f"Opportunity {upsell_opp} -> sales order {upsell_order['id']} -> contract {contract_id} now "
                       f"{self.item_count(contract_id)} items")

        s = self.step("4. Time passes: clock moved to the target renewal date, the module's nightly script runs")
        renewal_day = (datetime.fromisoformat(original["end_date"]) - timedelta(days=90)).date().isoformat()
        self.move_clock(renewal_day)
        self.sandbox.control("netsuite", "run-scripts", {})
        renewal = self.contract(contract_id)
        estimate_id = str(renewal.get("renewal_tran") or "")
        self.check(s, f"renewal estimate generated on {renewal_day}", bool(estimate_id))
        if not s.ok:
            return False
        s.moved.append(f"contract {contract_id} -> status {renewal['status']}, renewal estimate {estimate_id}")

        s = self.step("5. Nightly: renewal estimate to a Salesforce renewal Opportunity")
        self.run_dag(RENEWAL_DAG)
        renewal_opps = self.soql(
            "SELECT Id, Name, StageName, ContractId, Order_Type__c, (SELECT Id FROM OpportunityLineItems) "
            f"FROM Opportunity WHERE NetSuite_Renewal_Estimate_Id__c = '{estimate_id}'"
        )
        self.check(s, "one renewal Opportunity", len(renewal_opps) == 1)
        if not s.ok:
            return False
        renewal_opp = renewal_opps[0]
        self.check(s, "linked to the contract", renewal_opp["ContractId"] == sf_contract["Id"])
        self.check(s, "with line items", self.children(renewal_opp, "OpportunityLineItems") > 0)
        s.moved.append(f"estimate {estimate_id} -> Opportunity {renewal_opp['Id']} '{renewal_opp['Name']}' "
                       f"({self.children(renewal_opp, 'OpportunityLineItems')} lines)")

        s = self.step("6. The renewal is won and sent back: ordered from the same estimate")
        self.sf.Opportunity.update(renewal_opp["Id"], {"StageName": "Closed Won", "Sync_Status__c": "Processing"})
        self.run_dag(HOURLY_DAG)
        renewal_order = self.order_of(renewal_opp["Id"])
        self.check(s, "one renewal sales order", renewal_order is not None)
        self.check(s, "transformed from the estimate (lineage kept)",
                   bool(renewal_order) and str(renewal_order.get("createdfrom")) == estimate_id)
        self.check(s, "renewal Opportunity Synced", self.opportunity(renewal_opp["Id"])["Sync_Status__c"] == "Synced")
        if not s.ok:
            return False
        self.in_netsuite(s, renewal_order["id"])
        renewal_order = self.order_of(renewal_opp["Id"]) or renewal_order
        new_contract_id = str(renewal_order.get("custbody_contract_name") or "")
        if not new_contract_id:
            rows = self.sql(f"SELECT id FROM customrecord_contracts WHERE custrecord_swe_original_contract = {int(contract_id)}")
            new_contract_id = str(rows[0]["id"]) if rows else ""
        self.check(s, "renewal contract created", bool(new_contract_id) and new_contract_id != contract_id)
        s.moved.append(f"Opportunity {renewal_opp['Id']} -> sales order {renewal_order['id']} (from estimate "
                       f"{estimate_id}) -> renewal contract {new_contract_id}")

        s = self.step("7. Nightly: the renewal contract back to Salesforce")
        self.run_dag(CONTRACT_DAG)
        self.run_dag(ITEM_DAG)
        sf_renewal = self.sf_contract(new_contract_id) if new_contract_id else None
        self.check(s, f"Salesforce Contract for renewal contract {new_contract_id}", sf_renewal is not None)
        self.check(s, "its items", self.children(sf_renewal, "Contract_Items__r") == self.item_count(new_contract_id or "0"))
        self.check(s, "original contract shows the NetSuite renewal status",
                   (self.sf_contract(contract_id) or {}).get("NetSuite_Status__c") in {"Renewal Processed", "Renewal Generated"})
        if sf_renewal:
            s.moved.append(f"Contract {sf_renewal['Id']} '{sf_renewal['NetSuite_Name__c']}' "
                           f"({sf_renewal['NetSuite_Status__c']}); original now "
                           f"{self.contract(contract_id)['status']} in NetSuite")

        s = self.step("8. Reconciliation: both systems agree")
        state = self.run_dag(RECONCILIATION_DAG)
        self.check(s, "reconciliation run succeeded", state == "success")
        sales_orders = self.sql("SELECT id FROM transaction WHERE type = 'SalesOrd'")
        synced = self.soql("SELECT Id FROM Opportunity WHERE Sync_Status__c = 'Synced'")
        self.check(s, "every sales order has a Synced Opportunity (3 orders, 3 Synced)",
                   len(sales_orders) == 3 and len(synced) == 3)
        s.moved.append(f"{len(sales_orders)} sales orders, {len(synced)} Synced Opportunities, "
                       f"{len(self.soql('SELECT Id FROM Contract'))} Contracts, "
                       f"{len(self.soql('SELECT Id FROM Contract_Item__c'))} Contract_Item__c in Salesforce")
        return all(step.ok for step in self.steps)

    def report(self, ok: bool, elapsed: float) -> None:
        self.say("\n" + "=" * 78)
        self.say("Contract renewal cycle: report")
        self.say("=" * 78)
        for step in self.steps:
            self.say(f"{'PASS' if step.ok else 'FAIL'}  {step.title}")
            for line in step.moved:
                self.say(f"      {line}")
            for what, passed in step.checks:
                if not passed:
                    self.say(f"      missing: {what}")
        self.say("-" * 78)
        self.say(f"{'Every expected record is where it should be.' if ok else 'Some records are missing (see above).'}"
                 f" {elapsed:.0f}s. Airflow logs: {self.env['AIRFLOW_HOME']}/demo-logs")


def next_steps(demo_airflow_home: str, up_airflow_home: str) -> str:
    """What to do after the demo: ``make up`` starts on its own home and sandbox (not the demo's runs);
    where the demo's logs and reconciliation report files are."""
    from crsync.runtime.flows.reconciliation import DAG_ID as RECONCILIATION
    from crsync.runtime.flows.reconciliation import reports_base

    reports = str(reports_base() / RECONCILIATION).removeprefix("file://")  # a local folder: its plain path
    return (
        "Next:\n"
        f"  make up       the Airflow UI (http://127.0.0.1:8080) on its own Airflow home ({up_airflow_home})\n"
        "                and sandbox (.sandbox/, seeded with NetSuite and Salesforce data on first start).\n"
        "                It does NOT list the demo's runs: they ran in the demo's own Airflow home\n"
        f"                ({demo_airflow_home}) against the demo's temporary sandbox, now removed.\n"
        "                Unpause or trigger a DAG there to see runs of your own.\n"
        f"  logs          the output of every `dags test` above: {demo_airflow_home}/demo-logs/\n"
        f"  reports       the reconciliation report of each run (report.html, drift.csv, summary.json):\n"
        f"                {reports}/<run id>/\n"
        "  The next make demo starts its home afresh; make clean removes it."
    )


def main() -> int:
    started = time.monotonic()
    up_home, home = make_up_home(), demo_home()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    enter_demo_home(home, shown_by_make_up=up_home)
    try:
        with temporary_sandbox() as sandbox:
            demo = Demo(sandbox)
            try:
                ok = demo.run()
            except Exception as exc:  # report what happened so far, then fail
                demo.say(f"\nDemo stopped: {type(exc).__name__}: {exc}")
                ok = False
            demo.report(ok, time.monotonic() - started)
    except KeyboardInterrupt:
        print("\nDemo interrupted: the sandbox was stopped and its temporary folder removed.", flush=True)
        return 130
    print("\n" + next_steps(str(home), str(up_home)), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
