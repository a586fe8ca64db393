"""
### Maintenance: retention of the flows' XCom files (daily at 05:00 UTC)

The flows hand their batches to each other through XCom; large ones are files in object storage
(`[common.io] xcom_objectstorage_path`, `.airflow/xcom/` locally, `s3://...` in production) that
nothing else deletes. This DAG deletes the files of this project's runs last written more than
`maintenance.xcom_retention_days` (settings, 30 by default) ago, and never those of a run that is still
queued or running, nor files of other DAGs. The task log lists every run it deleted (files, bytes).

The metadata DB rows of old runs are removed by `bin/clean-airflow-db` (`airflow db clean` with the same
retention), run outside Airflow's tasks, e.g. by cron: Airflow 3 does not let task code reach the
metadata DB (docs/operations.md, "Retention").

Params: `dry_run` (log what would be deleted, delete nothing).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from crsync.runtime.dag_defaults import (
    DAILY,
    START_DATE,
    default_args,
    nightly_timetable,
    run_timeout,
    run_timeout_notifier,
)
from crsync.runtime.flows.maintenance import DAG_ID


@dag(
    dag_id=DAG_ID,
    description="Daily 05:00 UTC: delete the XCom files of runs older than the retention period.",
    schedule=nightly_timetable(minute=0, hour=5),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params={
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Log which runs' XCom files would be deleted, delete nothing.",
        )
    },
    default_args=default_args(DAILY),
    dagrun_timeout=run_timeout(DAILY),
    on_failure_callback=run_timeout_notifier(),
    tags=["contract-renewals", "maintenance"],
    doc_md=__doc__,
)
def crsync_maintenance():
    @task(multiple_outputs=False)
    def purge_xcom_files(**context) -> dict:
        from crsync.runtime.flows import maintenance as flow

        return flow.purge_xcom_files(context)

    purge_xcom_files()


crsync_maintenance()
