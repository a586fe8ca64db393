"""The flows' own traffic never trips NetSuite's concurrency limit, whatever limit is configured.

For each limit the connection's ``concurrency_limit`` and the stand-in's account limit are both set to
it, while the DAG's load tasks still ask for ``netsuite.concurrency`` (5) parallel requests: the hook
must hold the smaller of the two. The stand-in's ``/__sandbox/stats`` must then show no request refused
over the limit and a peak concurrency within it.
"""

from __future__ import annotations

import pytest

from crsync.runtime.dag_defaults import netsuite_task_slots
from tests.reliability.conftest import NS, SF, opportunities, orders_by_external_id

N_OPPORTUNITIES = 24


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_no_429_from_own_traffic_at_any_limit(
    limit, fresh, ns_connection, run_opportunity_flow, ns_sql, sf_api
):
    assert netsuite_task_slots() >= limit  # the tasks ask for at least the limit
    ns_connection(concurrency_limit=limit)
    fresh.control(NS, "governance", {"concurrency_limit": limit, "latency_ms": 40})
    opp_ids = fresh.control(SF, "seed", {"opportunities": N_OPPORTUNITIES, "lines_per_opportunity": 2})[
        "opportunity_ids"
    ]
    fresh.control(NS, "stats/reset")

    run = run_opportunity_flow()

    stats = fresh.control(NS, "stats", method="GET")
    assert run.state == "success"
    assert stats["rejected_over_limit"] == 0, stats
    assert sum(r["count"] for r in stats["requests"] if r["status"] == 429) == 0
    assert 1 <= stats["peak_concurrency"] <= limit, stats
    if limit > 1:
        assert stats["peak_concurrency"] == limit  # the limit is used, not just respected
    assert orders_by_external_id(ns_sql, opp_ids) == {i: 1 for i in opp_ids}
    assert {o["Sync_Status__c"] for o in opportunities(sf_api, opp_ids).values()} == {"Synced"}


@pytest.mark.parametrize("connection,requested,expected", [(1, 5, 1), (2, 5, 2), (5, 2, 2), (5, None, 5)])
def test_hook_never_exceeds_the_connection_limit(sandbox_env, ns_connection, connection, requested, expected):
    """Regression: a hook asking for more parallel requests than the account limit got them (429s)."""
    from crsync_provider.hooks.netsuite import NetSuiteHook

    ns_connection(concurrency_limit=connection)
    assert NetSuiteHook("netsuite_default", concurrency_limit=requested).concurrency_limit == expected
