"""NetSuiteHook.transform_record when NetSuite refuses a transform (issue 13 finding 6): over HTTPS to the
NetSuite stand-in, with its reply lost after handling and SuiteQL lagging behind (governance knobs)."""

from __future__ import annotations

import pytest

from crsync_provider.hooks.netsuite import NetSuiteHook, NetSuiteValidationError
from crsync_provider.hooks.netsuite_transform import SOURCE_ALREADY_TRANSFORMED

NS = "netsuite"
TRANSFORM_TEMPLATE = "/services/rest/record/v1/estimate/{id}/!transform/salesOrder"


def open_estimate(hook: NetSuiteHook) -> str:
    return str(
        next(hook.suiteql("SELECT id FROM transaction WHERE type = 'Estimate' AND status = 'A' ORDER BY id"))["id"]
    )


def orders_from(hook: NetSuiteHook, estimate_id: str) -> list[dict]:
    return list(
        hook.suiteql(f"SELECT id, externalid FROM transaction WHERE type = 'SalesOrd' AND createdfrom = {estimate_id}")
    )


def lose_the_transform_reply(ns, lag_ms: int) -> None:
    ns.control(NS, "governance", {"drop_after_path": TRANSFORM_TEMPLATE, "drop_after_count": 1, "suiteql_lag_ms": lag_ms})


def test_lost_reply_and_lagging_lookup_return_the_order_our_attempt_made(ns, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn(transform_lookup_wait=10))
    estimate_id = open_estimate(hook)
    lose_the_transform_reply(ns, lag_ms=1500)
    order_id = hook.transform_record("estimate", estimate_id, "salesOrder", {"externalId": "SO-SETTLE-1"})
    stats = ns.control(NS, "stats", method="GET")
    transforms = {r["status"]: r["count"] for r in stats["requests"] if r["path"] == TRANSFORM_TEMPLATE}
    assert transforms == {0: 1, 400: 1}  # lost, then refused as already processed
    assert orders_from(hook, estimate_id) == [{"id": order_id, "externalid": "SO-SETTLE-1"}]


def test_lag_longer_than_the_wait_reports_what_was_checked(ns, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn(transform_lookup_wait=1))
    estimate_id = open_estimate(hook)
    lose_the_transform_reply(ns, lag_ms=60_000)
    with pytest.raises(NetSuiteValidationError) as raised:
        hook.transform_record("estimate", estimate_id, "salesOrder", {"externalId": "SO-SETTLE-2"})
    assert raised.value.code == "USER_ERROR"
    assert "reply was lost" in raised.value.detail and "after 1 s" in raised.value.detail
    ns.control(NS, "governance", {"suiteql_lag_ms": 0})


def test_an_estimate_ordered_by_someone_else_is_not_claimed(ns, netsuite_conn, sandbox):
    hook = NetSuiteHook(netsuite_conn())
    estimate_id = open_estimate(hook)
    # A user transforms the estimate in NetSuite (no external id).
    theirs = hook.transform_record("estimate", estimate_id, "salesOrder", {"memo": "by hand"})
    with pytest.raises(NetSuiteValidationError) as raised:
        hook.transform_record("estimate", estimate_id, "salesOrder", {"externalId": "SO-SETTLE-3"})
    assert raised.value.code == SOURCE_ALREADY_TRANSFORMED
    assert f"salesOrder {theirs}" in raised.value.detail and "External ID to SO-SETTLE-3" in raised.value.detail
    assert orders_from(hook, estimate_id) == [{"id": theirs}]  # left as it was: no external id set


def test_a_refused_transform_without_a_lost_reply_is_looked_up_once_without_waiting(ns, netsuite_conn, calls):
    hook = NetSuiteHook(netsuite_conn(transform_lookup_wait=30))
    calls.reset(NS)
    with pytest.raises(NetSuiteValidationError) as raised:
        hook.transform_record("estimate", "999999", "salesOrder", {"externalId": "SO-SETTLE-4"})
    assert raised.value.status == 404 and raised.value.code == "NONEXISTENT_ID"  # NetSuite's own error
    assert calls.count(NS, method="POST", path_contains="suiteql") == 1
