"""Subprocess probe: peak memory of the Opportunity transform over N synthetic line records.

``python -m bench.memprobe <lines> <lines_per_opportunity> [sample.json]`` prints one JSON line.
Records are clones of real extracted Opportunities (``sample.json``, the SOQL result shape the
``extract`` task returns) with unique ids; without a sample they are built from the query's field list.
"""

from __future__ import annotations

import copy
import json
import resource
import sys
import time
from typing import Any

import psutil


def _rss_mb() -> float:
    """This process's resident set size now, in MiB."""
    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB."""
    # psutil has no peak RSS on Linux (only Windows' peak_wset); the kernel's ru_maxrss (KiB on Linux) is it.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _built_in_template(lines: int) -> dict[str, Any]:
    today = time.strftime("%Y-%m-%d")
    end = f"{int(today[:4]) + 1}{today[4:8]}{int(today[8:]) - 1 if today[8:] != '01' else 28:02d}"
    return {
        "Id": "006000000000000AAA", "Name": "Acme - Contract New #000001", "Order_Type__c": "Contract New",
        "CloseDate": today, "Sync_Status__c": "Processing", "NetSuite_Id__c": None,
        "NetSuite_Renewal_Estimate_Id__c": None, "AccountId": "001000000000001AAA",
        "Account": {"Id": "001000000000001AAA", "Name": "Acme", "NetSuite_Id__c": "1001", "Channel_Tier__c": "End User"},
        "ContractId": None, "Contract": None, "SystemModstamp": f"{today}T00:00:00.000+0000",
        "OpportunityLineItems": {"totalSize": lines, "done": True, "records": [
            {"Id": f"00k00000000000{k}AAA", "Quantity": 1 + k, "UnitPrice": 1200.0, "ListPrice": 1200.0,
             "Start_Date__c": today, "End_Date__c": end, "Term_Months__c": 12, "NetSuite_Line_Id__c": None,
             "Product2Id": f"01t00000000000{k}AAA",
             "Product2": {"Name": "Gold Support", "NetSuite_Id__c": str(501 + k % 9), "Item_Category__c": "License-Term"}}
            for k in range(lines)]},
    }


def synthetic(n_opps: int, lines: int, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i in range(n_opps):
        rec = copy.deepcopy(samples[i % len(samples)])
        rec["Id"] = f"006B{i:011d}AAA"
        children = rec["OpportunityLineItems"]["records"]
        while len(children) < lines:
            children.append(copy.deepcopy(children[len(children) % max(1, len(children))]))
        del children[lines:]
        for k, child in enumerate(children):
            child["Id"] = f"00kB{i:09d}{k:02d}AAA"
            child["OpportunityId"] = rec["Id"] if "OpportunityId" in child else child.get("OpportunityId")
        rec["OpportunityLineItems"]["totalSize"] = lines
        out.append(rec)
    return out


def main() -> None:
    lines_total = int(sys.argv[1])
    lines = int(sys.argv[2])
    sample_path = sys.argv[3] if len(sys.argv) > 3 else None
    from crsync.mappings.opportunity_to_sales_order import opportunities_to_sales_orders
    from crsync.records import dump_all, dump_and_release
    from crsync.settings import load_settings

    settings = load_settings()
    rss_imports = _rss_mb()
    samples = json.loads(open(sample_path).read()) if sample_path else []
    shape = "extracted from the stand-in" if samples else "built-in"
    samples = [s for s in samples if (s.get("OpportunityLineItems") or {}).get("records")] or [_built_in_template(lines)]
    n_opps = lines_total // lines
    # as the task gets it: deserialized from XCom JSON
    records = json.loads(json.dumps(synthetic(n_opps, lines, samples)))
    rss_before = _rss_mb()
    started = time.perf_counter()
    mapped = opportunities_to_sales_orders(records, settings)
    out = {"orders": dump_and_release(mapped.orders), "failures": dump_all(mapped.failures)}
    took = time.perf_counter() - started
    peak = _peak_rss_mb()
    print(json.dumps({
        "lines": n_opps * lines, "opportunities": n_opps, "orders": len(out["orders"]),
        "failures": len(out["failures"]), "first_failure": out["failures"][0] if out["failures"] else None,
        "shape": shape, "rss_imports_mb": round(rss_imports, 1), "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak, 1), "transform_s": round(took, 2),
    }))


if __name__ == "__main__":
    main()
