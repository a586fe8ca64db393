"""The flows run for real: each DAG through ``dag.test()`` against the stand-ins, figures from their stats.

Airflow must already be configured (``bench.workspace.configure_airflow``) and the metadata DB migrated.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import Row
from bench.workspace import NS, ROOT, SF, by_path, count, delta, stats

OPP_DAG = "sf_opportunity_to_ns_sales_order"
CONTRACT_DAG = "ns_contract_to_sf_contract"
ITEM_DAG = "ns_contract_item_to_sf_contract_item"
OPP_CONF = {"opportunity_ids": [], "mode": "queued", "dry_run": False}
NS_CONF = {"netsuite_ids": [], "full_resync": False, "dry_run": False}

SOQL_PAGE = 2000  # Salesforce's largest SOQL batch
COLLECTION = 200  # records per sObject Collections call
SUITEQL_IN_LIST = 1000  # the hook's existence lookup and the order-number read: ids per SuiteQL IN list
SUITEQL_PAGE = 1000  # rows per SuiteQL page


def _guard_reads(n: int) -> tuple[int, int]:
    """SOQL GETs of the write-back's mid-run-edit guard (the extracted Opportunities re-read by id,
    ``crsync.ids.SOQL_IDS_PER_GET`` ids per GET: the URI length limit), and the ids per GET."""
    from crsync.ids import SOQL_IDS_PER_GET

    return math.ceil(n / SOQL_IDS_PER_GET), SOQL_IDS_PER_GET


def _billed_checks(n: int) -> int:
    """SuiteQL reads of the billed-order check (which orders NetSuite has invoiced: their lines cannot
    change), one per ``batch_sizes.id_lookup`` orders."""
    from crsync.settings import load_settings

    return math.ceil(n / load_settings().batch_sizes.id_lookup)


@dataclass
class DagRunTiming:
    state: str
    run_id: str
    called_at: datetime
    elapsed: float
    tis: list[dict[str, Any]]

    def task(self, task_id: str) -> list[dict[str, Any]]:
        return [t for t in self.tis if t["task_id"] == task_id]

    def span(self, task_id: str) -> float:
        tis = self.task(task_id)
        return (max(t["end"] for t in tis) - min(t["start"] for t in tis)).total_seconds()

    def busy(self, task_id: str) -> float:
        return sum(t["duration"] or 0.0 for t in self.task(task_id))

    @property
    def startup(self) -> float:
        """``dag.test()`` called -> first task started (bundle sync, run creation, first scheduling loop)."""
        return (min(t["start"] for t in self.tis) - self.called_at).total_seconds()

    def durations(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for t in self.tis:
            out[t["task_id"]] = round(out.get(t["task_id"], 0.0) + (t["duration"] or 0.0), 2)
        return out


def run_dag(dags: dict[str, Any], dag_id: str, conf: dict[str, Any]) -> DagRunTiming:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    called_at = datetime.now(UTC)
    started = time.perf_counter()
    run = dags[dag_id].test(run_conf=conf, logical_date=None)
    elapsed = time.perf_counter() - started
    with create_session() as session:
        rows = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        tis = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(ti.state),
                "start": ti.start_date,
                "end": ti.end_date,
                "duration": ti.duration,
            }
            for ti in rows
            if ti.start_date and ti.end_date
        ]
    return DagRunTiming(str(run.state), run.run_id, called_at, elapsed, sorted(tis, key=lambda t: t["start"]))


def load_dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags


def fresh(sandbox: Any) -> None:
    """Both stand-ins empty, with the shared catalog (customers/Accounts, items/Products, price book)."""
    sandbox.control(NS, "reset", {})
    sandbox.control(SF, "reset", {})
    sandbox.control(NS, "seed", {"contracts": 0})
    sandbox.control(SF, "seed", {"catalog_only": True})


def _sf_calls(d: dict[str, Any]) -> dict[str, int]:
    return {
        "soql": count(d, method="GET", path="/query"),
        "collections": count(d, path="/composite/sobjects"),
        "bulk": count(d, path="/jobs/ingest"),
        "single_record": count(d, path="/sobjects/", exclude="/composite/"),
        "total": d["total"],
    }


# --------------------------------------------------------------------------------------------------
# Opportunity flow: 2,000 x 5 at limit 5 / 50 ms, and the common way
# --------------------------------------------------------------------------------------------------


def opportunity_flow(
    sandbox: Any, dags: dict[str, Any], *, n: int, lines: int, latency_ms: float, limit: int, sample_path: Path
) -> tuple[list[Row], dict[str, Any]]:
    part = f"hourly {n:,}x{lines}"
    fresh(sandbox)
    seeded = sandbox.control(
        SF, "seed", {"opportunities": n, "lines_per_opportunity": lines, "order_type": "Contract New"}
    )
    sandbox.control(NS, "governance", {"concurrency_limit": limit, "latency_ms": latency_ms})
    sandbox.control(NS, "stats/reset")
    sf_before = stats(sandbox, SF)
    timing = run_dag(dags, OPP_DAG, OPP_CONF)
    ns = stats(sandbox, NS)
    sf = delta(sf_before, stats(sandbox, SF))
    sandbox.control(NS, "governance", {"latency_ms": 0})
    if timing.state != "success":
        raise RuntimeError(f"{OPP_DAG} run ended {timing.state}: {timing.durations()}")
    _save_sample(seeded["opportunity_ids"], sample_path)

    ideal = n * latency_ms / 1000.0 / limit
    load = timing.span("load_orders")
    chunks = len(timing.task("load_orders"))
    puts = count(ns, method="PUT", path="/salesOrder/")
    ns_writes = count(ns, method="PUT") + count(ns, method="POST", path="/record/") + count(ns, method="PATCH")
    sf_calls = _sf_calls(sf)
    write_back = count(sf, method="PATCH", path="/composite/sobjects")
    soql = sf_calls["soql"]
    min_pages = math.ceil(n / SOQL_PAGE)
    guard_reads, ids_per_get = _guard_reads(n)
    min_wb = math.ceil(n / COLLECTION)
    rows = [
        Row(
            part,
            f"NetSuite load wall time (load_orders, {chunks} mapped task(s), first start -> last end)",
            f"<= 1.15x ideal ({n:,} x {latency_ms / 1000:g} s / {limit} = {ideal:.1f} s)",
            f"{load:.1f} s = {load / ideal:.2f}x ideal (tasks busy {timing.busy('load_orders'):.1f} s)",
            load <= 1.15 * ideal,
            {"load_span_s": round(load, 2), "ideal_s": ideal, "ratio": round(load / ideal, 3),
             "tasks": timing.durations(), "run_s": round(timing.elapsed, 1)},
        ),
        Row(
            part,
            "NetSuite write requests per order (PUT salesOrder/eid:{id})",
            "1.00",
            f"{puts:,} PUT / {n:,} orders = {puts / n:.2f}; {ns_writes - puts} other writes, "
            f"{count(ns, path='/suiteql')} SuiteQL",
            puts == n and ns_writes == puts,
            {"netsuite_requests": by_path(ns)},
        ),
        Row(
            part,
            "NetSuite 429s / peak concurrency",
            f"0 x 429, peak <= {limit}",
            f"{count(ns, status=429)} x 429, peak {ns['peak_concurrency']}",
            count(ns, status=429) == 0 and ns["peak_concurrency"] <= limit,
            {"rejected_over_limit": ns["rejected_over_limit"]},
        ),
        Row(
            part,
            "Salesforce calls: SOQL (extract pages + the write-back's re-read for mid-run edits)",
            f"ceil(N/{SOQL_PAGE}) + ceil(N/{ids_per_get}) = {min_pages} + {guard_reads}",
            f"{soql}",
            soql <= min_pages + guard_reads,
            {},
        ),
        Row(
            part,
            "Salesforce calls: write-back (collections)",
            f"ceil(N/{COLLECTION}) = {min_wb}",
            f"{write_back} (total Salesforce calls {sf['total']})",
            write_back <= min_wb and sf_calls["single_record"] == 0,
            {"salesforce_requests": by_path(sf)},
        ),
        Row(
            part,
            "run: dag.test() wall time; start-up (call -> first task)",
            "reported",
            f"{timing.elapsed:.1f} s; start-up {timing.startup:.1f} s",
            None,
            {"tasks_s": timing.durations()},
        ),
    ]
    facts = {"load_s": load, "write_back_s": timing.busy("write_back"), "n": n, "puts": puts,
             "sf_writes": write_back, "ideal": ideal}
    return rows, facts


def _save_sample(ids: list[str], path: Path) -> None:
    """Keep a few Opportunities in the extract's shape (same SOQL, by id) for the memory benchmark."""
    from crsync.queries import opportunities_soql
    from crsync.runtime.flows.common import salesforce_hook
    from crsync.runtime.flows.opportunity_to_sales_order import _rewrap_children
    from crsync.settings import load_settings

    try:
        soql = opportunities_soql("ids", ids=ids[:10], settings=load_settings())
        records = [_rewrap_children(r) for r in salesforce_hook().query(soql, strip_attributes=True, flatten_children=True)]
        path.write_text(json.dumps(records, default=str))
    except Exception as exc:  # noqa: BLE001 - the memory part falls back to a built-in shape
        print(f"  (could not keep an extracted sample: {exc!r})", flush=True)


