"""Every DAG file imports cleanly, fast, without I/O, with a data-interval schedule and the documented tasks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))

EXPECTED_TASKS = {
    "sf_opportunity_to_ns_sales_order": {
        "claim_load_lock", "extract", "transform", "load_customers", "order_chunks", "load_orders",
        "write_back", "report",
    },
    "ns_contract_to_sf_contract": {"extract", "transform", "load", "link_opportunities", "report"},
    "ns_contract_item_to_sf_contract_item": {"extract", "transform", "load", "report"},
    "ns_renewal_estimate_to_sf_opportunity": {"extract", "transform", "load", "report"},
    "crsync_reconciliation": {"reconcile", "repair", "report"},
    "crsync_maintenance": {"purge_xcom_files"},
}
#: DAGs that only read unless a param says otherwise: no dry run, a write switch that defaults to off.
READ_ONLY_BY_DEFAULT = {"crsync_reconciliation": "repair"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dagbag_has_the_four_flows_and_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == set(EXPECTED_TASKS)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_TASKS))
def test_dag_shape(dagbag, dag_id):
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags[dag_id]
    assert {t.task_id for t in dag.tasks} == EXPECTED_TASKS[dag_id]
    # A plain cron string would give a CronTriggerTimetable with an empty data interval.
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    if dag_id in READ_ONLY_BY_DEFAULT:
        assert dag.params[READ_ONLY_BY_DEFAULT[dag_id]] is False
    else:
        assert "dry_run" in dag.params
    for task in dag.tasks:
        assert task.on_failure_callback, f"{dag_id}.{task.task_id} has no failure notifier"


#: The flows whose report task records the run for the sync health page (crsync.runtime.health_log).
HEALTH_RECORDING_FLOWS = sorted(set(EXPECTED_TASKS) - {"crsync_reconciliation", "crsync_maintenance"})


@pytest.mark.parametrize("dag_id", HEALTH_RECORDING_FLOWS)
def test_one_report_at_a_time_per_flow_so_no_run_writes_over_anothers_open_errors(dagbag, dag_id):
    """``report`` reads, changes and writes back the flow's health Variable; runs of one flow can be active
    together (backfill runs are not held by max_active_runs), so Airflow must not run two reports at once."""
    assert dagbag.dags[dag_id].get_task("report").max_active_tis_per_dag == 1


def test_opportunity_flow_holds_the_netsuite_pool(dagbag):
    dag = dagbag.dags["sf_opportunity_to_ns_sales_order"]
    for task_id in ("load_customers", "load_orders"):
        assert dag.get_task(task_id).pool == "netsuite_api"


def test_opportunity_flow_loads_netsuite_through_the_netsuite_operator(dagbag):
    """The NetSuite loads are ``NetSuiteUpsertOperator``s (``@task.netsuite_write``), ``load_orders`` mapped."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from crsync.runtime.dag_defaults import netsuite_task_slots
    from crsync_provider.decorators import NetSuiteWriteDecoratedOperator
    from crsync_provider.operators.netsuite import NetSuiteUpsertOperator

    dag = dagbag.dags["sf_opportunity_to_ns_sales_order"]
    assert issubclass(NetSuiteWriteDecoratedOperator, NetSuiteUpsertOperator)
    customers, orders = dag.get_task("load_customers"), dag.get_task("load_orders")
    assert isinstance(customers, NetSuiteWriteDecoratedOperator)
    assert isinstance(orders, MappedOperator)
    assert orders.operator_class is NetSuiteWriteDecoratedOperator
    assert orders.operator_extra_links and customers.operator_extra_links
    assert customers.pool_slots == orders.pool_slots == netsuite_task_slots()


NIGHTLY_DAGS = (
    "ns_contract_to_sf_contract",
    "ns_contract_item_to_sf_contract_item",
    "ns_renewal_estimate_to_sf_opportunity",
)


#: The task of each nightly flow that calls crsync.runtime.flows.retry.finish (retry list, read-through mark).
FINISHING_TASKS = {
    "ns_contract_to_sf_contract": "link_opportunities",
    "ns_contract_item_to_sf_contract_item": "load",
    "ns_renewal_estimate_to_sf_opportunity": "load",
}


