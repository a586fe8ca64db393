"""Governance shared by both stand-ins: latency, fault injection, a concurrency cap and stats.

It is plain ASGI middleware so that a fault happens exactly where it would on the wire:
- *latency* is the response time: a request is handled at once and its reply leaves no sooner than
  ``latency_ms`` after it arrived, so the stand-in's own work (SQLite, the Contract Renewals module)
  is part of that time, as a vendor's processing is part of its response time, rather than added to it;
- ``429`` / ``500`` / ``503`` replies with the vendor's error body (supplied by the stand-in);
- a *dropped connection*: the response head is sent and the connection is closed before the body,
  which clients see as an incomplete read (requests raises ``ChunkedEncodingError``/``ConnectionError``);
- a *slow reply*: ``slow_ms`` more response time;
- a *reply that is not JSON* (``rate_not_json``, default 0): ``200`` with an HTML body, as a proxy,
  load balancer or maintenance page would answer; the request is not handled;
- a *reply lost after the request was handled* (``rate_drop_after``, or the next ``drop_after_count``
  requests whose path template is ``drop_after_path``): the vendor did the work (e.g. created the
  order), then the connection closes before the reply, as when a proxy or the network drops it;
- NetSuite only: a *SuiteQL visibility lag* (``suiteql_lag_ms``): transactions created less than that
  long ago are not yet returned by SuiteQL (applied by the NetSuite stand-in, see ``netsuite/app.py``).

Fault draws come from ``random.Random(seed)`` so a run is reproducible for a given request order.
Paths under ``/__sandbox/`` (the sandbox's own controls) are never delayed, faulted or counted.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

CONTROL_PREFIX = "/__sandbox/"


@dataclass
class FaultSettings:
    """What the stand-in does to each vendor request. Rates are shares in [0, 1]."""

    # Response time of every vendor request (a floor: work that takes longer answers later).
    latency_ms: float = 0.0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    rate_slow: float = 0.0
    slow_ms: float = 2000.0
    seed: int = 0
    # Share of requests answered 200 with an HTML page instead of the vendor's JSON (not handled).
    rate_not_json: float = 0.0
    # NetSuite: account concurrency limit (None = unlimited). Requests beyond it get 429.
    concurrency_limit: int | None = None
    # Share of requests handled in full whose reply is then lost (connection closed before the body).
    rate_drop_after: float = 0.0
    # The next `drop_after_count` requests whose path template (as in stats) equals `drop_after_path`
    # are handled and their replies lost: a targeted, deterministic rate_drop_after.
    drop_after_path: str = ""
    drop_after_count: int = 0
    # NetSuite: transactions created less than this long ago are not yet visible to SuiteQL.
    suiteql_lag_ms: float = 0.0

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown governance setting {key!r}; known: {sorted(asdict(self))}")
            current = getattr(self, key)
            if value is None:
                setattr(self, key, None)
            elif isinstance(current, str):
                setattr(self, key, str(value))
            elif isinstance(current, bool) or key == "concurrency_limit":
                setattr(self, key, int(value))
            elif isinstance(current, int) and not isinstance(current, bool):
                setattr(self, key, int(value))
            else:
                setattr(self, key, float(value))
            if key.startswith("rate_") and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{key} must be between 0 and 1, got {value}")


@dataclass
class GovernanceState:
    """Live counters and settings of one stand-in; reset by ``/__sandbox/reset``."""

    faults: FaultSettings = field(default_factory=FaultSettings)
    counts: Counter = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0
    rejected_over_limit: int = 0
    injected: Counter = field(default_factory=Counter)
    #: (method, path template) -> [first arrival, last reply] as Unix times: how long a kind of request
    #: kept the stand-in busy from the first to the last (e.g. a load's wall time as NetSuite saw it).
    spans: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, values: dict[str, Any]) -> None:
        self.faults.update(values)
        if "seed" in values:
            self.rng = random.Random(self.faults.seed)

    def reset_stats(self) -> None:
        self.counts.clear()
        self.injected.clear()
        self.spans.clear()
        self.peak_in_flight = self.in_flight
        self.rejected_over_limit = 0
        self.rng = random.Random(self.faults.seed)

    def reset(self, default_limit: int | None) -> None:
        self.faults = FaultSettings(concurrency_limit=default_limit)
        self.reset_stats()

    def stats(self) -> dict[str, Any]:
        rows = [
            {"method": m, "path": p, "status": s, "count": c}
            for (m, p, s), c in sorted(self.counts.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))
        ]
        return {
            "total": sum(self.counts.values()),
            "requests": rows,
            "peak_concurrency": self.peak_in_flight,
            "rejected_over_limit": self.rejected_over_limit,
            "injected_faults": dict(self.injected),
            "spans": [
                {"method": m, "path": p, "first_at": first, "last_at": last, "seconds": round(last - first, 3)}
                for (m, p), (first, last) in sorted(self.spans.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            ],
            "governance": asdict(self.faults),
        }


ErrorBody = Callable[[int, str], tuple[dict[str, str], bytes]]
"""(status, reason) -> (headers, body) in the vendor's error format."""


