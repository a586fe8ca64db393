"""
### NetSuite Contract Renewal Estimate to Salesforce Opportunity (nightly)

The Contract Renewals module's renewal script creates a renewal transaction (an estimate by default)
ahead of a contract's end. This DAG turns each one created or changed in the window into a renewal
Opportunity upserted by `NetSuite_Renewal_Estimate_Id__c` (or a Quote, when the settings say so),
linked to the renewed Contract, with line items upserted by their NetSuite line ids; lines dropped in
NetSuite are removed. When the renewal is won and "Create NetSuite Order" is clicked, the hourly
flow orders it by transforming this same estimate.

Tasks: `extract` -> `transform` -> `load` -> `report`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from crsync.runtime.dag_defaults import (
    BATCH_TASK,
    DAILY,
    FINISHES_RUN,
    NETSUITE_POOL,
    NETSUITE_READ_SLOTS,
    START_DATE,
    default_args,
    nightly_timetable,
    report_task,
    run_timeout,
    run_timeout_notifier,
)
from crsync.runtime.params import netsuite_source_params

DAG_ID = "ns_renewal_estimate_to_sf_opportunity"


@dag(
    dag_id=DAG_ID,
    description="Nightly: NetSuite CR renewal estimates, upserted as Salesforce renewal Opportunities with their lines.",
    schedule=nightly_timetable(minute=0, hour=3),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params=netsuite_source_params("renewal transaction"),
    default_args=default_args(DAILY),
    dagrun_timeout=run_timeout(DAILY),
    on_failure_callback=run_timeout_notifier(),
    tags=["contract-renewals", "netsuite-to-salesforce"],
    doc_md=__doc__,
)
def ns_renewal_estimate_to_sf_opportunity():
    @task.netsuite_extract(pool=NETSUITE_POOL, pool_slots=NETSUITE_READ_SLOTS)  # yields its SuiteQL reads
    def extract(**context):
        from crsync.runtime.flows import renewal_estimate as flow

        return flow.extract(context, window_length=DAILY)

    @task(**BATCH_TASK)
    def transform(batch: dict) -> dict:
        from crsync.runtime.flows import renewal_estimate as flow

        return flow.transform(batch)

    @task.salesforce_write(**FINISHES_RUN)
    def load(plan: dict, **context) -> dict:
        from crsync.runtime.flows import renewal_estimate as flow

        return flow.load(plan, context)

    report = report_task()

    report(load(transform(extract())))


ns_renewal_estimate_to_sf_opportunity()
