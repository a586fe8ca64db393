"""Connector benchmark: NetSuite bounded-client upserts and Salesforce load call counts.

Run ``.venv/bin/python -m bench.connectors``. It starts its own sandbox (temp folder, free ports) and
prints one table:

- NetSuite stand-in at concurrency limit 5 and 50 ms latency: 1,000 upserts through
  ``NetSuiteHook.write_many`` (wall time vs the concurrency-bound ideal 1,000 x 0.05 s / 5 = 10 s,
  target <= 1.15x; write requests, target exactly 1,000), then the same 1,000 one at a time;
- Salesforce stand-in: calls used by collections loads vs ceil(N/200), and by the Bulk 2.0 path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from cr_sandbox.process import RunningSandbox, running_sandbox

NS = "netsuite"
SF = "salesforce"


def _requests(sandbox: RunningSandbox, system: str) -> list[dict[str, Any]]:
    return sandbox.control(system, "stats", method="GET")["requests"]


def _count(
    rows: list[dict[str, Any]], *, method: str | None = None, path: str = "", status: int | None = None
) -> int:
    return sum(
        r["count"]
        for r in rows
        if (method is None or r["method"] == method)
        and path in r["path"]
        and (status is None or r["status"] == status)
    )


def _setup_connections(sandbox: RunningSandbox) -> tuple[str, str]:
    cfg = sandbox.config
    ns_conn = {
        "conn_type": "netsuite",
        "host": sandbox.netsuite_url,
        "login": cfg.netsuite.consumer_key,
        "password": cfg.netsuite.consumer_secret,
        "extra": {
            "account_id": cfg.netsuite.account_id,
            "auth_method": "tba",
            "token_id": cfg.netsuite.token_id,
            "token_secret": cfg.netsuite.token_secret,
            "ca_bundle": str(sandbox.ca_path),
            "concurrency_limit": 5,
        },
    }
    sf_conn = {
        "conn_type": "salesforce",
        "extra": {
            "session_id": cfg.salesforce.access_token,
            "instance_url": sandbox.salesforce_url,
            "ca_bundle": str(sandbox.ca_path),
            "version": "59.0",
        },
    }
    os.environ["AIRFLOW_CONN_BENCH_NETSUITE"] = json.dumps(ns_conn)
    m2m = json.loads(json.dumps(ns_conn))
    m2m["extra"].update(
        {
            "auth_method": "oauth2_m2m",
            "client_id": cfg.netsuite.m2m_client_id,
            "certificate_id": cfg.netsuite.m2m_certificate_id,
            "private_key_file": str(cfg.state_dir / "m2m_private.pem"),
        }
    )
    os.environ["AIRFLOW_CONN_BENCH_NETSUITE_M2M"] = json.dumps(m2m)
    os.environ["AIRFLOW_CONN_BENCH_SALESFORCE"] = json.dumps(sf_conn)
    return "bench_netsuite", "bench_salesforce"


def _writes(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "key": f"{prefix}{i}",
            "record_type": "customer",
            "external_id": f"{prefix}-{i:05d}",
            "body": {"companyName": f"Bench {prefix} {i}", "subsidiary": {"id": "1"}},  # OneWorld: required
            "transform_from": None,
        }
        for i in range(n)
    ]


def bench_netsuite(
    sandbox: RunningSandbox, conn_id: str, n: int, latency_ms: float, limit: int, *, serial: bool = True
) -> list[tuple]:
    from crsync_provider.hooks.netsuite import NetSuiteHook

    sandbox.control(NS, "reset", {"seed": True})
    sandbox.control(NS, "governance", {"concurrency_limit": limit, "latency_ms": latency_ms})
    ideal = n * latency_ms / 1000.0 / limit
    rows: list[tuple] = []
    elapsed = 0.0
    for auth, cid in (("TBA", conn_id), ("OAuth 2.0 M2M", f"{conn_id}_m2m")):
        hook = NetSuiteHook(cid, concurrency_limit=limit)
        hook.test_connection()  # warm up: TLS handshake, first auth
        sandbox.control(NS, "stats/reset")
        started = time.perf_counter()
        results = hook.write_many(_writes(n, f"BENCH{len(rows)}"))
        took = time.perf_counter() - started
        elapsed = elapsed or took
        stats = _requests(sandbox, NS)
        snapshot = sandbox.control(NS, "stats", method="GET")
        writes = _count(stats, method="PUT")
        ok = sum(r["status"] != "failed" for r in results)
        rows.append(
            (
                f"NetSuite {n:,} upserts, bounded client, limit {limit}, {auth}",
                f"{took:.2f} s",
                f"ideal {ideal:.2f} s -> {took / ideal:.3f}x (target <= 1.15x)",
                f"{writes:,} write requests ({writes / n:.2f}/record, target 1.00); "
                f"{_count(stats) - writes} read(s); {_count(stats, status=429)} x 429; "
                f"peak concurrency {snapshot['peak_concurrency']}; {ok:,} ok",
            )
        )

    if not serial:
        sandbox.control(NS, "governance", {"latency_ms": 0})
        return rows
    sandbox.control(NS, "stats/reset")
    serial_hook = NetSuiteHook(conn_id, concurrency_limit=limit)
    started = time.perf_counter()
    for write in _writes(n, "SERIAL"):
        serial_hook.upsert_record(write["record_type"], write["external_id"], write["body"])
    elapsed_serial = time.perf_counter() - started
    stats = _requests(sandbox, NS)
    writes = _count(stats, method="PUT")
    per_request_ms = elapsed_serial / n * 1000
    floor = elapsed_serial / limit
    rows.append(
        (
            f"NetSuite {n:,} upserts, one at a time, TBA",
            f"{elapsed_serial:.2f} s",
            f"{elapsed_serial / ideal:.2f}x the ideal; bounded client is {elapsed_serial / elapsed:.1f}x faster",
            f"{writes:,} write requests; {per_request_ms:.1f} ms per request "
            f"({per_request_ms - latency_ms:.1f} ms over the stand-in's {latency_ms:g} ms response time: HTTPS, "
            "signing, parsing on both sides)",
        )
    )
    rows.append(
        (
            f"  floor at limit {limit} with that request time",
            f"{floor:.2f} s",
            f"{floor / ideal:.3f}x the ideal; bounded client (TBA) at {elapsed / floor:.3f}x this floor",
            "one-at-a-time time / limit: what 5 perfectly packed slots could do on this machine",
        )
    )
    sandbox.control(NS, "governance", {"latency_ms": 0})
    return rows


def bench_salesforce(sandbox: RunningSandbox, conn_id: str, sizes: list[int], bulk_n: int) -> list[tuple]:
    from crsync_provider.hooks.salesforce import SalesforceSyncHook

    sandbox.control(SF, "reset")
    sandbox.control(SF, "seed", {"catalog_only": True})
    hook = SalesforceSyncHook(conn_id)
    hook.test_connection()
    rows: list[tuple] = []
    for n in sizes:
        records = [{"NetSuite_Id__c": f"BC{n}-{i:05d}", "Name": f"Bench {n} {i}"} for i in range(n)]
        before = _count(_requests(sandbox, SF))
        started = time.perf_counter()
        results = hook.upsert("Account", "NetSuite_Id__c", records, bulk_threshold=max(n, 2000))
        elapsed = time.perf_counter() - started
        used = _count(_requests(sandbox, SF)) - before
        expected = math.ceil(n / 200)
        ok = sum(bool(r.get("success")) for r in results)
        rows.append(
            (
                f"Salesforce {n:,} upserts, collections",
                f"{elapsed:.2f} s",
                f"{used} calls vs ceil(N/200) = {expected} ({'OK' if used == expected else 'MISS'})",
                f"{ok:,} ok",
            )
        )
    records = [{"NetSuite_Id__c": f"BB-{i:05d}", "Name": f"Bench bulk {i}"} for i in range(bulk_n)]
    before = _count(_requests(sandbox, SF))
    started = time.perf_counter()
    results = hook.upsert("Account", "NetSuite_Id__c", records, bulk_threshold=2000)
    elapsed = time.perf_counter() - started
    used = _count(_requests(sandbox, SF)) - before
    ok = sum(bool(r.get("success")) for r in results)
    rows.append(
        (
            f"Salesforce {bulk_n:,} upserts, Bulk API 2.0",
            f"{elapsed:.2f} s",
            f"{used} calls (target <= 5; collections would need {math.ceil(bulk_n / 200)})",
            f"{ok:,} ok",
        )
    )
    return rows


def print_table(rows: list[tuple]) -> None:
    headers = ("benchmark", "wall time", "vs target", "requests")
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="NetSuite upserts (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--limit", type=int, default=5, help="NetSuite account concurrency limit")
    parser.add_argument("--skip-serial", action="store_true", help="skip the one-at-a-time NetSuite run")
    parser.add_argument("--bulk", type=int, default=5000, help="Salesforce Bulk 2.0 records (default 5000)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="crsync-bench-") as tmp:
        os.environ.setdefault("AIRFLOW_HOME", str(Path(tmp) / "airflow"))
        with running_sandbox(Path(tmp) / "sandbox") as sandbox:
            ns_conn, sf_conn = _setup_connections(sandbox)
            rows = bench_netsuite(
                sandbox, ns_conn, args.records, args.latency_ms, args.limit, serial=not args.skip_serial
            )
            rows += bench_salesforce(sandbox, sf_conn, [401, 1000], args.bulk)
    print(
        f"NetSuite stand-in: concurrency limit {args.limit}, latency {args.latency_ms:g} ms (each reply's "
        "response time, the stand-in's own work included), HTTPS. "
        f"Machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} "
        "(client and stand-in share it; the wall times are CPU-sensitive)"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