@pytest.mark.parametrize("dag_id", NIGHTLY_DAGS)
def test_one_finishing_task_at_a_time_per_nightly_flow_so_no_run_drops_anothers_failed_ids(dagbag, dag_id):
    """The task that rewrites the flow's retry list runs alone across the flow's runs (a backfill beside the
    scheduled run would otherwise read the list, and each write back its own version of it)."""
    import inspect

    from crsync.runtime.flows import contract, contract_item, renewal_estimate

    module = {"ns_contract_to_sf_contract": contract, "ns_contract_item_to_sf_contract_item": contract_item,
              "ns_renewal_estimate_to_sf_opportunity": renewal_estimate}[dag_id]  # fmt: skip
    task_id = FINISHING_TASKS[dag_id]
    assert "retry.finish(" in inspect.getsource(getattr(module, task_id))  # the map above is still true
    assert dagbag.dags[dag_id].get_task(task_id).max_active_tis_per_dag == 1


@pytest.mark.parametrize("dag_id", NIGHTLY_DAGS)
def test_nightly_flows_extract_from_netsuite_through_the_suiteql_operator(dagbag, dag_id):
    """``extract`` is a ``NetSuiteSuiteQLOperator`` (``@task.netsuite_extract``) holding one read slot."""
    from crsync.runtime.dag_defaults import NETSUITE_READ_SLOTS
    from crsync_provider.decorators import NetSuiteExtractDecoratedOperator
    from crsync_provider.operators.netsuite import NetSuiteSuiteQLOperator

    extract = dagbag.dags[dag_id].get_task("extract")
    assert isinstance(extract, NetSuiteExtractDecoratedOperator)
    assert isinstance(extract, NetSuiteSuiteQLOperator)
    assert extract.pool == "netsuite_api" and extract.pool_slots == NETSUITE_READ_SLOTS
    assert extract.multiple_outputs is False


def test_opportunity_flow_claims_the_load_lock_before_it_reads(dagbag):
    """Backfill runs are not counted against max_active_runs: the first task serialises the runs' loads."""
    dag = dagbag.dags["sf_opportunity_to_ns_sales_order"]
    claim = dag.get_task("claim_load_lock")
    assert claim.upstream_task_ids == set() and claim.downstream_task_ids == {"extract"}
    assert claim.max_active_tis_per_dag == 1  # two runs' claims are never checked at the same time
    assert claim.mode == "reschedule"  # a waiting claim holds no worker slot
    assert claim.pool != "netsuite_api"
    for task_id in ("load_orders", "load_customers"):
        assert dag.get_task(task_id).max_active_tis_per_dag is None  # chunks of one run run side by side


@pytest.mark.parametrize(
    ("dag_id", "window_end"),
    [
        ("sf_opportunity_to_ns_sales_order", "2026-03-01T10:00:00+00:00"),
        ("ns_contract_to_sf_contract", "2026-03-01T02:00:00+00:00"),
        ("ns_contract_item_to_sf_contract_item", "2026-03-01T02:30:00+00:00"),
        ("ns_renewal_estimate_to_sf_opportunity", "2026-03-01T03:00:00+00:00"),
        ("crsync_reconciliation", "2026-03-01T04:00:00+00:00"),
        ("crsync_maintenance", "2026-03-01T05:00:00+00:00"),
    ],
)
def test_schedules_give_utc_windows_of_one_period(dagbag, dag_id, window_end):
    from datetime import timedelta

    from airflow.timetables.interval import CronDataIntervalTimetable as SchedulerTimetable

    definition = dagbag.dags[dag_id].timetable
    assert str(definition.timezone) == "UTC"
    timetable = SchedulerTimetable(definition.expression, definition.timezone)
    import pendulum

    interval = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 1, 10, 45, tz="UTC"))
    period = timedelta(hours=1) if dag_id.startswith("sf_") else timedelta(days=1)
    assert interval.end.isoformat() == window_end
    assert interval.end - interval.start == period


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_without_heavy_imports(dag_file):
    """Parsing a DAG file imports no pandas/simple-salesforce/HTTP client (parse time itself is measured by
    `make bench`, not asserted here)."""
    code = (
        "import sys, runpy\n"
        "import airflow.sdk\n"
        f"runpy.run_path({str(dag_file)!r})\n"
        "heavy = [m for m in ('pandas', 'simple_salesforce', 'requests_oauthlib', 'sqlglot') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    heavy = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert heavy == "", f"{dag_file.name} imports {heavy} at parse time"
