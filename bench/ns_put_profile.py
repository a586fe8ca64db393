"""The NetSuite stand-in's sales-order upsert path on its own: N PUTs at limit L, latency ms, CPU per side.

``python -m bench.ns_put_profile [--orders 1500] [--limit 15] [--latency-ms 50] [--lines 5] [--repeat 1]``

It starts the sandbox (``cr_sandbox.process.running_sandbox``) on a temp state folder and sends ``orders``
Contract-Renewals-form sales orders the way the hourly flow's ``load_orders`` does: the NetSuite hook's
``write_many`` (one SuiteQL lookup of existing external ids, then one ``PUT salesOrder/eid:<id>?replace=item``
per order on ``limit`` + ``limit // 2`` threads under the account semaphore), with TBA signing over HTTPS.
It prints the load's wall time against the ideal ``orders x latency / limit``, the stand-in's own span of
the PUTs, and the CPU seconds the sandbox process and this client process spent. Each repeat sends new
external ids (creates, like a first load).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]


def order_body(n: int, lines: int) -> dict[str, Any]:
    """A Contract New order on the Contract Renewals form, shaped like the flow's mapping output."""
    items = [501, 503, 505, 507, 509, 502, 504, 506, 508]
    return {
        "customForm": {"id": "129"},
        "entity": {"id": "1001"},
        "custbody_end_user": {"id": "1001"},
        "custbody_order_type": {"id": "1"},
        "currency": {"id": "1"},
        "tranDate": "2025-01-15",
        "startDate": "2025-01-15",
        "endDate": "2026-01-14",
        "custbody_swe_contract_start_date": "2025-01-15",
        "custbody_swe_contract_end_date": "2026-01-14",
        "custbody_tran_term_in_months": 12,
        "custbody_bill_to_tier": {"id": "1"},
        "memo": f"bench order {n}",
        "item": {"items": [
            {"item": {"id": str(items[k % len(items)])}, "quantity": 1 + k, "rate": 100.0 + k, "price": {"id": "-1"},
             "custcol_swe_contract_start_date": "2025-01-15", "custcol_swe_contract_end_date": "2026-01-14",
             "custcol_swe_contract_item_term_months": 12, "description": f"line {k}"}
            for k in range(lines)
        ]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--limit", type=int, default=15)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sandbox-src", metavar="DIR",
                        help="run the stand-in from another checkout's include/ (A/B against an older cr_sandbox)")
    parser.add_argument("--py-spy", metavar="FILE", help="record the sandbox process with py-spy (collapsed stacks)")
    args = parser.parse_args(argv)

    from cr_sandbox.config import SandboxConfig
    from cr_sandbox.connections import env_var_name, sandbox_connections
    from cr_sandbox.process import running_sandbox

    with tempfile.TemporaryDirectory(prefix="ns-put-profile-") as tmp, running_sandbox(
        Path(tmp) / "sandbox",
        extra_env={"SANDBOX_NS_CONCURRENCY": str(args.limit),
                   **({"PYTHONPATH": args.sandbox_src} if args.sandbox_src else {})},
    ) as sandbox:
        saved = {k: os.environ.get(k) for k in sandbox.env()}
        os.environ.update(sandbox.env())
        try:
            definition = sandbox_connections(SandboxConfig())["netsuite_default"]
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        definition["extra"]["concurrency_limit"] = args.limit
        os.environ[env_var_name("netsuite_default")] = json.dumps(definition)
        from crsync_provider.hooks.netsuite import NetSuiteHook

        server = psutil.Process(sandbox.process.pid)
        client = psutil.Process()
        sandbox.control("netsuite", "governance", {"concurrency_limit": args.limit, "latency_ms": args.latency_ms})
        ideal = args.orders * args.latency_ms / 1000.0 / args.limit
        for rep in range(args.repeat):
            hook = NetSuiteHook("netsuite_default")
            writes = [{"key": f"r{rep}o{n}", "record_type": "salesOrder", "external_id": f"BENCH-{rep}-{n}",
                       "body": order_body(n, args.lines)} for n in range(args.orders)]
            sandbox.control("netsuite", "stats/reset")
            s0, c0 = server.cpu_times(), client.cpu_times()
            spy = None
            if args.py_spy:
                spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--format", "raw", "--rate", "250",
                                        "--nonblocking", "--gil", "-o", f"{args.py_spy}.{rep}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
                time.sleep(1.0)
            started = time.perf_counter()
            results = hook.write_many(writes)
            wall = time.perf_counter() - started
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)
            s1, c1 = server.cpu_times(), client.cpu_times()
            stats = sandbox.control("netsuite", "stats", method="GET")
            failed = [r for r in results if r["status"] == "failed"]
            put_span = next((s["seconds"] for s in stats["spans"] if s["method"] == "PUT"), float("nan"))
            server_cpu = (s1.user - s0.user) + (s1.system - s0.system)
            client_cpu = (c1.user - c0.user) + (c1.system - c0.system)
            rejected = stats["rejected_over_limit"]
            print(
                f"{'A/B ' + args.sandbox_src + ' ' if args.sandbox_src else ''}run {rep + 1}: {args.orders} orders x {args.lines} lines, limit {args.limit}, "
                f"{args.latency_ms:.0f} ms: wall {wall:.2f} s ({wall / ideal:.2f}x ideal {ideal:.2f} s); "
                f"stand-in PUT span {put_span:.2f} s ({put_span / ideal:.2f}x); peak {stats['peak_concurrency']}, "
                f"rejected {rejected}, failed {len(failed)}; CPU server {server_cpu:.2f} s "
                f"({1000 * server_cpu / args.orders:.2f} ms/order), client {client_cpu:.2f} s "
                f"({1000 * client_cpu / args.orders:.2f} ms/order)",
                flush=True,
            )
            if failed:
                print("first failure:", failed[0], file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