def common_way(
    sandbox: Any, *, n: int, sample: int, lines: int, latency_ms: float, limit: int, flow: dict[str, Any]
) -> list[Row]:
    """The same work one record at a time: one NetSuite request per order, one Salesforce PATCH per
    Opportunity, sequential, no collections. Same extract query and mapping, so the bodies are identical.
    Runs ``sample`` records (sequential cost is linear) and scales to ``n``."""
    from crsync.mappings.opportunity_to_sales_order import (
        opportunities_to_sales_orders,
        opportunity_write_back,
    )
    from crsync.queries import opportunities_soql
    from crsync.records import dump_all
    from crsync.runtime.flows.common import netsuite_hook, salesforce_hook
    from crsync.runtime.flows.opportunity_to_sales_order import _rewrap_children
    from crsync.settings import load_settings

    part = f"hourly {n:,}x{lines}"
    settings = load_settings()
    sandbox.control(SF, "seed", {"opportunities": sample, "lines_per_opportunity": lines, "order_type": "Contract New"})
    sf = salesforce_hook()
    # window end a minute ahead: SOQL datetimes have whole seconds, the seed just wrote this second
    soql = opportunities_soql("queued", window_end=datetime.now(UTC) + timedelta(minutes=1), settings=settings)
    records = [_rewrap_children(r) for r in sf.query(soql, strip_attributes=True, flatten_children=True)]
    orders = dump_all(opportunities_to_sales_orders(records, settings).orders)
    ns = netsuite_hook(concurrency=limit)
    ns.test_connection()
    sandbox.control(NS, "governance", {"concurrency_limit": limit, "latency_ms": latency_ms})
    sandbox.control(NS, "stats/reset")
    sf_before = stats(sandbox, SF)
    started = time.perf_counter()
    results = []
    for order in orders:
        ns_id = ns.upsert_record(order["record_type"], order["external_id"], order["body"])
        results.append({"key": order["key"], "external_id": order["external_id"], "status": "created",
                        "id": ns_id, "error": None})
    ns_s = time.perf_counter() - started
    batch = opportunity_write_back(results, [])
    started = time.perf_counter()
    for record in batch.records:
        body = {k: v for k, v in record.items() if k != "Id"}
        sf.restful(f"sobjects/Opportunity/{record['Id']}", method="PATCH", json=body)
    sf_s = time.perf_counter() - started
    sandbox.control(NS, "governance", {"latency_ms": 0})
    ns_stats = stats(sandbox, NS)
    sf_stats = delta(sf_before, stats(sandbox, SF))
    scale = n / max(1, len(orders))
    common_total = (ns_s + sf_s) * scale
    ours = flow["load_s"] + flow["write_back_s"]
    ns_req = count(ns_stats, method="PUT")
    sf_req = count(sf_stats, method="PATCH")
    scaled = "" if scale == 1 else f" (measured on {len(orders):,}, x{scale:g})"
    per_request = ns_s / max(1, len(orders))
    floor = n * per_request / limit
    return [
        Row(
            part,
            f"floor: {limit} perfectly packed slots at this machine's measured request time",
            "reported (separates machine from design)",
            f"{per_request * 1000:.0f} ms/request one at a time ({per_request * 1000 - latency_ms:.0f} ms over the "
            f"{latency_ms:g} ms latency) -> floor {floor:.1f} s; flow load = {flow['load_s'] / floor:.2f}x floor",
            None,
            {"per_request_ms": round(per_request * 1000, 1), "floor_s": round(floor, 2)},
        ),
        Row(
            part,
            "common way: NetSuite one order at a time (sequential PUT)",
            "reported (flow load for comparison)",
            f"{ns_s * scale:.1f} s{scaled} = {ns_s * scale / flow['load_s']:.1f}x the flow's load "
            f"({flow['load_s']:.1f} s); {ns_req / len(orders):.2f} req/order",
            None,
            {"sample": len(orders), "ns_s": round(ns_s, 2), "netsuite_requests": by_path(ns_stats)},
        ),
        Row(
            part,
            "common way: Salesforce one PATCH per Opportunity",
            "reported",
            f"{sf_req * scale:,.0f} calls{scaled} vs {flow['sf_writes']} collection calls = "
            f"{sf_req * scale / max(1, flow['sf_writes']):.0f}x; {sf_s * scale:.1f} s",
            None,
            {"sf_s": round(sf_s, 2), "salesforce_requests": by_path(sf_stats)},
        ),
        Row(
            part,
            "common way vs flow: load + write-back wall time",
            "reported (ratio)",
            f"{common_total:.1f} s vs {ours:.1f} s = {common_total / ours:.1f}x slower",
            None,
            {"common_s": round(common_total, 2), "flow_s": round(ours, 2)},
        ),
    ]


