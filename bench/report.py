"""Rows of the benchmark table: ``measure | target | measured | met``, printed and saved as JSON."""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    part: str
    measure: str
    target: str
    measured: str
    met: bool | None  # None: reported, no target
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT MET", None: "-"}[self.met]


def print_table(rows: list[Row], *, width: int = 60) -> str:
    headers = ("part", "measure", "target", "measured", "met")
    cells = [
        (r.part, r.measure, r.target, r.measured, r.verdict) for r in rows
    ]
    wrap = [12, 46, 34, width, 7]
    widths = [
        min(wrap[i], max(len(str(c[i])) for c in [headers, *cells])) for i in range(len(headers))
    ]
    sep = "+".join("-" * (w + 2) for w in widths)
    lines = [sep, "|".join(f" {h.ljust(w)} " for h, w in zip(headers, widths, strict=True)), sep]
    for c in cells:
        wrapped = [textwrap.wrap(str(v), w) or [""] for v, w in zip(c, widths, strict=True)]
        for k in range(max(len(x) for x in wrapped)):
            lines.append(
                "|".join(f" {(x[k] if k < len(x) else '').ljust(w)} " for x, w in zip(wrapped, widths, strict=True))
            )
        lines.append(sep)
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def save_json(rows: list[Row], path: Path, meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": meta,
        "rows": [asdict(r) | {"verdict": r.verdict} for r in rows],
        "summary": {
            "met": sum(r.met is True for r in rows),
            "not_met": sum(r.met is False for r in rows),
            "reported": sum(r.met is None for r in rows),
        },
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, path)
