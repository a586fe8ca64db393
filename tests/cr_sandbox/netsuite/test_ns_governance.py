"""Governance conformance: the account concurrency limit (429) and seeded, deterministic faults."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.cr_sandbox.netsuite.conftest import SUITEQL_PATH

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