def hourly_small(sandbox: Any, dags: dict[str, Any], *, n: int = 100, lines: int = 3) -> list[Row]:
    """One run of the hourly flow at 100 new Opportunities x 3 lines: calls to each system vs the minimum."""
    part = f"hourly {n}x{lines}"
    fresh(sandbox)
    sandbox.control(SF, "seed", {"opportunities": n, "lines_per_opportunity": lines, "order_type": "Contract New"})
    sandbox.control(NS, "stats/reset")
    sf_before = stats(sandbox, SF)
    timing = run_dag(dags, OPP_DAG, OPP_CONF)
    ns = stats(sandbox, NS)
    sf = delta(sf_before, stats(sandbox, SF))
    if timing.state != "success":
        raise RuntimeError(f"{OPP_DAG} run ended {timing.state}")
    billed_checks = _billed_checks(n)
    ns_min = n + 2 * math.ceil(n / SUITEQL_IN_LIST) + billed_checks
    guard_reads, ids_per_get = _guard_reads(n)
    sf_min = math.ceil(n / SOQL_PAGE) + guard_reads + math.ceil(n / COLLECTION)
    return [
        Row(
            part,
            "NetSuite API calls per run",
            f"min N + 2*ceil(N/1000) + ceil(N/id_lookup) = {ns_min} (1 write/order, 1 SuiteQL existence "
            f"lookup, 1 order-number read, {billed_checks} billed-order check(s))",
            f"{ns['total']} ({count(ns, method='PUT')} PUT, {count(ns, path='/suiteql')} SuiteQL)",
            ns["total"] <= ns_min,
            {"netsuite_requests": by_path(ns)},
        ),
        Row(
            part,
            "Salesforce API calls per run",
            f"min ceil(N/{SOQL_PAGE}) SOQL + ceil(N/{ids_per_get}) mid-run-edit re-read + ceil(N/{COLLECTION}) "
            f"collections = {sf_min}",
            f"{sf['total']} ({_sf_calls(sf)['soql']} SOQL, {_sf_calls(sf)['collections']} collections)",
            sf["total"] <= sf_min,
            {"salesforce_requests": by_path(sf)},
        ),
        Row(
            part,
            "run wall time; start-up (dag.test() call -> first task)",
            "reported",
            f"{timing.elapsed:.1f} s; start-up {timing.startup:.1f} s",
            None,
            {"tasks_s": timing.durations()},
        ),
    ]


