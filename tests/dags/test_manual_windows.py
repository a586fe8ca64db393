"""Which window a hand-triggered run of sf_opportunity_to_ns_sales_order reads (issue 15, item 3).

The UI trigger form fills in a logical date, and Airflow gives such a run the hour that ends at or before
it. In ``queued`` mode a manual run must still read everything queued until it started; scheduled and
backfill runs keep their data interval exactly, and ``window`` mode keeps the window the user picked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from crsync.queries import opportunities_soql
from crsync.runtime.windows import until_run_started, window_from_context
from tests.dags.test_opportunity_flow import DAG_ID, DEFAULT_CONF, opportunity, orders_for

HOUR = timedelta(hours=1)


def queue_one_now(sandbox) -> str:
    """One Contract New Opportunity queued (Sync Status Processing) just now."""
    seeded = sandbox.control("salesforce", "seed", {"opportunities": 1, "order_type": "Contract New"})
    return seeded["opportunity_ids"][0]


def test_a_manual_run_with_a_past_logical_date_orders_what_was_queued_just_now(
    fresh_sandbox, flow_dags, sf_api, ns_sql
):
    opp_id = queue_one_now(fresh_sandbox)
    # What the UI form does: a logical date (here an hour ago): the data interval is an earlier hour.
    run = flow_dags[DAG_ID].test(run_conf=dict(DEFAULT_CONF), logical_date=datetime.now(UTC) - HOUR)

    assert run.state == "success"
    assert run.data_interval_end <= datetime.now(UTC) - HOUR  # the hour before: it does not hold opp_id
    assert len(orders_for(ns_sql, opp_id)) == 1
    assert opportunity(sf_api, opp_id)["Sync_Status__c"] == "Synced"


def test_a_manual_window_mode_run_keeps_the_window_the_user_picked(fresh_sandbox, flow_dags, sf_api, ns_sql):
    opp_id = queue_one_now(fresh_sandbox)
    run = flow_dags[DAG_ID].test(
        run_conf={**DEFAULT_CONF, "mode": "window"}, logical_date=datetime.now(UTC) - HOUR
    )

    assert run.state == "success"
    assert orders_for(ns_sql, opp_id) == []  # modified after the picked window: not re-sent
    assert opportunity(sf_api, opp_id)["Sync_Status__c"] == "Processing"


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_scheduled_and_backfill_runs_read_queued_records_only_until_their_window_end(
    fresh_sandbox, sf_api, run_type
):
    opp_id = queue_one_now(fresh_sandbox)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - HOUR
    context = {
        "data_interval_start": end - HOUR,
        "data_interval_end": end,
        # The two attributes Airflow's DagRun carries that the window needs.
        "dag_run": SimpleNamespace(run_type=run_type, run_after=end + timedelta(minutes=70)),
    }

    window = until_run_started(window_from_context(context, default_length=HOUR), context)

    assert (window.start, window.end) == (end - HOUR, end)
    soql = opportunities_soql("queued", window_start=window.start, window_end=window.end)
    assert opp_id not in {r["Id"] for r in sf_api.query_all(soql)["records"]}


def test_a_manual_runs_queued_window_ends_at_run_after_rounded_up_to_the_second():
    end = datetime(2026, 12, 1, 9, tzinfo=UTC)
    run_after = datetime(2026, 12, 1, 10, 17, 3, 250_000, tzinfo=UTC)
    context = {
        "data_interval_start": end - HOUR,
        "data_interval_end": end,
        "dag_run": SimpleNamespace(run_type="manual", run_after=run_after),
    }

    window = until_run_started(window_from_context(context, default_length=HOUR), context)

    assert (window.start, window.end) == (end - HOUR, datetime(2026, 12, 1, 10, 17, 4, tzinfo=UTC))
    # A logical date in the future (a window ending after the trigger) keeps its end.
    later = {**context, "data_interval_end": run_after + HOUR}
    assert until_run_started(window_from_context(later, default_length=HOUR), later).end == run_after + HOUR
