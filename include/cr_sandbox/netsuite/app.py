"""The NetSuite stand-in's ASGI app: vendor paths (SuiteQL, records, OAuth 2.0) and ``/__sandbox/`` controls."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cr_sandbox.config import SandboxConfig
from cr_sandbox.governance import GovernanceMiddleware, GovernanceState
from cr_sandbox.netsuite import contract_scripts, seed, suiteql
from cr_sandbox.netsuite import preferences as lifecycle_preferences
from cr_sandbox.netsuite.auth import Authenticator, TokenError, ensure_m2m_keys
from cr_sandbox.netsuite.db import Store
from cr_sandbox.netsuite.errors import NetSuiteError, error_body, governance_error_body
from cr_sandbox.netsuite.record_types import record_type
from cr_sandbox.netsuite.records import RecordService

log = logging.getLogger(__name__)

RECORD_PREFIX = "/services/rest/record/v1"
ERROR_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=error"
_TRANSFORM_PATH = re.compile(r"^(/services/rest/record/v1/[^/]+)/[^/]+/!transform/([^/]+)$")
_RECORD_PATH = re.compile(r"^(/services/rest/record/v1/[^/]+)/[^/]+(/[^/]+)?$")


def path_template(path: str) -> str:
    """Group request paths for stats: record ids become ``{id}``, record types stay literal."""
    if match := _TRANSFORM_PATH.match(path):
        return f"{match.group(1)}/{{id}}/!transform/{match.group(2)}"
    if match := _RECORD_PATH.match(path):
        return f"{match.group(1)}/{{id}}{match.group(2) or ''}"
    return path


def default_concurrency_limit() -> int | None:
    raw = os.environ.get("SANDBOX_NS_CONCURRENCY", "5")
    return None if raw.lower() in ("", "none", "0", "unlimited") else int(raw)


def _error(exc: NetSuiteError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, media_type=ERROR_MEDIA_TYPE)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def _json_body(request: Request) -> Any:
    return _parse_json(await request.body())


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise NetSuiteError(400, "INVALID_CONTENT", f"The request body is not valid JSON: {exc.msg}.") from exc


#: NetSuite UI pages ("Open in NetSuite" links, crsync_provider.links) -> the REST record types they show.
UI_PAGES: dict[str, tuple[str, ...]] = {
    "accounting/transactions/transaction.nl": ("salesOrder", "estimate", "opportunity", "returnAuthorization"),
    "common/entity/custjob.nl": ("customer",),
    "common/item/item.nl": ("noninventoryitem", "inventoryItem", "serviceSaleItem"),
}


def _ui_html(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>NetSuite sandbox stand-in: a read-only view of the record "
        f"(the real NetSuite shows its record page here).</p>{body}</body></html>"
    )
    return HTMLResponse(page, status_code=status_code)


def create_app(config: SandboxConfig) -> GovernanceMiddleware:
    """Build the stand-in with its state in ``<state_dir>/netsuite.sqlite3``."""
    store = Store(config.state_dir / "netsuite.sqlite3")
    if store.fresh:
        seed.seed(store)
    suiteql.register_functions(store.conn, store)
    auth = Authenticator(config.netsuite, store, ensure_m2m_keys(config.state_dir))
    records = RecordService(store)
    governance = GovernanceState()
    governance.reset(default_concurrency_limit())

    def vendor(
        handler: Callable[[Request], Awaitable[Response]], *, authenticated: bool = True, on_thread: bool = False
    ):
        """Wrap a vendor endpoint: authentication first, NetSuite's error bodies for every failure.

        :param on_thread: the handler authenticates itself, through :func:`on_worker` (record requests).
        """

        async def endpoint(request: Request) -> Response:
            try:
                if authenticated and not on_thread:
                    auth.check(request.method, str(request.url), dict(request.headers))
                return await handler(request)
            except NetSuiteError as exc:
                return _error(exc)
            except Exception:  # noqa: BLE001 - any bug becomes NetSuite's 500 body, logged
                log.exception("unexpected error in %s %s", request.method, request.url.path)
                return JSONResponse(
                    error_body(500, "UNEXPECTED_ERROR", "An unexpected error occurred."),
                    status_code=500, media_type=ERROR_MEDIA_TYPE,
                )

        return endpoint

    # -- vendor endpoints -------------------------------------------------------------------------
    async def suiteql_query(request: Request) -> Response:
        if "transient" not in request.headers.get("prefer", "").lower():
            raise NetSuiteError(
                400, "INVALID_HEADER",
                "Invalid 'Prefer' header value. A SuiteQL query request must include the header Prefer: transient.",
            )
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("q"), str):
            raise NetSuiteError(400, "INVALID_CONTENT", 'The request body must be {"q": "<SuiteQL query>"}.', "q")
        try:
            limit = int(request.query_params.get("limit", "1000"))
            offset = int(request.query_params.get("offset", "0"))
        except ValueError as exc:
            raise NetSuiteError(400, "INVALID_PARAMETER", "The 'limit' and 'offset' parameters must be integers.") from exc
        self_url = f"{_base_url(request)}{request.url.path}"
        page = await run_in_threadpool(suiteql.run, store, body["q"], limit, offset, self_url)
        return JSONResponse(page)

    def _replace(request: Request) -> set[str]:
        return {s for s in request.query_params.get("replace", "").split(",") if s}

    def _new_record(type_name: str, record_id: int) -> None:
        """A new transaction stays out of SuiteQL for governance ``suiteql_lag_ms`` (a lagging index)."""
        lag_ms = governance.faults.suiteql_lag_ms
        if lag_ms > 0 and record_type(type_name).table == "transaction":
            store.hide_from_suiteql(record_id, lag_ms / 1000.0)

    def _created(request: Request, type_name: str, record_id: int) -> Response:
        location = f"{_base_url(request)}{RECORD_PREFIX}/{type_name}/{record_id}"
        return Response(status_code=204, headers={"Location": location})

    async def on_worker(request: Request, work: Callable[[Any], Any]) -> Any:
        """Authenticate, parse the JSON body and run ``work(body)``, all on one worker thread.

        The same checks in the same order as :func:`vendor` then the handler would make (401 before any
        400 about the body), but the event loop, which also carries TLS, HTTP and the response-time
        timers of both stand-ins, no longer verifies the OAuth 1.0 signature (the largest CPU cost of
        a sales-order upsert after TLS) nor decodes the body; those run beside it on the worker thread
        the record work needed anyway, one hand-off per request as before.
        """
        method, url, headers = request.method, str(request.url), dict(request.headers)
        raw = await request.body()

        def run() -> Any:
            auth.check(method, url, headers)
            return work(_parse_json(raw))

        return await run_in_threadpool(run)

    async def record_collection(request: Request) -> Response:
        type_name = request.path_params["rtype"]
        if request.method != "POST":
            auth.check(request.method, str(request.url), dict(request.headers))
            raise NetSuiteError(405, "INVALID_REQUEST", "Use SuiteQL to list records; only POST is supported here.")
        record_id = await on_worker(request, lambda body: records.create(type_name, body))
        _new_record(type_name, record_id)
        return _created(request, type_name, record_id)

    async def record_instance(request: Request) -> Response:
        type_name, key = request.path_params["rtype"], request.path_params["rid"]
        if request.method == "GET":
            expand = request.query_params.get("expandSubResources", "false").lower() == "true"
            base_url = _base_url(request)
            data = await on_worker(request, lambda _body: records.get(type_name, key, base_url, expand))
            return JSONResponse(data)
        if request.method == "DELETE":
            await on_worker(request, lambda _body: records.delete(type_name, key))
            return Response(status_code=204)
        replace = _replace(request)
        if request.method == "PATCH":
            record_id = await on_worker(request, lambda body: records.update(type_name, key, body, replace))
            return _created(request, type_name, record_id)
        record_id, created = await on_worker(request, lambda body: records.upsert(type_name, key, body, replace))
        if created:
            _new_record(type_name, record_id)
        return _created(request, type_name, record_id)

    async def record_transform(request: Request) -> Response:
        params = request.path_params
        body = await _json_body(request)
        new_id = await run_in_threadpool(
            records.transform, params["rtype"], params["rid"], params["target"], body, _replace(request)
        )
        _new_record(params["target"], new_id)
        return _created(request, params["target"], new_id)

    async def token(request: Request) -> Response:
        form = dict(await request.form())
        token_url = f"{_base_url(request)}{request.url.path}"
        try:
            issued = await run_in_threadpool(auth.issue_token, form, token_url)
        except TokenError as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=exc.status)
        return JSONResponse(issued)

    # -- sandbox controls ---------------------------------------------------------------------------
    async def control_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        if not isinstance(body, dict):
            raise ValueError("control body must be a JSON object")
        return body

    def control(handler: Callable[[Request], Awaitable[Any]]):
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except (ValueError, TypeError, KeyError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        return endpoint

    async def health(request: Request) -> dict[str, Any]:
        return {"status": "ok", "system": "netsuite", "account": config.netsuite.account_id,
                "today": store.today().isoformat()}

    async def reset(request: Request) -> dict[str, Any]:
        body = await control_body(request)
        await run_in_threadpool(store.wipe)
        auth.seen_nonces.clear()
        governance.reset(default_concurrency_limit())
        result: dict[str, Any] = {"reset": True}
        if body.get("seed"):
            params = body["seed"] if isinstance(body["seed"], dict) else {}
            result["seeded"] = await run_in_threadpool(seed.seed, store, params)
        return result

    async def seed_control(request: Request) -> dict[str, Any]:
        body = await control_body(request)
        return await run_in_threadpool(seed.seed, store, body)

    async def clock(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = await control_body(request)
            with store.lock:
                if "today" in body:
                    store.set_today(dt.date.fromisoformat(body["today"]))
                elif "advance_days" in body:
                    store.set_meta("clock_offset_days", store.clock_offset_days + int(body["advance_days"]))
                elif body.get("reset"):
                    store.set_meta("clock_offset_days", 0)
                else:
                    raise ValueError('expected {"today": "YYYY-MM-DD"} or {"advance_days": n}')
        return {"today": store.today().isoformat(), "now": store.now_text(), "offset_days": store.clock_offset_days}

    async def run_scripts(request: Request) -> dict[str, Any]:
        scripts = (await control_body(request)).get("scripts")
        return await run_in_threadpool(contract_scripts.run, store, scripts)

    async def governance_control(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            governance.configure(await control_body(request))
        return governance.stats()["governance"]

    async def stats(request: Request) -> dict[str, Any]:
        return governance.stats()

    async def stats_reset(request: Request) -> dict[str, Any]:
        governance.reset_stats()
        return governance.stats()

    async def preferences(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = await control_body(request)
            with store.lock:
                store.set_preferences(lifecycle_preferences.take(store, body))
        return {**store.preferences(), **lifecycle_preferences.read(store)}

    async def ui_page(request: Request) -> Response:
        """A record page at NetSuite's UI path (``/app/...?id=N``), for the links tasks show."""
        page, key = request.path_params["page"], request.query_params.get("id", "")
        if page == "center/card.nl":
            return _ui_html("NetSuite sandbox", "<p>Home. Records: follow a task's Open in NetSuite link.</p>")
        for type_name in UI_PAGES.get(page, ()) if key.isdigit() else ():
            try:
                data = await run_in_threadpool(records.get, type_name, key, _base_url(request), True)
            except NetSuiteError:
                continue
            return _ui_html(f"{type_name} {key}", f"<pre>{html.escape(json.dumps(data, indent=2))}</pre>")
        return _ui_html("Not found", "<p>No such record in the sandbox.</p>", status_code=404)

    routes = [
        Route("/app/{page:path}", ui_page, methods=["GET"]),
        Route("/services/rest/query/v1/suiteql", vendor(suiteql_query), methods=["POST"]),
        Route("/services/rest/auth/oauth2/v1/token", vendor(token, authenticated=False), methods=["POST"]),
        Route(RECORD_PREFIX + "/{rtype}", vendor(record_collection, on_thread=True), methods=["GET", "POST"]),
        Route(RECORD_PREFIX + "/{rtype}/{rid}", vendor(record_instance, on_thread=True), methods=["GET", "PATCH", "PUT", "DELETE"]),
        Route(RECORD_PREFIX + "/{rtype}/{rid}/!transform/{target}", vendor(record_transform), methods=["POST"]),
        Route("/__sandbox/health", control(health), methods=["GET"]),
        Route("/__sandbox/reset", control(reset), methods=["POST"]),
        Route("/__sandbox/seed", control(seed_control), methods=["POST"]),
        Route("/__sandbox/clock", control(clock), methods=["GET", "POST"]),
        Route("/__sandbox/run-scripts", control(run_scripts), methods=["POST"]),
        Route("/__sandbox/governance", control(governance_control), methods=["GET", "POST"]),
        Route("/__sandbox/stats", control(stats), methods=["GET"]),
        Route("/__sandbox/stats/reset", control(stats_reset), methods=["POST"]),
        Route("/__sandbox/preferences", control(preferences), methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    return GovernanceMiddleware(
        app, state=governance, path_template=path_template, error_body=governance_error_body
    )
