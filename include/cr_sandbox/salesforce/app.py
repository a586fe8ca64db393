"""The Salesforce stand-in: REST routes (sObjects, SOQL, Collections, Bulk API 2.0, OAuth) and controls.

``create_app(config)`` returns the ASGI app served on ``SANDBOX_SF_PORT``. Vendor routes live under
``/services/data/v{version}/`` (59.0 and later), need the bearer session token, count against the
daily allowance and carry ``Sforce-Limit-Info``. Latency and faults come from
:class:`cr_sandbox.governance.GovernanceMiddleware`; controls live under ``/__sandbox/``.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from cr_sandbox.config import SandboxConfig
from cr_sandbox.governance import GovernanceMiddleware, GovernanceState, json_bytes
from cr_sandbox.salesforce import ids
from cr_sandbox.salesforce.auth import ApiAllowance, SalesforceGovernance, SessionAuth
from cr_sandbox.salesforce.bulk import BulkIngest
from cr_sandbox.salesforce.errors import ApiError, malformed_query, not_found
from cr_sandbox.salesforce.schema import ObjectDef, Schema, default_schema
from cr_sandbox.salesforce.seed import ensure_org_basics, seed
from cr_sandbox.salesforce.soql import Evaluator
from cr_sandbox.salesforce.store import Record, Store, format_datetime
from cr_sandbox.salesforce.writes import SaveResult, WriteOp, Writer

MIN_API_VERSION = 59.0
LISTED_VERSIONS = {
    "59.0": "Winter '24", "60.0": "Spring '24", "61.0": "Summer '24", "62.0": "Winter '25",
    "63.0": "Spring '25", "64.0": "Summer '25", "65.0": "Winter '26", "66.0": "Spring '26",
}
MAX_COLLECTION_RECORDS = 200
DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_CURSORS = 200
_VERSION = re.compile(r"^\d{2,3}\.\d$")
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)

Handler = Callable[[Request], Awaitable[Response]]


def path_template(path: str) -> str:
    """The stats key of a request path: versions, ids, locators and job ids replaced by placeholders."""
    path = path.rstrip("/") or "/"
    match = re.match(r"^/services/data/v\d+\.\d+(/.*)?$", path)
    if not match:
        return path
    prefix = "/services/data/vXX.X"
    rest = match.group(1).strip("/").split("/") if match.group(1) else []
    if not rest:
        return prefix
    head = rest[0]
    if head in ("query", "queryAll") and len(rest) > 1:
        rest = [head, "{locator}"]
    elif head == "sobjects" and len(rest) >= 3 and rest[2] != "describe":
        rest = [head, rest[1], "{id}"] if len(rest) == 3 else [head, rest[1], rest[2], "{value}"]
    elif head == "jobs" and len(rest) >= 3:
        rest = [*rest[:2], "{jobId}", *rest[3:]]
    return prefix + "/" + "/".join(rest)


class SalesforceStandIn:
    """State of one stand-in: schema, store, writer, bulk jobs, query cursors, auth and governance."""

    def __init__(self, config: SandboxConfig, schema: Schema | None = None) -> None:
        self.config = config
        self.schema = schema or default_schema()
        self.store = Store(config.state_dir / "salesforce.sqlite3", self.schema)
        self.writer = Writer(self.store, self.schema)
        self.bulk = BulkIngest(self.writer, self.schema)
        self.governance = GovernanceState()
        self.allowance = ApiAllowance()
        self.auth = SessionAuth(config.salesforce, config.salesforce_url)
        self.cursors: OrderedDict[str, tuple[list[dict[str, Any]], int, int]] = OrderedDict()
        self._cursor_lock = threading.Lock()
        self._cursor_sequence = 0
        ensure_org_basics(self.store, self.writer)

    # ------------------------------------------------------------------ helpers

    def reset(self) -> None:
        self.store.reset()
        self.governance.reset(default_limit=None)
        self.allowance.reset(self.governance.faults.seed)
        self.bulk.reset()
        with self._cursor_lock:
            self.cursors.clear()
        ensure_org_basics(self.store, self.writer)

    def on_locked(self) -> None:
        self.governance.injected["UNABLE_TO_LOCK_ROW"] += 1

    def execute(self, ops: list[WriteOp], all_or_none: bool = False, faults: bool = True) -> list[SaveResult]:
        rate = self.allowance.settings.rate_unable_to_lock_row if faults else 0.0
        return self.writer.execute(ops, all_or_none=all_or_none, lock_row_rate=rate, rng=self.allowance.rng,
                                   on_locked=self.on_locked)

    def new_cursor(self, records: list[dict[str, Any]], total: int, batch: int) -> str:
        with self._cursor_lock:
            self._cursor_sequence += 1
            locator = ids.make_id(ids.QUERY_LOCATOR_PREFIX, self._cursor_sequence)
            self.cursors[locator] = (records, total, batch)
            while len(self.cursors) > MAX_CURSORS:
                self.cursors.popitem(last=False)
            return locator

    def shape_record(self, obj: ObjectDef, record: Record, version: str, fields: list[str] | None = None
                     ) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": obj.name,
                                              "url": f"/services/data/v{version}/sobjects/{obj.name}/{record['Id']}"}}
        names = [obj.field(n) for n in fields] if fields else list(obj.fields.values())
        for f in names:
            if f is None:
                continue
            out[f.name] = record.get(f.name, f.default_value if f.type == "boolean" else None)
        return out

    def sf_error_body(self, status: int, reason: str) -> tuple[dict[str, str], bytes]:
        code = {429: "REQUEST_LIMIT_EXCEEDED", 503: "SERVER_UNAVAILABLE"}.get(status, "UNKNOWN_EXCEPTION")
        message = {
            429: "ConcurrentPerOrgLongTxn Limit exceeded.",
            503: "Server temporarily unavailable. Please try again later.",
        }.get(status, "An unexpected error occurred. Please include this ErrorId if you contact support: "
                      f"1924766470-{reason} (-1)")
        headers = {"content-type": "application/json;charset=UTF-8", "sforce-limit-info": self.allowance.header()}
        return headers, json_bytes([{"message": message, "errorCode": code}])


def _error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]"
                       ) from None


def create_app(config: SandboxConfig) -> GovernanceMiddleware:
    """The Salesforce stand-in for ``config`` (state in ``<state_dir>/salesforce.sqlite3``)."""
    sf = SalesforceStandIn(config)
    return build_asgi(sf)


def build_asgi(sf: SalesforceStandIn) -> GovernanceMiddleware:
    """Routes, the trailing-slash normaliser and governance around a :class:`SalesforceStandIn`."""

    def api(handler: Handler, *, authenticated: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                version = request.path_params.get("version")
                if version is not None and (not _VERSION.match(version) or float(version) < MIN_API_VERSION):
                    raise not_found()
                if authenticated:
                    sf.auth.check(request.headers.get("authorization"))
                    sf.allowance.consume(sf.store.today())
                response = await handler(request)
            except ApiError as exc:
                response = _error_response(exc)
            response.headers["Sforce-Limit-Info"] = sf.allowance.header()
            return response

        return endpoint

    # ---------------------------------------------------------------- discovery

    async def versions(request: Request) -> Response:
        return JSONResponse([{"label": label, "url": f"/services/data/v{v}", "version": v}
                             for v, label in LISTED_VERSIONS.items()])

    async def resources(request: Request) -> Response:
        base = f"/services/data/v{request.path_params['version']}"
        return JSONResponse({name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits",
                                                                 "composite", "jobs")})

    async def limits(request: Request) -> Response:
        used, limit = sf.allowance.settings.api_usage, sf.allowance.settings.daily_api_limit
        return JSONResponse({
            "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 1048576, "Remaining": 1048576},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
        })

    async def describe_global(request: Request) -> Response:
        version = request.path_params["version"]
        return JSONResponse({"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION_RECORDS,
                             "sobjects": [o.describe_global(version) for o in sf.schema.objects.values()]})

    async def sobject_info(request: Request) -> Response:
        obj = sf.schema.require(request.path_params["sobject"])
        return JSONResponse({"objectDescribe": obj.describe_global(request.path_params["version"]),
                             "recentItems": []})

    async def describe(request: Request) -> Response:
        obj = sf.schema.require(request.path_params["sobject"])
        return JSONResponse(obj.describe(request.path_params["version"]))

    # ---------------------------------------------------------------- SOQL

    def batch_size(request: Request) -> int:
        match = _BATCH_SIZE.search(request.headers.get("sforce-query-options", ""))
        if not match:
            return DEFAULT_BATCH_SIZE
        return min(max(int(match.group(1)), MIN_BATCH_SIZE), DEFAULT_BATCH_SIZE)

    def page(records: list[dict[str, Any]], total: int, offset: int, batch: int, version: str,
             locator: str | None) -> dict[str, Any]:
        end = offset + batch
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(records)}
        if end < len(records):
            locator = locator or sf.new_cursor(records, total, batch)
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        body["records"] = records[offset:end]
        return body

    def make_query(include_deleted: bool) -> Handler:
        async def query(request: Request) -> Response:
            text = request.query_params.get("q")
            if text is None:
                raise malformed_query("The query parameter 'q' is required")
            version = request.path_params["version"]
            total, records = Evaluator(sf.store, sf.schema, version).run(text, include_deleted)
            return JSONResponse(page(records, total, 0, batch_size(request), version, None))

        return query

    async def query_more(request: Request) -> Response:
        locator, _, offset_text = request.path_params["locator"].partition("-")
        cursor = sf.cursors.get(locator)
        if cursor is None or not offset_text.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, total, batch = cursor
        return JSONResponse(page(records, total, int(offset_text), batch, request.path_params["version"], locator))

    # ---------------------------------------------------------------- sObject rows

    def external_field(obj: ObjectDef, name: str) -> str:
        f = obj.field(name)
        if f is None or not (f.external_id or f.name == "Id"):
            raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
        return f.name

    def record_or_404(obj: ObjectDef, raw_id: str) -> Record:
        record_id = ids.normalize(raw_id)
        if record_id is None:
            raise not_found(f"Provided external ID field does not exist or is not accessible: {raw_id}")
        record = sf.store.get(obj.name, record_id)
        if record is None:
            raise not_found()
        return record

    def single_result(result: SaveResult) -> None:
        if not result.success:
            error = result.errors[0]
            if error.status_code in ("INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED") and error.fields == ["Id"]:
                raise not_found()
            if error.status_code == "ENTITY_IS_DELETED":
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
            raise ApiError(400, error.status_code, error.message, error.fields)

    async def create(request: Request) -> Response:
        obj = sf.schema.require(request.path_params["sobject"])
        body = await _json_body(request)
        result = sf.execute([WriteOp("create", obj.name, _plain(body))], faults=False)[0]
        single_result(result)
        return JSONResponse({"id": result.id, "success": True, "errors": []}, status_code=201)

    def fields_param(request: Request) -> list[str] | None:
        raw = request.query_params.get("fields")
        return [f.strip() for f in raw.split(",") if f.strip()] if raw else None

    async def row(request: Request) -> Response:
        obj = sf.schema.require(request.path_params["sobject"])
        raw_id = request.path_params["record_id"]
        if request.method == "GET":
            record = record_or_404(obj, raw_id)
            return JSONResponse(sf.shape_record(obj, record, request.path_params["version"], fields_param(request)))
        record = record_or_404(obj, raw_id)
        if request.method == "DELETE":
            single_result(sf.execute([WriteOp("delete", obj.name, {}, record["Id"])], faults=False)[0])
            return Response(status_code=204)
        body = _plain(await _json_body(request))
        single_result(sf.execute([WriteOp("update", obj.name, body, record["Id"])], faults=False)[0])
        return Response(status_code=204)

    async def by_external_id(request: Request) -> Response:
        obj = sf.schema.require(request.path_params["sobject"])
        version = request.path_params["version"]
        field_name = external_field(obj, request.path_params["field"])
        value = request.path_params["value"]
        if field_name == "Id":
            matches = {record_or_404(obj, value)["Id"]} if request.method != "PATCH" or value else set()
        else:
            matches = sf.store.ids_by_value(obj.name, field_name, value)
        if len(matches) > 1:
            return JSONResponse([f"/services/data/v{version}/sobjects/{obj.name}/{i}" for i in sorted(matches)],
                                status_code=300)
        if request.method == "GET":
            if not matches:
                raise not_found()
            record = sf.store.get(obj.name, next(iter(matches)))
            assert record is not None
            return JSONResponse(sf.shape_record(obj, record, version, fields_param(request)))
        if request.method == "DELETE":
            if not matches:
                raise not_found()
            single_result(sf.execute([WriteOp("delete", obj.name, {}, next(iter(matches)))], faults=False)[0])
            return Response(status_code=204)
        body = _plain(await _json_body(request))
        body = {k: v for k, v in body.items() if k.lower() != field_name.lower()}
        if field_name == "Id":
            op = WriteOp("update", obj.name, body, value) if matches else WriteOp("create", obj.name, body)
        else:
            body[field_name] = value
            op = WriteOp("upsert", obj.name, body, external_id_field=field_name)
        result = sf.execute([op], faults=False)[0]
        single_result(result)
        created = result.created if op.kind == "upsert" else op.kind == "create"
        return JSONResponse({"id": result.id, "success": True, "errors": [], "created": bool(created)},
                            status_code=201 if created else 200)

    # ---------------------------------------------------------------- sObject Collections

    def collection_body(body: Any) -> tuple[list[dict[str, Any]], bool]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be {\"allOrNone\": ..., \"records\": [...]}")
        records = body["records"]
        if len(records) > MAX_COLLECTION_RECORDS:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into "
                           "this call", [])
        return records, bool(body.get("allOrNone", False))

    async def collections(request: Request) -> Response:
        if request.method == "DELETE":
            raw_ids = [i for i in (request.query_params.get("ids") or "").split(",") if i]
            if len(raw_ids) > MAX_COLLECTION_RECORDS:
                raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records "
                               "into this call", [])
            all_or_none = (request.query_params.get("allOrNone") or "false").lower() == "true"
            results = sf.execute([WriteOp("delete", None, {}, i) for i in raw_ids], all_or_none)
            return JSONResponse([r.as_dict() for r in results])
        records, all_or_none = collection_body(await _json_body(request))
        kind = "create" if request.method == "POST" else "update"
        ops = [WriteOp(kind, None, r if isinstance(r, dict) else {}, None) for r in records]
        for op in ops:
            if kind == "update":
                op.object_name = (op.payload.get("attributes") or {}).get("type")
                raw = op.payload.get("id") or op.payload.get("Id")
                op.record_id = str(raw) if raw else None
        return JSONResponse([r.as_dict() for r in sf.execute(ops, all_or_none)])

    async def collections_retrieve(request: Request) -> Response:
        obj = sf.schema.require(request.path_params["sobject"])
        raw_ids = [i for i in (request.query_params.get("ids") or "").split(",") if i]
        fields = fields_param(request)
        if not fields:
            raise ApiError(400, "MISSING_ARGUMENT", "fields is required")
        out = []
        for raw in raw_ids:
            record_id = ids.normalize(raw)
            record = sf.store.get(obj.name, record_id) if record_id else None
            out.append(sf.shape_record(obj, record, request.path_params["version"], fields) if record else None)
        return JSONResponse(out)

    async def collections_upsert(request: Request) -> Response:
        obj = sf.schema.require(request.path_params["sobject"])
        field_name = external_field(obj, request.path_params["field"])
        records, all_or_none = collection_body(await _json_body(request))
        ops = [WriteOp("upsert", obj.name, r if isinstance(r, dict) else {}, external_id_field=field_name)
               for r in records]
        for op in ops:
            declared = (op.payload.get("attributes") or {}).get("type")
            if declared and declared.lower() != obj.name.lower():
                op.object_name = "__mismatch__"
                op.payload = {**op.payload, "attributes": {"type": "__mismatch__"}}
        results = sf.execute(ops, all_or_none)
        return JSONResponse([r.as_dict(with_created=True) for r in results])

    # ---------------------------------------------------------------- Bulk API 2.0 ingest

    user_id = sf.writer.sandbox_user_id

    async def jobs(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"done": True, "records": [j.info(user_id()) for j in sf.bulk.jobs.values()],
                                 "nextRecordsUrl": None})
        body = await _json_body(request)
        job = sf.bulk.create(body if isinstance(body, dict) else {}, request.path_params["version"])
        return JSONResponse(job.info(user_id()))

    async def job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "GET":
            return JSONResponse(sf.bulk.get(job_id).info(user_id()))
        if request.method == "DELETE":
            sf.bulk.delete(job_id)
            return Response(status_code=204)
        body = await _json_body(request)
        state = body.get("state") if isinstance(body, dict) else None
        ingest_job = sf.bulk.set_state(job_id, str(state))
        reply = ingest_job.info(user_id())
        if ingest_job.state == "UploadComplete":
            await asyncio.to_thread(sf.bulk.process, ingest_job, lock_row_rate=sf.allowance.settings
                                    .rate_unable_to_lock_row, rng=sf.allowance.rng, on_locked=sf.on_locked)
        return JSONResponse(reply)

    async def job_batches(request: Request) -> Response:
        sf.bulk.upload(request.path_params["job_id"], await request.body())
        return Response(status_code=201)

    async def job_results(request: Request) -> Response:
        text = sf.bulk.results_csv(request.path_params["job_id"], request.path_params["kind"])
        return PlainTextResponse(text, media_type="text/csv")

    # ---------------------------------------------------------------- OAuth

    async def oauth_token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        form.update({k: v for k, v in request.query_params.items() if k not in form})
        status, body = sf.auth.token(form)
        return JSONResponse(body, status_code=status)

    async def unknown(request: Request) -> Response:
        raise not_found()

    # ---------------------------------------------------------------- controls

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "records": {n: sf.store.count(n) for n in sf.schema.objects}})

    async def reset(request: Request) -> Response:
        await asyncio.to_thread(sf.reset)
        return JSONResponse({"status": "reset"})

    async def seed_control(request: Request) -> Response:
        params = await _json_body(request)
        try:
            summary = await asyncio.to_thread(seed, sf.store, sf.writer, sf.schema, params or {})
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(summary)

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_body(request)
            try:
                if "today" in body:
                    target = date.fromisoformat(str(body["today"]))
                    real_today = (sf.store.now() - sf.store.clock_offset).date()
                    sf.store.set_clock_offset(timedelta(days=(target - real_today).days))
                elif "advance_days" in body:
                    sf.store.set_clock_offset(sf.store.clock_offset + timedelta(days=float(body["advance_days"])))
                elif body.get("reset"):
                    sf.store.set_clock_offset(timedelta(0))
                else:
                    raise ValueError("expected {\"today\": \"YYYY-MM-DD\"} or {\"advance_days\": n}")
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        now = sf.store.now()
        return JSONResponse({"now": format_datetime(now), "today": now.date().isoformat(),
                             "offset_days": sf.store.clock_offset.total_seconds() / 86400})

    async def governance(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_body(request)
            if not isinstance(body, dict):
                return JSONResponse({"error": "expected a JSON object"}, status_code=400)
            sf_values = {k: v for k, v in body.items() if k in SalesforceGovernance.KEYS}
            shared = {k: v for k, v in body.items() if k not in SalesforceGovernance.KEYS}
            try:
                sf.governance.configure(shared)
                sf.allowance.settings.update(sf_values)
                if "seed" in shared:
                    sf.allowance.rng = random.Random(sf.governance.faults.seed)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({**asdict(sf.governance.faults), **sf.allowance.settings.as_dict()})

    async def stats(request: Request) -> Response:
        body = sf.governance.stats()
        body["salesforce"] = sf.allowance.settings.as_dict()
        return JSONResponse(body)

    v = "/services/data/v{version}"
    routes = [
        Route("/services/data", api(versions, authenticated=False), methods=["GET"]),
        Route(v, api(resources), methods=["GET"]),
        Route(f"{v}/limits", api(limits), methods=["GET"]),
        Route(f"{v}/sobjects", api(describe_global), methods=["GET"]),
        Route(f"{v}/sobjects/{{sobject}}", api(sobject_info), methods=["GET"]),
        Route(f"{v}/sobjects/{{sobject}}", api(create), methods=["POST"]),
        Route(f"{v}/sobjects/{{sobject}}/describe", api(describe), methods=["GET"]),
        Route(f"{v}/sobjects/{{sobject}}/{{record_id}}", api(row), methods=["GET", "PATCH", "DELETE"]),
        Route(f"{v}/sobjects/{{sobject}}/{{field}}/{{value}}", api(by_external_id),
              methods=["GET", "PATCH", "DELETE"]),
        Route(f"{v}/query", api(make_query(False)), methods=["GET"]),
        Route(f"{v}/queryAll", api(make_query(True)), methods=["GET"]),
        Route(f"{v}/query/{{locator}}", api(query_more), methods=["GET"]),
        Route(f"{v}/queryAll/{{locator}}", api(query_more), methods=["GET"]),
        Route(f"{v}/composite/sobjects", api(collections), methods=["POST", "PATCH", "DELETE"]),
        Route(f"{v}/composite/sobjects/{{sobject}}", api(collections_retrieve), methods=["GET"]),
        Route(f"{v}/composite/sobjects/{{sobject}}/{{field}}", api(collections_upsert), methods=["PATCH"]),
        Route(f"{v}/jobs/ingest", api(jobs), methods=["GET", "POST"]),
        Route(f"{v}/jobs/ingest/{{job_id}}", api(job), methods=["GET", "PATCH", "DELETE"]),
        Route(f"{v}/jobs/ingest/{{job_id}}/batches", api(job_batches), methods=["PUT"]),
        Route(f"{v}/jobs/ingest/{{job_id}}/{{kind}}", api(job_results), methods=["GET"]),
        Route("/services/oauth2/token", oauth_token, methods=["POST"]),
        Route("/services/{rest:path}", api(unknown, authenticated=False),
              methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
        Route("/__sandbox/health", health, methods=["GET"]),
        Route("/__sandbox/reset", reset, methods=["POST"]),
        Route("/__sandbox/seed", seed_control, methods=["POST"]),
        Route("/__sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/__sandbox/governance", governance, methods=["GET", "POST"]),
        Route("/__sandbox/stats", stats, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.standin = sf

    async def strip_trailing_slash(scope: dict, receive: Callable, send: Callable) -> None:
        # simple-salesforce calls ".../query/" and ".../sobjects/Account/"; Salesforce serves both spellings.
        if scope["type"] == "http" and len(scope["path"]) > 1 and scope["path"].endswith("/"):
            scope = {**scope, "path": scope["path"].rstrip("/")}
        await app(scope, receive, send)

    return GovernanceMiddleware(strip_trailing_slash, state=sf.governance, path_template=path_template,
                                error_body=sf.sf_error_body)


def _plain(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    return body
