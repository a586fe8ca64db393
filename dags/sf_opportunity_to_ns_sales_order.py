"""
### Salesforce Opportunity to CR Sales Order (hourly)

When a rep clicks **Create NetSuite Order**, the Opportunity's Sync Status becomes `Processing`.
Every hour this DAG sends those Opportunities (new contract, upsell, renewal) to NetSuite as sales
orders upserted by external id (the 18-character Opportunity id), so the Contract Renewals module
creates or extends the contract, and writes the outcome back to the Opportunity: NetSuite id, order
number, `Synced` or `Error` with what to fix, and the sync time.

Tasks: `claim_load_lock` (waits while another run of this DAG, e.g. a backfill run, is loading) ->
`extract` (SOQL) -> `transform` (validate, map) -> `load_customers` -> `load_orders`
(mapped over chunks, in the `netsuite_api` pool) -> `write_back` (collections) -> `report`.
The run fails when any record failed, after every good record was written and every failure was
written back (a dry run lists what it would refuse and stays green). A manual run in `queued` mode reads
everything queued until it was triggered, whatever logical date the form filled in. Manual runs: see the
trigger form (ids, mode, dry run) and README.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from crsync.runtime.dag_defaults import (
    BATCH_TASK,
    HOURLY,
    NETSUITE_POOL,
    NETSUITE_READ_SLOTS,
    START_DATE,
    default_args,
    hourly_timetable,
    netsuite_task_slots,
    report_task,
    run_timeout,
    run_timeout_notifier,
)
from crsync.runtime.load_lock import LoadLockSensor
from crsync.runtime.params import opportunity_params

DAG_ID = "sf_opportunity_to_ns_sales_order"


@dag(
    dag_id=DAG_ID,
    description="Hourly: Opportunities queued in Salesforce (Create NetSuite Order) become NetSuite CR sales orders.",
    schedule=hourly_timetable(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params=opportunity_params(),
    default_args=default_args(HOURLY),
    dagrun_timeout=run_timeout(HOURLY),
    on_failure_callback=run_timeout_notifier(),
    tags=["contract-renewals", "salesforce-to-netsuite"],
    doc_md=__doc__,
)
def sf_opportunity_to_ns_sales_order():
    # netsuite.concurrency (settings): the pool slots of each load task and its concurrent requests.
    load_slots = netsuite_task_slots()
    # One run loads at a time (backfill runs are not held back by max_active_runs): see load_lock.py.
    claim_load_lock = LoadLockSensor(release_task_id="write_back")

    @task(**BATCH_TASK)
    def extract(**context) -> dict:
        from crsync.runtime.flows import opportunity_to_sales_order as flow

        return flow.extract(context, window_length=HOURLY)

    @task(**BATCH_TASK)
    def transform(batch: dict) -> dict:
        from crsync.runtime.flows import opportunity_to_sales_order as flow

        return flow.transform(batch)

    @task.netsuite_write(pool=NETSUITE_POOL, pool_slots=load_slots)
    def load_customers(plan: dict):
        from crsync.runtime.flows import opportunity_to_sales_order as flow

        return flow.load_customers(plan, concurrency=load_slots)

    @task(**BATCH_TASK)
    def order_chunks(plan: dict) -> list[dict]:
        from crsync.runtime.flows import opportunity_to_sales_order as flow

        return flow.order_chunks(plan)

    @task.netsuite_write(pool=NETSUITE_POOL, pool_slots=load_slots)
    def load_orders(chunk: dict, customers: dict):
        from crsync.runtime.flows import opportunity_to_sales_order as flow

        return flow.load_orders(chunk, customers, concurrency=load_slots)

    @task.salesforce_write(pool=NETSUITE_POOL, pool_slots=NETSUITE_READ_SLOTS)  # reads order numbers
    def write_back(plan: dict, customers: dict, order_results: list[dict], **context) -> dict:
        from crsync.runtime.flows import opportunity_to_sales_order as flow

        return flow.write_back(plan, customers, list(order_results), context)

    report = report_task()

    batch = extract()
    claim_load_lock >> batch
    plan = transform(batch)
    customers = load_customers(plan)
    results = load_orders.partial(customers=customers).expand(chunk=order_chunks(plan))
    report(write_back(plan, customers, results))


sf_opportunity_to_ns_sales_order()
