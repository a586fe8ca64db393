"""``make bench``: the integration's benchmark table (target vs measured, met or not), saved as JSON.

Starts its own sandbox (temp folder, free ports) and a throw-away Airflow home configured like the tests
(``bin/airflow-env.sh``: XCom object storage, SQLite metadata DB), runs the real DAGs with ``dag.test()``
against the stand-ins and takes every figure from the stand-ins' stats, the metadata DB or the OS.
See docs/benchmarks.md for what each row means.

    .venv/bin/python -m bench                 # everything (about 5-8 min on 2 cores)
    .venv/bin/python -m bench --only hourly   # parts: hourly common nightly memory xcom parse scaleout scaleout15
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Row, print_table, save_json
from bench.workspace import ROOT, configure_airflow, migrate_db, sandbox_connection_env

PARTS = ["hourly", "common", "hourly100", "nightly", "memory", "xcom", "parse", "scaleout", "scaleout15"]
RESULTS = ROOT / "bench" / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="crsync benchmarks (make bench)")
    parser.add_argument("--only", nargs="*", choices=PARTS, help="run only these parts")
    parser.add_argument("--skip", nargs="*", choices=PARTS, default=[], help="skip these parts")
    parser.add_argument("--opportunities", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--limit", type=int, default=5, help="NetSuite account concurrency limit")
    parser.add_argument(
        "--common-sample", type=int, default=300,
        help="Opportunities sent the common way (sequential cost is linear; scaled to --opportunities). "
        "0 = all of them",
    )
    parser.add_argument("--contracts", type=int, default=4000)
    parser.add_argument("--items-per-contract", type=int, default=5)
    parser.add_argument("--memory-lines", type=int, default=100_000)
    parser.add_argument("--xcom-records", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds; the scale-out part gets what is left")
    args = parser.parse_args(argv)
    parts = [p for p in (args.only or PARTS) if p not in args.skip]

    begun = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="crsync-bench-"))
    configure_airflow(tmp / "airflow")
    rows: list[Row] = []
    timings: dict[str, float] = {}
    print(f"crsync bench: parts {', '.join(parts)}; work folder {tmp}", flush=True)

    def step(name: str, fn) -> None:
        print(f"== {name} ...", flush=True)
        started = time.perf_counter()
        try:
            rows.extend(fn())
        except Exception as exc:  # noqa: BLE001 - one failing part must not hide the others
            traceback.print_exc()
            rows.append(Row(name, "part failed", "-", f"{type(exc).__name__}: {str(exc)[:300]}", False))
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"   {name}: {timings[name]} s", flush=True)

    def memory_and_parse() -> None:
        if "memory" in parts:
            step("memory", lambda: offline.transform_memory(args.memory_lines, tmp / "opportunity_sample.json"))
        if "parse" in parts:
            step("parse", offline.parse_times)

    needs_sandbox = {"hourly", "common", "hourly100", "nightly", "scaleout", "scaleout15"} & set(parts)
    needs_db = needs_sandbox | ({"xcom"} & set(parts))
    if needs_db:
        print("== airflow db migrate ...", flush=True)
        timings["db_migrate"] = round(migrate_db(), 1)

    from bench import offline

    if needs_sandbox:
        from cr_sandbox.process import running_sandbox

        with running_sandbox(tmp / "sandbox") as sandbox:
            os.environ.update(sandbox_connection_env(sandbox))
            from bench import flows

            dags = flows.load_dags()
            facts: dict = {}

            def hourly():
                out, found = flows.opportunity_flow(
                    sandbox, dags, n=args.opportunities, lines=args.lines, latency_ms=args.latency_ms,
                    limit=args.limit, sample_path=tmp / "opportunity_sample.json",
                )
                facts.update(found)
                return out

            if "hourly" in parts:
                step("hourly", hourly)
            if "common" in parts and facts:
                step("common", lambda: flows.common_way(
                    sandbox, n=args.opportunities, sample=args.common_sample or args.opportunities,
                    lines=args.lines, latency_ms=args.latency_ms, limit=args.limit, flow=facts,
                ))
            if "hourly100" in parts:
                step("hourly100", lambda: flows.hourly_small(sandbox, dags))
            if "nightly" in parts:
                step("nightly", lambda: flows.nightly(
                    sandbox, dags, contracts=args.contracts, items_per_contract=args.items_per_contract
                ))
            if "xcom" in parts:
                step("xcom", lambda: offline.xcom_size(args.xcom_records, tmp) + offline.xcom_rows_of_runs())
            memory_and_parse()
            if "scaleout" in parts:
                from bench import scaleout

                # last, with what is left of the 10-minute budget (its own start-up included)
                left = max(120.0, args.budget - (time.perf_counter() - begun) - 90)
                step("scaleout", lambda: scaleout.run(
                    sandbox, tmp, limit=args.limit, latency_ms=args.latency_ms, deadline_s=left
                ))
            if "scaleout15" in parts:
                from bench import scaleout

                # SuiteCloud Plus: limit 15, pool 15; each load task takes netsuite.concurrency (5) slots, so
                # the 3 chunks of 500 run at once (the scheduler's parallelism is 4).
                step("scaleout15", lambda: scaleout.run(
                    sandbox, tmp, limit=15, latency_ms=args.latency_ms, opportunities=1500, lines=2, chunk=500,
                    deadline_s=300, part="scale-out limit 15", wall_time_target=1.25,
                ))
    else:
        if "xcom" in parts:
            step("xcom", lambda: offline.xcom_size(args.xcom_records, tmp))
        memory_and_parse()

    total = time.perf_counter() - begun
    rows.append(Row("bench", "total wall time of make bench", "< 600 s on 2 cores", f"{total:.0f} s", total < 600,
                    {"parts_s": timings}))
    print()
    text = print_table(rows)
    meta = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "parts_s": timings,
        "total_s": round(total, 1),
        "table": text,
    }
    save_json(rows, args.output, meta)
    print(
        f"\n{sum(r.met is True for r in rows)} met, {sum(r.met is False for r in rows)} not met; "
        f"{total:.0f} s on {os.cpu_count()} CPU(s), load average {load_before[0]:.1f} before / "
        f"{os.getloadavg()[0]:.1f} after (the stand-ins share the CPUs with the client). Saved {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
