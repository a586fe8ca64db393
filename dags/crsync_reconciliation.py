"""
### Reconciliation: Salesforce vs NetSuite (daily at 04:00 UTC, and on demand)

Compares both systems and reports drift (docs/operations.md, "Reconciliation"):

- Opportunities in `Error` (with their `Sync_Error__c`) or stuck in `Processing` longer than
  `stuck_after_hours`;
- NetSuite sales orders created from an Opportunity that Salesforce does not link back (Opportunity
  gone, no `NetSuite_Id__c`, or a different one);
- contracts and contract items missing on either side, or different (dates, status, value, quantity).

The report is in the `reconcile` task's log (counts per kind and the first rows of each) and saved per run
under `$CRSYNC_REPORTS_PATH/crsync_reconciliation/<run id>/` (`drift.csv`, `report.html`). Drift leaves the
run green unless `fail_on_drift` is set. With `repair`, Error and stuck Opportunities are re-queued
(`Sync_Status__c = 'Processing'`); nothing else is ever written.

Tasks: `reconcile` -> `repair` -> `report`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from crsync.runtime.dag_defaults import (
    DAILY,
    NETSUITE_POOL,
    NETSUITE_READ_SLOTS,
    START_DATE,
    default_args,
    nightly_timetable,
    run_timeout,
    run_timeout_notifier,
)
from crsync.runtime.flows.reconciliation import DAG_ID, reconciliation_params


@dag(
    dag_id=DAG_ID,
    description="Daily 04:00 UTC: compare Salesforce and NetSuite, report drift, optionally re-queue what can be repaired.",
    schedule=nightly_timetable(minute=0, hour=4),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params=reconciliation_params(),
    default_args=default_args(DAILY),
    dagrun_timeout=run_timeout(DAILY),
    on_failure_callback=run_timeout_notifier(),
    tags=["contract-renewals", "reconciliation"],
    doc_md=__doc__,
)
def crsync_reconciliation():
    @task(pool=NETSUITE_POOL, pool_slots=NETSUITE_READ_SLOTS, multiple_outputs=False)
    def reconcile(**context) -> dict:
        from crsync.runtime.flows import reconciliation as flow

        return flow.reconcile(context)

    @task.salesforce_write
    def repair(reconciled: dict, **context) -> dict:
        from crsync.runtime.flows import reconciliation as flow

        return flow.repair(reconciled, context)

    @task(multiple_outputs=False)
    def report(reconciled: dict, repaired: dict, **context) -> dict:
        from crsync.runtime.flows import reconciliation as flow

        return flow.report(reconciled, repaired, context)

    reconciled = reconcile()
    report(reconciled, repair(reconciled))


crsync_reconciliation()