# --------------------------------------------------------------------------------------------------
# Nightly flows: 4,000 contracts with 20,000 contract items
# --------------------------------------------------------------------------------------------------


def nightly(sandbox: Any, dags: dict[str, Any], *, contracts: int, items_per_contract: int) -> list[Row]:
    n_items = contracts * items_per_contract
    part = f"nightly {n_items:,} items"
    fresh(sandbox)
    started = time.perf_counter()
    sandbox.control(NS, "seed", {"contracts": contracts, "items_per_contract": items_per_contract})
    seed_s = time.perf_counter() - started
    rows: list[Row] = []
    via = "DAG"
    for dag_id, what, expected in ((CONTRACT_DAG, "contracts", contracts), (ITEM_DAG, "contract items", n_items)):
        sandbox.control(NS, "stats/reset")
        sf_before = stats(sandbox, SF)
        try:
            if dag_id not in dags:
                raise RuntimeError(f"{dag_id} is not among the parsed DAGs")
            timing = run_dag(dags, dag_id, NS_CONF)
            if timing.state != "success":
                raise RuntimeError(f"{dag_id} run ended {timing.state}: {timing.durations()}")
            elapsed, startup, tasks = timing.elapsed, timing.startup, timing.durations()
        except Exception as exc:  # noqa: BLE001 - the flows are being finished in parallel
            print(f"  {dag_id} through dag.test() failed ({exc!r}); measuring mapping + hooks directly", flush=True)
            via = "mapping + hooks"
            started = time.perf_counter()
            _direct(dag_id)
            elapsed, startup, tasks = time.perf_counter() - started, None, {}
        ns = stats(sandbox, NS)
        sf = delta(sf_before, stats(sandbox, SF))
        calls = _sf_calls(sf)
        pages = count(ns, path="/suiteql")
        min_pages = math.ceil(expected / SUITEQL_PAGE)
        # the contract flow also reads each contract's originating sales order (Opportunity link)
        link_pages = min_pages if dag_id == CONTRACT_DAG else 0
        min_collections = math.ceil(expected / COLLECTION)
        load_calls = calls["bulk"] + count(sf, path="/composite/sobjects", method="PATCH")
        rows += [
            Row(
                part,
                f"{dag_id}: SuiteQL pages for {expected:,} {what}",
                f"ceil(rows/1000) = {min_pages}"
                + (f" + {link_pages} pages of originating orders (Opportunity links)" if link_pages else ""),
                f"{pages} SuiteQL requests ({ns['total']} NetSuite calls in all)",
                pages <= min_pages + link_pages,
                {"netsuite_requests": by_path(ns), "via": via},
            ),
            Row(
                part,
                f"{dag_id}: Salesforce calls (load + lookups)",
                f"load <= ceil(N/200) = {min_collections} collections, or a handful (<= 5) bulk",
                f"load {load_calls} ({calls['bulk']} bulk, {count(sf, path='/composite/sobjects')} collections); "
                f"{calls['soql']} SOQL lookups; {sf['total']} in all",
                (calls["bulk"] and calls["bulk"] <= 5) or (not calls["bulk"] and load_calls <= min_collections),
                {"salesforce_requests": by_path(sf), "via": via},
            ),
            Row(
                part,
                f"{dag_id}: run wall time; start-up",
                "reported",
                f"{elapsed:.1f} s" + (f"; start-up {startup:.1f} s" if startup is not None else "") + f" (via {via})",
                None,
                {"tasks_s": tasks, "seed_s": round(seed_s, 1)},
            ),
        ]
    return rows


def _direct(dag_id: str) -> None:
    """Fallback: the flow's mapping and hooks without Airflow (full scope)."""
    from crsync.queries import ChangeScope, contract_items_query, contracts_query
    from crsync.runtime.flows.common import netsuite_hook, salesforce_hook
    from crsync.settings import load_settings

    settings = load_settings()
    hook = netsuite_hook()
    query = (contracts_query if dag_id == CONTRACT_DAG else contract_items_query)(ChangeScope.full(), settings)
    # The hook's keyset pager: one request per page of SUITEQL_PAGE rows (``key > last key``), as in the DAG.
    rows = list(hook.suiteql_keyset(query, page_size=SUITEQL_PAGE))
    if dag_id == CONTRACT_DAG:
        from crsync.mappings.contract import contracts_to_salesforce

        batch = contracts_to_salesforce(rows, settings).contracts
    else:
        from crsync.mappings.contract_item import contract_items_to_salesforce

        batch = contract_items_to_salesforce(rows, settings).items
    salesforce_hook().upsert_write_results(
        batch.sobject, batch.external_id_field, batch.records, bulk_threshold=settings.salesforce.bulk_threshold
    )