class GovernanceMiddleware:
    """ASGI middleware applying :class:`GovernanceState` to every vendor request."""

    def __init__(
        self,
        app: Any,
        *,
        state: GovernanceState,
        path_template: Callable[[str], str],
        error_body: ErrorBody,
    ) -> None:
        self.app = app
        self.state = state
        self.path_template = path_template
        self.error_body = error_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        faults = state.faults
        template = self.path_template(scope["path"])
        method = scope["method"]
        status_box: dict[str, int] = {}

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        limit = faults.concurrency_limit
        if limit is not None and state.in_flight >= limit:
            state.rejected_over_limit += 1
            await self._reply_error(send, 429, "concurrency", status_box)
            state.counts[(method, template, 429)] += 1
            return
        state.in_flight += 1
        state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        span = state.spans.setdefault((method, template), [time.time(), 0.0])
        loop = asyncio.get_running_loop()
        try:
            draw = state.rng.random()
            delay = faults.latency_ms
            if draw < faults.rate_slow:
                delay += faults.slow_ms
                state.injected["slow"] += 1
            answer_at = loop.time() + delay / 1000.0
            fault = self._pick_fault(state.rng.random())
            if faults.drop_after_count > 0 and template == faults.drop_after_path:
                faults.drop_after_count -= 1
                fault = "drop_after"
            if fault == "drop_after":
                # Handle the request in full (the vendor does the work), then lose the reply.
                async def discard(message: dict) -> None:
                    return None

                await self.app(scope, receive, discard)
                await _sleep_until(loop, answer_at)
                state.injected["drop_after"] += 1
                await _send_head_and_drop(send)
                return  # counted below with status 0: the client never gets the reply
            if fault is None:
                # Handle now and hold the reply until the response time has passed: the stand-in's own
                # work (SQLite, the Contract Renewals module) is part of the response time, as NetSuite's
                # would be, instead of being added on top of it.
                async def timed_send(message: dict) -> None:
                    if message["type"] == "http.response.start":
                        await _sleep_until(loop, answer_at)
                    await counting_send(message)

                await self.app(scope, receive, timed_send)
                return
            await _sleep_until(loop, answer_at)
            if fault == "drop":
                state.injected["drop"] += 1
                await _send_head_and_drop(send)
                return  # counted below with status 0: the client never gets a reply
            if fault == "not_json":
                state.injected["not_json"] += 1
                await self._reply_html(send, status_box)
            else:
                state.injected[str(fault)] += 1
                await self._reply_error(send, fault, "injected", status_box)
        finally:
            state.in_flight -= 1
            state.counts[(method, template, status_box.get("status", 0))] += 1
            span[1] = time.time()

    def _pick_fault(self, draw: float) -> int | str | None:
        f = self.state.faults
        edge = 0.0
        for outcome, rate in ((429, f.rate_429), (500, f.rate_500), (503, f.rate_503), ("drop", f.rate_drop),
                              ("not_json", f.rate_not_json), ("drop_after", f.rate_drop_after)):
            edge += rate
            if draw < edge:
                return outcome
        return None

    async def _reply_html(self, send: Callable, status_box: dict) -> None:
        body = b"<html><head><title>Maintenance</title></head><body><h1>Down for maintenance</h1></body></html>"
        status_box["status"] = 200
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _reply_error(self, send: Callable, status: int, reason: str, status_box: dict) -> None:
        headers, body = self.error_body(status, reason)
        status_box["status"] = status
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


async def _send_head_and_drop(send: Callable) -> None:
    """Send a response head promising a body, and no body: uvicorn then closes the connection mid-response."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    remaining = deadline - loop.time()
    if remaining > 0:
        await asyncio.sleep(remaining)


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode()
