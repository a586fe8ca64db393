"""The reconciliation report: every check's rows combined in report order, counts per kind, the ids
``repair`` re-queues, a spreadsheet-safe copy for the CSV, and the text (task log) and HTML renderings.

Part of :mod:`crsync.reconcile`, which re-exports every public name here.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Final

import jinja2
import pandas as pd

from crsync.reconcile_frames import DRIFT_COLUMNS, KINDS, REQUEUE_KINDS, empty, is_missing


def combine(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """All drift rows, ordered by :data:`KINDS` (stable within a kind)."""
    frames = [p for p in parts if len(p)]
    if not frames:
        return empty()
    drift = pd.concat(frames, ignore_index=True)
    order = {kind: n for n, kind in enumerate(KINDS)}
    drift["_order"] = drift["kind"].map(order)
    drift = drift.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    return drift.astype(object).where(drift.notna(), None)


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(drift: pd.DataFrame) -> pd.DataFrame:
    """The drift rows with every text cell that a spreadsheet would run as a formula prefixed with ``'``
    (names, messages and values come from both systems and may be typed by anyone)."""

    def neutralise(value: Any) -> Any:
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value

    return drift.apply(lambda column: column.map(neutralise)) if len(drift) else drift


def counts(drift: pd.DataFrame) -> dict[str, int]:
    """Rows per kind, every kind listed (0 when none)."""
    found = drift["kind"].value_counts().to_dict() if len(drift) else {}
    return {kind: int(found.get(kind, 0)) for kind in KINDS}


def requeue_ids(drift: pd.DataFrame) -> list[str]:
    """Opportunity ids that ``repair`` re-queues (Error and stuck), in report order, de-duplicated."""
    if not len(drift):
        return []
    ids = drift.loc[drift["kind"].isin(REQUEUE_KINDS), "salesforce_id"]
    return list(dict.fromkeys(i for i in ids if i))


def _line(row: Mapping[str, Any]) -> str:
    ids = " / ".join(
        f"{side} {row[col]}"
        for side, col in (("NetSuite", "netsuite_id"), ("Salesforce", "salesforce_id"))
        if row[col]
    )
    name = f' "{row["name"]}"' if row.get("name") else ""
    return f"{row['record']} {ids}{name}: {row['message']}"


def render_text(
    drift: pd.DataFrame, *, title: str, compared: Mapping[str, int] | None = None, shown: int = 5
) -> str:
    """The report for the task log: counts per kind, then the first ``shown`` rows of each kind."""
    total = len(drift)
    lines = [f"{title}: {'no drift' if not total else f'{total} drift row(s)'}"]
    if compared:
        lines.append("  compared: " + ", ".join(f"{k} {v}" for k, v in compared.items()))
    per_kind = counts(drift)
    lines += [f"  {kind}: {n}" for kind, n in per_kind.items()]
    for kind, n in per_kind.items():
        if not n:
            continue
        rows = drift[drift["kind"] == kind].head(shown)
        lines.append(f"{kind} (first {len(rows)} of {n}):")
        lines += [f"  - {_line(r)}" for r in rows.to_dict("records")]
    return "\n".join(lines)


def render_html(
    drift: pd.DataFrame,
    *,
    title: str,
    csv_name: str,
    compared: Mapping[str, int] | None = None,
    shown: int = 50,
    generated_at: dt.datetime | None = None,
) -> str:
    """A small self-contained HTML page: counts per kind and the first ``shown`` rows of each kind.

    Rendered from ``reconcile_report.html`` with Jinja2, autoescaped: names, messages and values come from
    both systems and may be typed by anyone.
    """
    per_kind = counts(drift)
    columns = [c for c in DRIFT_COLUMNS if c != "kind"]
    sections = [
        {
            "kind": kind,
            "total": n,
            "rows": [
                ["" if is_missing(value) else str(value) for value in row]
                for row in drift.loc[drift["kind"] == kind, columns].head(shown).itertuples(index=False)
            ],
        }
        for kind, n in per_kind.items()
        if n
    ]
    return _report_template().render(
        title=title,
        csv_name=csv_name,
        generated=(generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
        total=len(drift),
        compared=compared or {},
        counts=per_kind,
        columns=columns,
        sections=sections,
    )


@functools.cache
def _report_template() -> jinja2.Template:
    """The page's template, shipped beside this module (package data ``*.html``)."""
    text = resources.files("crsync").joinpath("reconcile_report.html").read_text(encoding="utf-8")
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(text)
