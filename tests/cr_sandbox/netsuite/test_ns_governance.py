"""Governance conformance: the account concurrency limit (429) and seeded, deterministic faults."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.cr_sandbox.netsuite.conftest import RECORD_PATH, SUITEQL_PATH

QUERY = {"q": "SELECT id FROM customer WHERE id = 1001"}


def _post(ns, barrier: threading.Barrier | None = None) -> int:
    prepared = requests.Request(
        "POST", f"{ns.base}{SUITEQL_PATH}", json=QUERY, headers={"Prefer": "transient"}, auth=ns.tba()
    ).prepare()
    with requests.Session() as session:
        if barrier is not None:
            barrier.wait()
        return session.send(prepared, verify=ns.ca, timeout=30).status_code


def test_requests_beyond_the_concurrency_limit_get_429(ns):
    ns.control("governance", {"concurrency_limit": 5, "latency_ms": 600})
    ns.control("stats/reset")
    try:
        barrier = threading.Barrier(12)
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(lambda _: _post(ns, barrier), range(12)))
    finally:
        ns.control("governance", {"latency_ms": 0})
    assert statuses.count(200) <= 5
    assert statuses.count(429) >= 5
    stats = ns.control("stats", method="GET")
    assert stats["peak_concurrency"] <= 5
    assert stats["rejected_over_limit"] == statuses.count(429)
    limited = ns.suiteql("SELECT id FROM customer")  # back under the limit
    assert limited.status_code == 200


def test_429_body_is_netsuite_shaped(ns):
    ns.control("governance", {"rate_429": 1.0})
    try:
        resp = ns.suiteql("SELECT id FROM customer")
    finally:
        ns.control("governance", {"rate_429": 0.0})
    assert resp.status_code == 429
    body = resp.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["o:errorDetails"][0]["o:errorCode"]


def test_faults_are_deterministic_under_a_seed(ns):
    def run() -> list[int]:
        ns.control("governance", {"seed": 42, "rate_500": 0.25, "rate_503": 0.25})
        return [ns.suiteql("SELECT id FROM customer").status_code for _ in range(16)]

    try:
        first, second = run(), run()
        error = ns.suiteql("SELECT id FROM customer")
        while error.status_code == 200:
            error = ns.suiteql("SELECT id FROM customer")
    finally:
        ns.control("governance", {"rate_500": 0.0, "rate_503": 0.0})
    assert first == second
    assert {200, 500, 503} <= set(first)
    assert error.json()["o:errorDetails"][0]["o:errorCode"] in {"UNEXPECTED_ERROR", "SERVICE_UNAVAILABLE"}


def test_dropped_connection(ns):
    ns.control("governance", {"rate_drop": 1.0})
    try:
        with pytest.raises(requests.exceptions.RequestException):
            ns.suiteql("SELECT id FROM customer")
    finally:
        ns.control("governance", {"rate_drop": 0.0})
    stats = ns.control("stats", method="GET")
    assert stats["injected_faults"].get("drop", 0) >= 1


def test_latency_is_a_floor_on_every_replys_response_time(ns):
    # The stand-in handles a request at once and holds the reply until latency_ms has passed, so its
    # own work counts toward the response time instead of being added to it (governance.py).
    ns.control("governance", {"latency_ms": 300})
    try:
        started = time.monotonic()
        resp = ns.suiteql("SELECT id FROM customer WHERE id = 1001")
        took = time.monotonic() - started
    finally:
        ns.control("governance", {"latency_ms": 0})
    assert resp.status_code == 200
    assert took >= 0.3


def test_stats_spans_give_the_first_arrival_and_last_reply_of_each_kind_of_request(ns):
    # How make cluster-test and make bench measure a load's wall time on NetSuite's side (issue 14).
    ns.control("governance", {"latency_ms": 200})
    ns.control("stats/reset")
    try:
        before = time.time()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda _: _post(ns), range(4)))  # two waves of two: ~0.4 s from first to last
        after = time.time()
    finally:
        ns.control("governance", {"latency_ms": 0})
    (span,) = [s for s in ns.control("stats", method="GET")["spans"] if s["path"] == SUITEQL_PATH]
    assert span["method"] == "POST"
    assert before <= span["first_at"] < span["last_at"] <= after
    assert 0.4 <= span["seconds"] <= after - before
    ns.control("stats/reset")
    assert ns.control("stats", method="GET")["spans"] == []


TRANSFORM_TEMPLATE = "/services/rest/record/v1/estimate/{id}/!transform/salesOrder"


def test_a_reply_lost_after_handling_and_a_lagging_suiteql(ns):
    """The transform is done but its reply is lost; SuiteQL does not see the new order for a while, the
    record service does at once; a second transform of the now processed estimate is refused (400)."""
    est_id = ns.create("estimate", {
        "entity": {"id": "1004"}, "item": {"items": [{"item": {"id": "508"}, "quantity": 1, "rate": 10}]},
    })
    ns.control("governance", {"drop_after_path": TRANSFORM_TEMPLATE, "drop_after_count": 1, "suiteql_lag_ms": 1500})
    ns.control("stats/reset")
    try:
        with pytest.raises(requests.exceptions.RequestException):
            ns.request("POST", f"{RECORD_PATH}/estimate/{est_id}/!transform/salesOrder",
                       json={"externalId": "SO-LOST-REPLY-1"})
        by_created_from = f"SELECT id, externalid FROM transaction WHERE type = 'SalesOrd' AND createdfrom = {est_id}"
        assert ns.rows(by_created_from) == []  # the order exists, but SuiteQL does not show it yet
        assert ns.rows("SELECT id FROM transaction t WHERE t.externalid = 'SO-LOST-REPLY-1'") == []
        assert ns.get("estimate", est_id)["status"]["refName"] == "Processed"  # records see it at once
        again = ns.request("POST", f"{RECORD_PATH}/estimate/{est_id}/!transform/salesOrder",
                           json={"externalId": "SO-LOST-REPLY-1"})
        assert again.status_code == 400
        detail = again.json()["o:errorDetails"][0]
        assert detail["o:errorCode"] == "USER_ERROR" and "already been processed" in detail["detail"]
        time.sleep(1.6)
        (row,) = ns.rows(by_created_from)
        assert row["externalid"] == "SO-LOST-REPLY-1"
    finally:
        ns.control("governance", {"drop_after_count": 0, "drop_after_path": "", "suiteql_lag_ms": 0})
    stats = ns.control("stats", method="GET")
    assert stats["injected_faults"]["drop_after"] == 1
    transforms = {r["status"]: r["count"] for r in stats["requests"] if r["path"] == TRANSFORM_TEMPLATE}
    assert transforms == {0: 1, 400: 1}
