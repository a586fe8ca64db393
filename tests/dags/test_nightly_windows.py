"""The nightly NetSuite -> Salesforce DAGs never lose a record at a window boundary or after a failure
(issue 13, findings 7 and 11): real ``dag.test()`` runs against both stand-ins over HTTPS.

- Each run reads ``nightly.read_overlap_minutes`` before its window's start, so a record whose
  ``lastmodified`` stamp falls just before the boundary but was committed after the previous run read
  (a late commit) is picked up by the next run.
- The NetSuite ids of the records that failed in a run are remembered (Airflow Variable
  ``<dag id>.retry_ids``) and read again by the next run whatever its window, until they succeed.
- A manual run for ``netsuite_ids`` that do not exist warns, processes the others and goes red.
- The DAGs run with ``catchup=False``: after a scheduler outage or a paused DAG only the latest interval
  runs. Each flow keeps a high-water mark (Airflow Variable ``<dag id>.read_through``: the end of the
  last window read by a run that wrote or remembered every record) and the next run reads from it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from cr_sandbox import clients, order_steps

CONTRACT_DAG = "ns_contract_to_sf_contract"
ITEM_DAG = "ns_contract_item_to_sf_contract_item"
RENEWAL_DAG = "ns_renewal_estimate_to_sf_opportunity"
NIGHTLY_DAGS = (CONTRACT_DAG, ITEM_DAG, RENEWAL_DAG)
NS_SOURCE_CONF = {"netsuite_ids": [], "full_resync": False, "dry_run": False}
#: A scheduled-style run whose window [2026-01-05 02:00, 2026-01-06 02:00) holds no change.
QUIET_DAY = dt.datetime(2026, 1, 5, 2, 30, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]
MISSING_ID = 987654


def retry_variable(dag_id: str) -> str:
    return f"{dag_id}.retry_ids"


# ----------------------------------------------------------------------------------------------- helpers


@pytest.fixture
def no_memory(airflow_db):
    """The flows' retry lists (and the items' waiting list) start and end absent."""
    from airflow.models.variable import Variable

    names = [retry_variable(d) for d in NIGHTLY_DAGS] + [f"{ITEM_DAG}.waiting_item_ids"]
    for name in names:
        Variable.delete(name)
    yield
    for name in names:
        Variable.delete(name)


def remembered(dag_id: str) -> list[int] | None:
    from airflow.models.variable import Variable

    return Variable.get(retry_variable(dag_id), default_var=None, deserialize_json=True)


def remember(dag_id: str, ids: list[int]) -> None:
    from airflow.models.variable import Variable

    Variable.set(retry_variable(dag_id), ids, serialize_json=True)


@pytest.fixture
def run_dag(flow_dags, no_memory):
    """``dag.test`` with every param spelled out; restores the DAG's params afterwards (in-process runs
    write their conf into the shared Param objects)."""

    def run(dag_id: str, *, logical_date: dt.datetime | None = None, run_after: dt.datetime | None = None,
            **conf: Any):  # fmt: skip
        dag = flow_dags[dag_id]
        saved = [(p.get_param(k), copy.deepcopy(p.get_param(k).value)) for p in [dag.params] for k in p]
        try:
            return dag.test(
                run_conf={**NS_SOURCE_CONF, **conf}, logical_date=logical_date, run_after=run_after
            )
        finally:
            for param, value in saved:
                param.value = value

    return run


def summary_of(run) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.sdk.execution_time.xcom import resolve_xcom_backend
    from airflow.utils.session import create_session

    task_id = "link_opportunities" if run.dag_id == CONTRACT_DAG else "load"
    query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key="return_value")
    with create_session() as session:
        rows = session.scalars(query).all()
        assert rows, f"no result for {task_id}"
        return resolve_xcom_backend().deserialize_value(rows[0])


def rendered(summary: dict[str, Any]) -> str:
    from crsync.records import RunSummary

    return RunSummary.model_validate(summary).render()


def with_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **nightly: int) -> None:
    """A copy of the packaged settings with ``nightly`` keys changed, as CRSYNC_SETTINGS_FILE."""
    data = yaml.safe_load((ROOT / "include/crsync/settings.yaml").read_text())
    data["nightly"].update(nightly)
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(path))


def new_contract(sandbox, ns_sql, external_id: str, customer: str) -> dict[str, Any]:
    """A sales order as the hourly flow sends it; approved, billed and the module's scripts run (issue 17:
    the shared step of the ``complete_orders`` fixture), so its contract and items exist."""
    clients.netsuite_record(sandbox.config, "PUT", f"salesOrder/eid:{external_id}?replace=item", json={
        "customForm": {"id": "129"}, "custbody_end_user": {"id": customer}, "startdate": "2026-12-01",
        "entity": {"id": customer}, "custbody_order_type": {"id": "1"},
        "custbody_swe_contract_start_date": "2026-12-01", "custbody_swe_contract_end_date": "2027-11-30",
        "item": {"items": [{"item": {"id": "501"}, "quantity": 1}]},
    })  # fmt: skip
    order_steps.complete_orders(sandbox)
    rows = ns_sql(
        "SELECT c.id, TO_CHAR(c.lastmodified, 'YYYY-MM-DD HH24:MI:SS') AS modified FROM customrecord_contracts c "
        f"JOIN transaction t ON t.custbody_contract_name = c.id WHERE t.externalid = '{external_id}'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def customer_without_account(sandbox, ns_sql) -> str:
    sandbox.control("netsuite", "seed", {"customers": 1, "contracts": 0, "estimates": 0})
    return str(max(int(r["id"]) for r in ns_sql("SELECT id FROM customer")))


def sf_contract_ids(sf_api) -> list[str]:
    return sorted(
        r["NetSuite_Id__c"] for r in sf_api.query_all("SELECT NetSuite_Id__c FROM Contract")["records"]
    )


# ----------------------------------------------------------------------------------------------- tests


def test_contract_committed_just_before_the_window_start_is_read_by_the_next_run(
    fresh_sandbox, run_dag, ns_sql, sf_api, tmp_path, monkeypatch
):
    contract = new_contract(fresh_sandbox, ns_sql, "LATE-COMMIT", "1001")
    stamp = dt.datetime.fromisoformat(contract["modified"]).replace(tzinfo=dt.UTC)
    # The previous run's window ended one second after the stamp, but it read before the commit; the next
    # run's window [stamp + 1s, stamp + 1 day + 1s) starts one second after the stamp.
    next_run_after = stamp + dt.timedelta(days=1, seconds=1)

    run = run_dag(CONTRACT_DAG, run_after=next_run_after)

    assert run.state == "success"
    summary = summary_of(run)
    assert (summary["read"], summary["created"]) == (1, 1)
    assert sf_contract_ids(sf_api) == [contract["id"]]
    assert summary["read_overlap_minutes"] == 30
    read_from = stamp + dt.timedelta(seconds=1) - dt.timedelta(minutes=30)
    assert summary["read_window"].startswith(f"[{read_from.isoformat()}, ")
    assert "30 minute(s) before the window start" in rendered(summary)

    # The overlap is what picked it up: with none, the same window reads nothing.
    with_settings(tmp_path, monkeypatch, read_overlap_minutes=0)
    quiet = run_dag(CONTRACT_DAG, run_after=next_run_after + dt.timedelta(microseconds=1))
    assert (quiet.state, summary_of(quiet)["read"]) == ("success", 0)


def test_failed_contract_is_retried_by_the_next_run_outside_its_window(
    fresh_sandbox, run_dag, ns_sql, sf_api
):
    orphan = customer_without_account(fresh_sandbox, ns_sql)
    good = new_contract(fresh_sandbox, ns_sql, "GOOD-ORDER", "1003")
    bad = new_contract(fresh_sandbox, ns_sql, "ORDER-OF-ORPHAN", orphan)
    bad_id = int(bad["id"])

    first = run_dag(CONTRACT_DAG, run_after=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
    assert first.state == "failed"
    assert summary_of(first)["failures_by_code"] == {"missing_account": 1}
    assert remembered(CONTRACT_DAG) == [bad_id]
    assert "1 failed id(s) remembered for the next run" in rendered(summary_of(first))

    # A dry run reads the list (and says it would retry it) but leaves it as it is.
    dry = run_dag(CONTRACT_DAG, logical_date=QUIET_DAY, dry_run=True)
    # The contract still has no Account: a dry run lists the refusal without failing (issue 15 item 8).
    assert dry.state == "success"
    assert summary_of(dry)["failures_by_code"] == {"missing_account": 1}
    assert summary_of(dry)["retried_ids"] == [str(bad_id)]
    assert remembered(CONTRACT_DAG) == [bad_id]
    # A manual run for other ids neither reads nor wipes it.
    manual = run_dag(CONTRACT_DAG, logical_date=QUIET_DAY, netsuite_ids=[int(good["id"])])
    assert manual.state == "success"
    assert summary_of(manual)["retried_ids"] == []
    assert remembered(CONTRACT_DAG) == [bad_id]

    # Fixed in Salesforce; the next run's window (a quiet day) does not hold the contract, the list does.
    sf_api.Account.create({"Name": "Customer of the orphan order", "NetSuite_Id__c": orphan})
    retried = run_dag(CONTRACT_DAG, logical_date=QUIET_DAY)

    assert retried.state == "success"
    summary = summary_of(retried)
    assert (summary["read"], summary["created"], summary["failed"]) == (1, 1, 0)
    assert summary["retried_ids"] == [str(bad_id)]
    assert "retried 1 record(s) that failed in an earlier run: " + str(bad_id) in rendered(summary)
    assert sf_contract_ids(sf_api) == sorted([good["id"], bad["id"]])
    assert remembered(CONTRACT_DAG) == []
    # Nothing left to retry: the next quiet run reads nothing.
    assert summary_of(run_dag(CONTRACT_DAG, logical_date=QUIET_DAY))["read"] == 0


def test_retry_list_is_capped_and_the_summary_names_what_was_not_remembered(
    fresh_sandbox, run_dag, ns_sql, tmp_path, monkeypatch
):
    with_settings(tmp_path, monkeypatch, retry_max_ids=1)
    orphan = customer_without_account(fresh_sandbox, ns_sql)
    first = new_contract(fresh_sandbox, ns_sql, "ORPHAN-1", orphan)
    second = new_contract(fresh_sandbox, ns_sql, "ORPHAN-2", orphan)

    run = run_dag(CONTRACT_DAG, run_after=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))

    assert run.state == "failed"
    summary = summary_of(run)
    assert summary["failed"] == 2
    assert remembered(CONTRACT_DAG) == [int(first["id"])]
    assert summary["retry_overflow_ids"] == [second["id"]]
    assert "NOT remembered: the retry list is full (nightly.retry_max_ids = 1)" in rendered(summary)


@pytest.mark.parametrize("dag_id", NIGHTLY_DAGS)
def test_retried_id_that_netsuite_no_longer_has_is_dropped_with_a_warning(fresh_sandbox, run_dag, dag_id):
    remember(dag_id, [MISSING_ID])

    run = run_dag(dag_id, logical_date=QUIET_DAY)

    assert run.state == "success"  # gone is not a failure: nothing can be retried any more
    summary = summary_of(run)
    assert summary["retry_gone_ids"] == [str(MISSING_ID)]
    assert f"no longer in NetSuite, dropped from the retry list: {MISSING_ID}" in rendered(summary)
    assert remembered(dag_id) == []


@pytest.mark.parametrize("dag_id", NIGHTLY_DAGS)
def test_manual_run_for_ids_that_do_not_exist_goes_red_and_says_which(fresh_sandbox, run_dag, dag_id):
    run = run_dag(dag_id, logical_date=QUIET_DAY, netsuite_ids=[MISSING_ID])

    assert run.state == "failed"
    summary = summary_of(run)
    assert summary["failures_by_code"] == {"not_found": 1}
    [failure] = summary["first_failures"]
    assert failure["key"] == str(MISSING_ID)
    assert "not found in NetSuite" in failure["message"]
    assert remembered(dag_id) is None  # an id that does not exist is not retried


def test_manual_run_processes_the_ids_that_exist_before_going_red(fresh_sandbox, run_dag, ns_sql, sf_api):
    contract = new_contract(fresh_sandbox, ns_sql, "MANUAL-ORDER", "1004")

    run = run_dag(CONTRACT_DAG, logical_date=QUIET_DAY, netsuite_ids=[int(contract["id"]), MISSING_ID])

    assert run.state == "failed"
    summary = summary_of(run)
    assert (summary["read"], summary["created"], summary["failures_by_code"]) == (1, 1, {"not_found": 1})
    assert sf_contract_ids(sf_api) == [contract["id"]]


def test_failed_renewal_is_retried_by_the_next_run_once_its_contract_is_in_salesforce(
    fresh_sandbox, run_dag, ns_sql, sf_api
):
    # The first seeded contract is due for renewal now: the module's script creates its renewal estimate.
    fresh_sandbox.control("netsuite", "seed", {"contracts": 1, "items_per_contract": 2, "estimates": 0})
    fresh_sandbox.control("netsuite", "run-scripts")
    [contract] = ns_sql("SELECT id, custrecord_contract_renewal_tran AS renewal FROM customrecord_contracts")
    renewal = contract["renewal"]
    assert renewal

    first = run_dag(RENEWAL_DAG, run_after=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
    assert first.state == "failed"  # its Contract is not in Salesforce yet
    assert [f["key"] for f in summary_of(first)["first_failures"]] == [renewal]
    assert remembered(RENEWAL_DAG) == [int(renewal)]

    assert run_dag(CONTRACT_DAG, full_resync=True).state == "success"
    retried = run_dag(RENEWAL_DAG, logical_date=QUIET_DAY)

    assert retried.state == "success"
    summary = summary_of(retried)
    assert (summary["read"], summary["created"], summary["retried_ids"]) == (1, 1, [renewal])
    opportunities = sf_api.query_all(
        "SELECT Id, Contract.NetSuite_Id__c FROM Opportunity WHERE NetSuite_Renewal_Estimate_Id__c != null"
    )["records"]
    assert [o["Contract"]["NetSuite_Id__c"] for o in opportunities] == [contract["id"]]
    assert remembered(RENEWAL_DAG) == []


# ------------------------------------------------------------------ high-water mark (catchup=False)

SF_CONN_VAR = "AIRFLOW_CONN_SALESFORCE_DEFAULT"


def mark_variable(dag_id: str) -> str:
    return f"{dag_id}.read_through"


def mark(dag_id: str) -> str | None:
    from airflow.models.variable import Variable

    return Variable.get(mark_variable(dag_id), default_var=None)


def set_mark(dag_id: str, value: str) -> None:
    from airflow.models.variable import Variable

    Variable.set(mark_variable(dag_id), value)


def whole_seconds(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def test_days_that_never_ran_are_read_by_the_next_run(fresh_sandbox, run_dag, ns_sql, sf_api):
    now = whole_seconds(dt.datetime.now(dt.UTC))
    first = run_dag(CONTRACT_DAG, run_after=now - dt.timedelta(days=3))
    assert first.state == "success"
    assert mark(CONTRACT_DAG) == (now - dt.timedelta(days=3)).isoformat()
    # Modified after the first run's window; the scheduler was then down for days: the next run's window
    # [now + 4 days, now + 5 days) does not hold the change.
    contract = new_contract(fresh_sandbox, ns_sql, "DURING-OUTAGE", "1001")
    later_end = now + dt.timedelta(days=5)

    run = run_dag(CONTRACT_DAG, run_after=later_end)

    assert run.state == "success"
    summary = summary_of(run)
    assert (summary["read"], summary["created"]) == (1, 1)
    assert sf_contract_ids(sf_api) == [contract["id"]]
    previous = (now - dt.timedelta(days=3)).isoformat()
    assert summary["read_from_mark"] == previous
    read_from = now - dt.timedelta(days=3, minutes=30)  # the mark, minus the overlap
    assert summary["read_window"].startswith(f"[{read_from.isoformat()}, ")
    text = rendered(summary)
    assert f"read from {previous} (last successful read" in text
    assert mark(CONTRACT_DAG) == later_end.isoformat()
    assert summary["read_through"] == later_end.isoformat()

    # The next run, contiguous with the mark, reads its own window only.
    nxt = run_dag(CONTRACT_DAG, run_after=later_end + dt.timedelta(days=1))
    assert (nxt.state, summary_of(nxt)["read"], summary_of(nxt)["read_from_mark"]) == ("success", 0, "")


def test_first_run_ever_reads_its_window_and_sets_the_mark(fresh_sandbox, run_dag):
    end = whole_seconds(dt.datetime.now(dt.UTC)) - dt.timedelta(days=2)
    run = run_dag(CONTRACT_DAG, run_after=end)
    assert run.state == "success"
    summary = summary_of(run)
    assert summary["read_window"].startswith(f"[{(end - dt.timedelta(days=1, minutes=30)).isoformat()}, ")
    assert summary["read_from_mark"] == ""
    assert mark(CONTRACT_DAG) == end.isoformat()


def test_failure_remembered_in_the_retry_list_advances_the_mark(fresh_sandbox, run_dag, ns_sql):
    # Decision: a record that failed is in <dag id>.retry_ids, which every next run reads whatever its
    # window, so the window itself has been dealt with and the mark moves on.
    orphan = customer_without_account(fresh_sandbox, ns_sql)
    bad = new_contract(fresh_sandbox, ns_sql, "ORDER-OF-ORPHAN", orphan)
    end = whole_seconds(dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=2)

    run = run_dag(CONTRACT_DAG, run_after=end)

    assert run.state == "failed"
    assert remembered(CONTRACT_DAG) == [int(bad["id"])]
    assert mark(CONTRACT_DAG) == end.isoformat()


def test_failure_not_remembered_keeps_the_mark(fresh_sandbox, run_dag, ns_sql, tmp_path, monkeypatch):
    with_settings(tmp_path, monkeypatch, retry_max_ids=1)
    orphan = customer_without_account(fresh_sandbox, ns_sql)
    new_contract(fresh_sandbox, ns_sql, "ORPHAN-1", orphan)
    new_contract(fresh_sandbox, ns_sql, "ORPHAN-2", orphan)
    set_mark(CONTRACT_DAG, "2026-01-01T00:00:00+00:00")

    run = run_dag(CONTRACT_DAG, run_after=whole_seconds(dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=2))

    assert run.state == "failed"
    assert summary_of(run)["retry_overflow_ids"]  # one failure could not be remembered
    assert mark(CONTRACT_DAG) == "2026-01-01T00:00:00+00:00"
    assert "not advanced" in rendered(summary_of(run))


def test_run_that_fails_before_its_last_task_keeps_the_mark(fresh_sandbox, run_dag, ns_sql, monkeypatch):
    new_contract(fresh_sandbox, ns_sql, "ANY-ORDER", "1001")
    before = whole_seconds(dt.datetime.now(dt.UTC)) - dt.timedelta(days=2)
    set_mark(CONTRACT_DAG, before.isoformat())
    conn = json.loads(os.environ[SF_CONN_VAR])
    conn.setdefault("extra", {})
    if conn["extra"].get("session_id"):
        conn["extra"]["session_id"] = "00D000000000000!wrong"
    else:
        conn["password"] = "00D000000000000!wrong"
    monkeypatch.setenv(SF_CONN_VAR, json.dumps(conn))

    run = run_dag(CONTRACT_DAG, run_after=whole_seconds(dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=2))

    assert run.state == "failed"
    assert mark(CONTRACT_DAG) == before.isoformat()


def test_dry_run_and_manual_ids_run_never_move_the_mark(fresh_sandbox, run_dag, ns_sql):
    contract = new_contract(fresh_sandbox, ns_sql, "MANUAL-ORDER", "1004")
    before = "2026-01-01T00:00:00+00:00"
    later = whole_seconds(dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=2)
    set_mark(CONTRACT_DAG, before)

    assert run_dag(CONTRACT_DAG, run_after=later, dry_run=True).state == "success"
    assert mark(CONTRACT_DAG) == before
    assert run_dag(CONTRACT_DAG, run_after=later, netsuite_ids=[int(contract["id"])]).state == "success"
    assert mark(CONTRACT_DAG) == before

    # A full resync reads everything: it may set the mark.
    assert run_dag(CONTRACT_DAG, run_after=later, full_resync=True).state == "success"
    assert mark(CONTRACT_DAG) == later.isoformat()


def test_catch_up_is_capped_and_the_summary_says_so(fresh_sandbox, run_dag, ns_sql, tmp_path, monkeypatch):
    with_settings(tmp_path, monkeypatch, max_catch_up_days=2)
    now = whole_seconds(dt.datetime.now(dt.UTC))
    old = now - dt.timedelta(days=10)
    set_mark(CONTRACT_DAG, old.isoformat())
    end = now + dt.timedelta(days=1)

    run = run_dag(CONTRACT_DAG, run_after=end)

    assert run.state == "failed"  # changes were left unread: the alert asks for the backfill
    summary = summary_of(run)
    assert summary["failed"] == 0  # every record read was written
    capped_start = end - dt.timedelta(days=1) - dt.timedelta(days=2)
    assert summary["read_window"].startswith(f"[{capped_start.isoformat()}, ")
    assert summary["catch_up_capped"] is True
    text = rendered(summary)
    assert "nightly.max_catch_up_days = 2" in text and "NOT read" in text
    assert "FAILED" in text.splitlines()[0]
    # Capped on purpose and said so: the mark moves on (else every run would read the cap again), so the
    # next run is green.
    assert mark(CONTRACT_DAG) == end.isoformat()
    assert run_dag(CONTRACT_DAG, run_after=end + dt.timedelta(days=1)).state == "success"


def test_mark_holding_junk_is_ignored_with_a_warning(fresh_sandbox, run_dag, caplog):
    set_mark(CONTRACT_DAG, "not a date")
    end = whole_seconds(dt.datetime.now(dt.UTC)) - dt.timedelta(days=2)

    run = run_dag(CONTRACT_DAG, run_after=end)

    assert run.state == "success"
    summary = summary_of(run)
    assert summary["read_window"].startswith(f"[{(end - dt.timedelta(days=1, minutes=30)).isoformat()}, ")
    assert mark(CONTRACT_DAG) == end.isoformat()
    assert "not an ISO timestamp" in caplog.text


def test_backfill_of_an_older_window_leaves_the_mark(fresh_sandbox, run_dag):
    later = whole_seconds(dt.datetime.now(dt.UTC))
    set_mark(CONTRACT_DAG, later.isoformat())
    run = run_dag(CONTRACT_DAG, run_after=later - dt.timedelta(days=3))
    assert run.state == "success"
    assert summary_of(run)["read_from_mark"] == ""
    assert mark(CONTRACT_DAG) == later.isoformat()


@pytest.mark.parametrize("dag_id", NIGHTLY_DAGS)
def test_each_nightly_flow_reads_from_its_mark_and_advances_it(fresh_sandbox, run_dag, dag_id):
    set_mark(dag_id, "2026-01-01T00:00:00+00:00")  # the days up to the run's window never ran

    run = run_dag(dag_id, logical_date=QUIET_DAY)  # a window of a day or less, early January 2026

    assert run.state == "success"
    summary = summary_of(run)
    start, end = summary["read_window"].strip("[)").split(", ")
    assert start == "2025-12-31T23:30:00+00:00"  # the mark, minus the overlap
    assert summary["read_from_mark"] == "2026-01-01T00:00:00+00:00"
    assert mark(dag_id) == end > "2026-01-02"
    text = rendered(summary)
    assert "read from 2026-01-01T00:00:00+00:00 (last successful read" in text
    assert f"every change read through {end} (Airflow Variable {dag_id}.read_through)" in text
