"""What a run leaves in its task logs: no deprecation warnings raised from this project's code."""

from __future__ import annotations

import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIRS = tuple(str(ROOT / part) for part in ("dags", "include", "plugins"))
DAG_ID = "sf_opportunity_to_ns_sales_order"


def test_an_hourly_run_raises_no_deprecation_warning_from_project_code(fresh_sandbox, flow_dags):
    fresh_sandbox.control("salesforce", "seed", {"opportunities": 2, "lines_per_opportunity": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = flow_dags[DAG_ID].test(
            run_conf={"opportunity_ids": [], "mode": "queued", "dry_run": False}, logical_date=None
        )
    assert run.state == "success"
    ours = [
        f"{w.category.__name__} at {w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning | FutureWarning)
        and str(w.filename).startswith(PROJECT_DIRS)
    ]
    assert ours == [], "\n".join(ours)
