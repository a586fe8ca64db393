"""
### NetSuite Contract Item to Salesforce Contract Item (nightly, after contracts)

Contract items created or changed in the window become `Contract_Item__c` records upserted by
`NetSuite_Id__c`, parented through the Contract's `NetSuite_Id__c`.

It runs 30 minutes after `ns_contract_to_sf_contract` (a schedule offset, so it still backfills on its
own). An item whose contract is not in Salesforce yet is not lost: it is reported, remembered, and
retried by every later run until its parent exists.

Tasks: `extract` (window + items awaiting their contract) -> `transform` -> `load` -> `report`.
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

DAG_ID = "ns_contract_item_to_sf_contract_item"


@dag(
    dag_id=DAG_ID,
    description="Nightly: NetSuite CR contract items changed in the window, upserted as Salesforce Contract_Item__c.",
    schedule=nightly_timetable(minute=30),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params=netsuite_source_params("contract item"),
    default_args=default_args(DAILY),
    dagrun_timeout=run_timeout(DAILY),
    on_failure_callback=run_timeout_notifier(),
    tags=["contract-renewals", "netsuite-to-salesforce"],
    doc_md=__doc__,
)
def ns_contract_item_to_sf_contract_item():
    @task.netsuite_extract(pool=NETSUITE_POOL, pool_slots=NETSUITE_READ_SLOTS)  # yields its SuiteQL reads
    def extract(**context):
        from crsync.runtime.flows import contract_item as flow

        return flow.extract(context, window_length=DAILY)

    @task(**BATCH_TASK)
    def transform(batch: dict) -> dict:
        from crsync.runtime.flows import contract_item as flow

        return flow.transform(batch)

    @task.salesforce_write(**FINISHES_RUN)
    def load(plan: dict, **context) -> dict:
        from crsync.runtime.flows import contract_item as flow

        return flow.load(plan, context)

    report = report_task()

    report(load(transform(extract())))


ns_contract_item_to_sf_contract_item()
