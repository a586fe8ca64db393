"""NetSuiteHook against the NetSuite stand-in over HTTPS: auth, paging, records, retries, concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cr_sandbox.config import SandboxConfig
from crsync_provider.hooks._http import HttpTimeoutError
from crsync_provider.hooks.netsuite import (
    NetSuiteAuthError,
    NetSuiteHook,
    NetSuiteServerError,
    NetSuiteValidationError,
    bind_suiteql,
    default_base_url,
    suiteql_timestamp,
)

NS = "netsuite"


def customer_writes(n: int, prefix: str = "CUST") -> list[dict]:
    return [
        {
            "key": f"k{i}",
            "record_type": "customer",
            "external_id": f"{prefix}-{i:05d}",
            "body": {"companyName": f"Customer {prefix} {i}", "subsidiary": {"id": "1"}},
            "transform_from": None,
        }
        for i in range(n)
    ]


def count_external_ids(hook: NetSuiteHook, prefix: str) -> dict[str, int]:
    rows = hook.suiteql(
        f"SELECT externalid, COUNT(*) AS n FROM customer WHERE externalid LIKE '{prefix}-%' "
        "GROUP BY externalid ORDER BY externalid"
    )
    return {r["externalid"]: int(r["n"]) for r in rows}


# ------------------------------------------------------------------------------- pure helpers


def test_default_base_url_and_literals():
    assert default_base_url("1234567_SB1") == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert suiteql_timestamp("2024-01-02T03:04:05+00:00") == (
        "TO_TIMESTAMP('2024-01-02 03:04:05', 'YYYY-MM-DD HH24:MI:SS')"
    )
    assert bind_suiteql("x = :a AND y = :b AND z = ':c'", {"a": "o'k", "b": 3}) == (
        "x = 'o''k' AND y = 3 AND z = ':c'"
    )


# ------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("auth", ["tba", "oauth2_m2m"])
def test_both_auth_methods_and_test_button(ns, netsuite_conn, auth):
    hook = NetSuiteHook(netsuite_conn(f"ns_{auth}", auth=auth))
    ok, message = hook.test_connection()
    assert ok, message
    rows = list(hook.suiteql("SELECT id, companyname FROM customer ORDER BY id"))
    assert rows and "links" not in rows[0]
    assert rows[0]["id"] in (1001, "1001")


def test_tba_realm_is_the_account_id_as_netsuite_spells_it(ns, netsuite_conn):
    """An account id typed in its host form (``1234567-sb1``) signs with realm ``1234567_SB1``: NetSuite
    (and the stand-in) refuse any other spelling of the realm."""
    account = SandboxConfig().netsuite.account_id  # 1234567_SB1
    typed = account.lower().replace("_", "-")
    hook = NetSuiteHook(netsuite_conn("ns_realm", account_id=typed))

    signed = hook.auth(requests.Request("GET", f"{hook.api_root}record/v1/customer/1001").prepare())
    header = signed.headers["Authorization"]
    header = header.decode("ascii") if isinstance(header, bytes) else header

    assert f'realm="{account}"' in header and typed == "1234567-sb1"
    assert hook.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1)["items"]


def test_m2m_token_is_cached(ns, calls, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn("ns_m2m_cache", auth="oauth2_m2m"))
    calls.reset(NS)
    for _ in range(3):
        hook.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1)
    other = NetSuiteHook("ns_m2m_cache")  # another hook in the same process shares the token
    other.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1)
    assert calls.count(NS, path_contains="oauth2/v1/token") <= 1
    assert calls.count(NS, path_contains="suiteql", status=200) == 4


def test_bad_secret_fails_fast_with_one_attempt(ns, calls, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn("ns_bad", password="wrong-secret"))
    calls.reset(NS)
    with pytest.raises(NetSuiteAuthError) as info:
        list(hook.suiteql("SELECT id FROM customer"))
    assert info.value.status == 401
    assert info.value.code == "INVALID_LOGIN"
    assert calls.stats(NS)["total"] == 1
    ok, message = hook.test_connection()
    assert not ok and "INVALID_LOGIN" in message


def test_bad_m2m_key_fails_fast(ns, calls, netsuite_conn, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    hook = NetSuiteHook(
        netsuite_conn(
            "ns_bad_m2m",
            auth="oauth2_m2m",
            private_key=other.decode(),
            private_key_file=None,
            certificate_id="wrong-cert",
        )
    )
    calls.reset(NS)
    with pytest.raises(NetSuiteAuthError) as info:
        hook.suiteql_page("SELECT id FROM customer", limit=1)
    assert info.value.status in (400, 401)
    assert "certificate" in info.value.detail.lower() or info.value.code
    assert calls.stats(NS)["total"] == 1


def test_a_token_endpoint_in_outage_is_asked_max_attempts_times_per_request(ns, calls, netsuite_conn):
    """The token fetch has its own retries; the request's retries used to repeat them all (8 x 8 = 64 token
    requests for one GET, under the process-wide token lock). Now one request makes max_attempts of them."""
    hook = NetSuiteHook(
        netsuite_conn(
            "ns_m2m_token_503",
            auth="oauth2_m2m",
            max_attempts=3,
            backoff_base=0.01,
            certificate_id="cert-token-outage",  # no token of another test is cached for this client
        )
    )
    ns.control(NS, "governance", {"rate_503": 1.0})
    calls.reset(NS)
    with pytest.raises(NetSuiteServerError) as info:
        hook.request("GET", "record/v1/customer/1001")
    ns.control(NS, "governance", {"rate_503": 0})
    assert info.value.status == 503
    assert calls.count(NS, method="POST", path_contains="oauth2/v1/token") == 3
    assert calls.count(NS, path_contains="record/v1") == 0


@pytest.mark.parametrize("missing", ["client_id", "certificate_id"])
def test_m2m_connection_without_its_ids_fails_before_any_request(ns, calls, netsuite_conn, missing):
    from crsync_provider.hooks.permanent import ConnectionConfigError

    hook = NetSuiteHook(netsuite_conn(f"ns_m2m_no_{missing}", auth="oauth2_m2m", **{missing: None}))
    calls.reset(NS)
    with pytest.raises(ConnectionConfigError, match=f"needs extra '{missing}'"):
        hook.suiteql_page("SELECT id FROM customer", limit=1)
    assert calls.stats(NS)["total"] == 0


# ------------------------------------------------------------------------------- SuiteQL


def test_suiteql_paging_2500_rows(ns, calls, netsuite_conn):
    ns.control(NS, "seed", {"customers": 2500})
    hook = NetSuiteHook(netsuite_conn())
    calls.reset(NS)
    rows = list(hook.suiteql("SELECT id FROM customer WHERE id >= 2001 ORDER BY id"))
    assert len(rows) == 2500
    assert len({r["id"] for r in rows}) == 2500
    assert calls.count(NS, path_contains="suiteql") == 3


def test_bad_query_is_a_validation_error(ns, calls, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn())
    calls.reset(NS)
    with pytest.raises(NetSuiteValidationError) as info:
        list(hook.suiteql("SELECT nosuchcolumn FROM customer"))
    assert info.value.status == 400
    assert info.value.code == "INVALID_PARAMETER"
    assert calls.stats(NS)["total"] == 1


@pytest.mark.slow
def test_keyset_paging_past_100000_rows(ns, netsuite_conn):
    ns.control(NS, "seed", {"customers": 100_500})
    hook = NetSuiteHook(netsuite_conn())
    total = 0
    last = 0
    for row in hook.suiteql_keyset(
        "SELECT id FROM customer WHERE id >= 2001 AND {key_filter} ORDER BY id", key="id"
    ):
        assert int(row["id"]) > last
        last = int(row["id"])
        total += 1
    assert total == 100_500


# ------------------------------------------------------------------------------- records


def test_record_round_trip(ns, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn())
    new_id = hook.create_record("customer", {"companyName": "Created Co", "externalId": "CRT-1", "subsidiary": {"id": "1"}})
    assert new_id and new_id.isdigit()
    record = hook.get_record("customer", new_id)
    assert record["companyName"] == "Created Co"
    hook.update_record("customer", new_id, {"companyName": "Renamed Co"})
    assert hook.get_record("customer", "eid:CRT-1")["companyName"] == "Renamed Co"
    upserted = hook.upsert_record("customer", "CRT-1", {"companyName": "Upserted Co"})
    assert upserted == new_id
    hook.delete_record("customer", new_id)
    with pytest.raises(NetSuiteValidationError) as info:
        hook.get_record("customer", new_id)
    assert info.value.status == 404


def test_validation_error_carries_code_and_path(ns, calls, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn())
    calls.reset(NS)
    with pytest.raises(NetSuiteValidationError) as info:
        hook.upsert_record("customer", "NOPE-1", {})  # companyName is required
    assert info.value.code
    assert info.value.detail
    assert calls.stats(NS)["total"] == 1
    with pytest.raises(NetSuiteValidationError):
        hook.upsert_record("customer", "bad id!", {"companyName": "x"})
    assert calls.stats(NS)["total"] == 1  # refused before any request


def test_transform_estimate_to_sales_order(ns, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn())
    estimates = list(
        hook.suiteql("SELECT id FROM transaction WHERE type = 'Estimate' AND status = 'A' ORDER BY id")
    )
    assert estimates, "the default seed has open estimates"
    estimate_id = estimates[0]["id"]
    results = hook.write_many(
        [
            {
                "key": "opp-1",
                "record_type": "salesOrder",
                "external_id": "SO-OPP-1",
                "body": {"memo": "from renewal"},
                "transform_from": {"record_type": "estimate", "id": str(estimate_id)},
            }
        ]
    )
    assert results[0]["status"] == "created", results
    order_id = results[0]["id"]
    order = hook.get_record("salesOrder", order_id)
    assert str(order["createdFrom"]["id"]) == str(estimate_id)
    # Sent again: the order exists, so it is upserted by external id (no second transform).
    again = hook.write_many(
        [
            {
                "key": "opp-1",
                "record_type": "salesOrder",
                "external_id": "SO-OPP-1",
                "body": {"memo": "updated"},
                "transform_from": {"record_type": "estimate", "id": str(estimate_id)},
            }
        ]
    )
    assert again[0]["status"] == "updated" and again[0]["id"] == order_id
    assert hook.get_record("salesOrder", order_id)["memo"] == "updated"


def test_update_only_write_never_creates(ns, netsuite_conn):
    """A re-send of a record nobody queued updates what exists and creates nothing (issue 13, finding 1)."""
    hook = NetSuiteHook(netsuite_conn())
    [existing] = hook.write_many(customer_writes(1, "UPD"))
    writes = [
        {**write, "update_only": True, "body": {"companyName": f"Renamed {n}"}}
        for n, write in enumerate(customer_writes(2, "UPD"))
    ]

    results = hook.write_many(writes)

    assert [(r["status"], r["id"]) for r in results] == [("updated", existing["id"]), ("failed", None)]
    assert results[1]["error"]["code"] == "not_queued" and "Create NetSuite Order" in results[1]["error"]["message"]
    assert count_external_ids(hook, "UPD") == {"UPD-00000": 1}  # UPD-00001 was not created


def test_transform_with_item_lines_replaces_the_copied_lines(ns, netsuite_conn):
    """Item lines in the body are the order's lines (as on a later upsert), not added to the estimate's."""
    hook = NetSuiteHook(netsuite_conn())
    estimate_id = next(
        hook.suiteql("SELECT id FROM transaction WHERE type = 'Estimate' AND status = 'A' ORDER BY id")
    )["id"]
    source = list(
        hook.suiteql(f"SELECT item FROM transactionline WHERE transaction = {estimate_id} AND mainline = 'F'")
    )
    assert source, "the seeded estimate has lines"
    order_id = hook.transform_record(
        "estimate", estimate_id, "salesOrder",
        {"externalId": "SO-OPP-LINES", "item": {"items": [{"item": {"id": "509"}, "quantity": 7, "rate": 300}]}},
    )  # fmt: skip
    lines = list(
        hook.suiteql(
            f"SELECT item, quantity FROM transactionline WHERE transaction = {order_id} AND mainline = 'F'"
        )
    )
    assert [(row["item"], float(row["quantity"])) for row in lines] == [("509", -7.0)]  # posting sign
    assert str(hook.get_record("salesOrder", order_id)["createdFrom"]["id"]) == str(estimate_id)


# ------------------------------------------------------------------------------- write_many


def test_write_many_created_updated_failed_in_order(ns, calls, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn())
    writes = customer_writes(30, "WM")
    writes[5]["body"] = {}  # missing companyName: refused by NetSuite
    writes[7]["external_id"] = "bad id"  # refused before sending
    calls.reset(NS)
    results = hook.write_many(writes)
    assert [r["key"] for r in results] == [w["key"] for w in writes]
    assert [r["status"] for r in results].count("created") == 28
    assert results[5]["status"] == "failed" and results[5]["error"]["code"]
    assert results[7]["status"] == "failed" and results[7]["error"]["code"] == "INVALID_EXTERNAL_ID"
    assert all(r["id"] for r in results if r["status"] == "created")
    assert calls.count(NS, method="PUT") == 29  # one write per sendable record

    writes[5]["body"] = {"companyName": "fixed", "subsidiary": {"id": "1"}}
    again = hook.write_many(writes[:10])
    assert [r["status"] for r in again] == ["updated"] * 5 + ["created"] + ["updated"] + ["failed"] + [
        "updated"
    ] * 2


def test_a_resent_order_replaces_its_lines_and_says_so(ns, calls, netsuite_conn):
    """An order's lines are the Opportunity's whole line set: each write sends ?replace=item. Without it,
    NetSuite adds the sent lines to the saved ones (section_1545295601), so a re-send would double them."""
    hook = NetSuiteHook(netsuite_conn())

    def order(items: list[tuple[str, int]]) -> dict:
        return {"key": "SO-REPLACE-1", "record_type": "salesOrder", "external_id": "SO-REPLACE-1", "body": {
            "entity": {"id": "1001"}, "item": {"items": [{"item": {"id": i}, "quantity": q} for i, q in items]}}}

    assert [r["status"] for r in hook.write_many([order([("501", 1), ("503", 2)])])] == ["created"]
    calls.reset(NS)
    [result] = hook.write_many([order([("509", 4)])])
    assert result["status"] == "updated"
    lines = hook.get_record("salesOrder", result["id"], expand_sub_resources=True)["item"]["items"]
    assert [(x["item"]["id"], x["quantity"]) for x in lines] == [("509", 4)]
    assert calls.count(NS, method="PUT") == 1


def test_retries_under_faults_write_each_record_exactly_once(ns, calls, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn(max_attempts=10))
    ns.control(NS, "governance", {"rate_429": 0.2 / 3, "rate_503": 0.2 / 3, "rate_drop": 0.2 / 3, "seed": 7})
    calls.reset(NS)
    writes = customer_writes(300, "FLT")
    results = hook.write_many(writes)
    injected = calls.stats(NS)["injected_faults"]
    ns.control(NS, "governance", {"rate_429": 0, "rate_503": 0, "rate_drop": 0})
    assert sum(injected.values()) > 20, injected
    assert all(r["status"] == "created" for r in results), [r for r in results if r["status"] != "created"][
        :3
    ]
    counts = count_external_ids(hook, "FLT")
    assert len(counts) == 300 and set(counts.values()) == {1}


def test_transform_retried_after_ambiguous_failure_creates_once(ns, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn(max_attempts=10))
    estimates = [
        r["id"]
        for r in hook.suiteql(
            "SELECT id FROM transaction WHERE type = 'Estimate' AND status = 'A' ORDER BY id"
        )
    ]
    ns.control(NS, "governance", {"rate_503": 0.3, "rate_drop": 0.2, "seed": 3})
    results = hook.write_many(
        [
            {
                "key": f"e{n}",
                "record_type": "salesOrder",
                "external_id": f"SO-T-{n}",
                "body": {},
                "transform_from": {"record_type": "estimate", "id": str(eid)},
            }
            for n, eid in enumerate(estimates)
        ]
    )
    ns.control(NS, "governance", {"rate_503": 0, "rate_drop": 0})
    assert all(r["status"] == "created" for r in results), results
    rows = list(hook.suiteql("SELECT externalid FROM transaction WHERE externalid LIKE 'SO-T-%'"))
    assert len(rows) == len(estimates)


def test_concurrency_cap_never_exceeded_with_8_parallel_callers(ns, calls, netsuite_conn):
    conn_id = netsuite_conn("ns_cap")
    ns.control(NS, "governance", {"latency_ms": 30, "concurrency_limit": 5})
    calls.reset(NS)
    barrier = threading.Barrier(8)

    def caller(n: int) -> list[dict]:
        hook = NetSuiteHook(conn_id)  # separate hooks share the account's slots
        barrier.wait()
        return hook.write_many(customer_writes(25, f"PAR{n}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for batch in pool.map(caller, range(8)) for r in batch]
    snapshot = calls.stats(NS)
    assert all(r["status"] == "created" for r in results)
    assert snapshot["rejected_over_limit"] == 0
    assert calls.count(NS, status=429) == 0
    assert 1 < snapshot["peak_concurrency"] <= 5


def test_map_concurrently_uses_the_whole_limit(ns, calls, netsuite_conn):
    hook = NetSuiteHook(netsuite_conn())
    ns.control(NS, "governance", {"latency_ms": 50})
    calls.reset(NS)
    out = hook.map_concurrently(
        lambda i: hook.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1), range(20)
    )
    assert len(out) == 20
    assert calls.stats(NS)["peak_concurrency"] == 5


def test_a_stricter_hook_limit_is_held_too(ns, calls, netsuite_conn):
    conn_id = netsuite_conn("ns_strict")
    NetSuiteHook(conn_id).semaphore  # noqa: B018 - the account's slots exist at limit 5
    hook = NetSuiteHook(conn_id, concurrency_limit=2)
    ns.control(NS, "governance", {"latency_ms": 40})
    calls.reset(NS)
    hook.map_concurrently(
        lambda i: hook.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1), range(12), max_workers=6
    )
    assert calls.stats(NS)["peak_concurrency"] <= 2


class _OneRecordNeverAnswers(requests.adapters.HTTPAdapter):
    """A transport where writes to one external id time out (the real one for everything else): NetSuite
    holding one large order past the read timeout. Only `requests` is replaced, not this project's code."""

    def __init__(self, real: requests.adapters.HTTPAdapter, slow_marker: str) -> None:
        super().__init__()
        self.real, self.slow_marker = real, slow_marker

    def send(self, request, **kwargs):  # noqa: ANN001, ANN003
        if self.slow_marker in request.url and request.method == "PUT":
            raise requests.exceptions.ReadTimeout(f"read timed out ({request.url})")
        return self.real.send(request, **kwargs)


def test_a_timed_out_write_fails_alone_and_a_silent_netsuite_fails_the_call(ns, netsuite_conn):
    """Review of issue 13: a timeout used to escape write_many, so one slow record failed the whole load
    task and no Opportunity of the run was written back. Now it fails alone (code TIMEOUT); only when
    NetSuite stops answering altogether (2 x the concurrency limit of timeouts) does the call fail."""
    hook = NetSuiteHook(netsuite_conn(max_attempts=2, backoff_base=0.01, backoff_max=0.02))
    real = hook.session.get_adapter("https://")
    hook.session.mount("https://", _OneRecordNeverAnswers(real, "eid:TMO-00001"))

    results = hook.write_many(customer_writes(3, "TMO"))

    assert [r["status"] for r in results] == ["created", "failed", "created"]
    assert results[1]["error"]["code"] == "TIMEOUT" and "NetSuite" in results[1]["error"]["message"]

    hook.session.mount("https://", _OneRecordNeverAnswers(real, "eid:TMO-"))
    with pytest.raises(HttpTimeoutError):
        hook.write_many(customer_writes(40, "TMO"))
