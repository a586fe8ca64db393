"""What a run leaves in its task logs: no deprecation warnings raised from this project's code."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIRS = tuple(str(ROOT / part) for part in ("dags", "include", "plugins"))
DAG_ID = "sf_opportunity_to_ns_sales_order"


def test_an_hourly_run_raises_no_deprecation_warning_from_project_code(fresh_sandbox, flow_dags):
    fresh_sandbox.control("salesforce", "seed", {"opportunities": 2, "lines_per_opportunity": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = flow_dags[DAG_ID].test(
            run_conf={"opportunity_ids": [], "mode": "queued", "dry_run": False}, logical_date=None
        )
    assert run.state == "success"
    ours = [
        f"{w.category.__name__} at {w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning | FutureWarning)
        and str(w.filename).startswith(PROJECT_DIRS)
    ]
    assert ours == [], "\n".join(ours)


def test_the_tasks_that_hand_on_a_batch_log_its_count_not_its_records(fresh_sandbox, flow_dags, caplog, capfd):
    """extract, transform and order_chunks put the records in object storage and log how many. Airflow's
    "Done. Returned value was: ..." would put every record (customer data, megabytes) in the task log."""
    fresh_sandbox.control("salesforce", "seed", {"opportunities": 3, "lines_per_opportunity": 1})
    caplog.set_level(logging.INFO)
    capfd.readouterr()
    run = flow_dags[DAG_ID].test(
        run_conf={"opportunity_ids": [], "mode": "queued", "dry_run": False}, logical_date=None
    )
    assert run.state == "success"
    task_log = capfd.readouterr().out.splitlines()  # Airflow's task logger writes to stdout under dag.test
    assert sum("Done. Returned value not shown" in line for line in task_log) == 3
    shown = [line for line in task_log if "Returned value was" in line]
    assert shown, "the capture works: the summaries of write_back and report are still shown"
    # Not one record: no Opportunity field (extract), no sales order body field (transform, order_chunks).
    for field in ("StageName", "Order_Type__c", "custbody_order_type", "externalId"):
        assert not [line for line in shown if field in line], field
    ours = [r.getMessage() for r in caplog.records]
    assert "Read 3 Opportunities" in ours
    assert [m for m in ours if m.startswith("3 order(s) in 1 load task(s) of at most ")]
