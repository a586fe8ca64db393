"""
### NetSuite Contract to Salesforce Contract (nightly)

Contracts that NetSuite's Contract Renewals module created or changed in the window
(`customrecord_contracts.lastmodified` in `[start - nightly.read_overlap_minutes, end)`, keyset-paged
SuiteQL), and those that failed in an earlier run (Variable `ns_contract_to_sf_contract.retry_ids`), become Salesforce
Contracts upserted by `NetSuite_Id__c`, on the Account found through the customer's NetSuite id.
The Opportunity that produced each contract (its sales order's external id) gets its `ContractId`.

Tasks: `extract` -> `transform` -> `load` (collections, Bulk API 2.0 above the threshold) ->
`link_opportunities` -> `report`. A contract whose customer has no Salesforce Account fails alone.
Manual runs: NetSuite ids, full resync, dry run (trigger form, README).
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

DAG_ID = "ns_contract_to_sf_contract"


@dag(
    dag_id=DAG_ID,
    description="Nightly: NetSuite CR contracts changed in the window, upserted as Salesforce Contracts.",
    schedule=nightly_timetable(minute=0),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params=netsuite_source_params("contract"),
    default_args=default_args(DAILY),
    dagrun_timeout=run_timeout(DAILY),
    on_failure_callback=run_timeout_notifier(),
    tags=["contract-renewals", "netsuite-to-salesforce"],
    doc_md=__doc__,
)
def ns_contract_to_sf_contract():
    @task.netsuite_extract(pool=NETSUITE_POOL, pool_slots=NETSUITE_READ_SLOTS)  # yields its SuiteQL reads
    def extract(**context):
        from crsync.runtime.flows import contract as flow

        return flow.extract(context, window_length=DAILY)

    @task(**BATCH_TASK)
    def transform(batch: dict) -> dict:
        from crsync.runtime.flows import contract as flow

        return flow.transform(batch)

    @task.salesforce_write
    def load(plan: dict, **context) -> dict:
        from crsync.runtime.flows import contract as flow

        return flow.load(plan, context)

    @task.salesforce_write(pool=NETSUITE_POOL, pool_slots=NETSUITE_READ_SLOTS, **FINISHES_RUN)  # reads sales orders
    def link_opportunities(plan: dict, loaded: dict, **context) -> dict:
        from crsync.runtime.flows import contract as flow

        return flow.link_opportunities(plan, loaded, context)

    report = report_task()

    plan = transform(extract())
    report(link_opportunities(plan, load(plan)))


ns_contract_to_sf_contract()
