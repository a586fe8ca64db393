"""The sync health page's FastAPI app (mounted by the API server under :data:`URL_PREFIX`).

Airflow does not authenticate a plugin's app (a mounted app inherits none of the core API's
dependencies), so every route here depends on Airflow's own user resolution (``GetUserDep``: the UI's
session cookie or a bearer token, checked by the configured auth manager), and asks the auth manager
what the user may do: a flow is listed to users who may read its DAG, Retry needs the right to trigger
it (create a DAG run), Resolve the right to edit its runs. A browser that is not logged in is sent to
Airflow's login page. Actions are JSON POSTs (a cross-site form cannot send them); every value from
Salesforce or NetSuite is escaped by the template engine (autoescape on).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from crsync_health.health_plugin import URL_PREFIX

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")


class RowsRequest(BaseModel):
    """The rows an action is for: one flow's record keys."""

    dag_id: str
    keys: list[str] = Field(min_length=1, max_length=2000)
    #: Resolve: per key, the last try the page showed (ISO time); a later failure stays listed.
    tried: dict[str, str] = Field(default_factory=dict, max_length=2000)


def _templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


def _authorized(user: Any, dag_id: str, method: str, *, runs: bool = False) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return get_auth_manager().is_authorized_dag(
        method=method,  # type: ignore[arg-type]
        access_entity=DagAccessEntity.RUN if runs else None,
        details=DagDetails(id=dag_id),
        user=user,
    )


def _user_dependency() -> Any:
    from airflow.api_fastapi.core_api.security import get_user

    return Depends(get_user)


def create_app() -> FastAPI:
    """The app: ``GET /`` (the page), ``POST /retry``, ``POST /resolve``."""
    app = FastAPI(title="Contract renewal sync health", docs_url=None, redoc_url=None, openapi_url=None)
    user_dep = _user_dependency()

    @app.exception_handler(HTTPException)
    async def login_first(request: Request, exc: HTTPException) -> Any:
        """A browser without a valid session gets Airflow's login page, then comes back here."""
        if request.method == "GET" and exc.status_code in (401, 403) and exc.detail != "forbidden":
            from airflow.api_fastapi.app import get_auth_manager

            page = f"{URL_PREFIX}/" + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(get_auth_manager().get_url_login(next_url=page), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user: Any = user_dep, flow: str = "", code: str = "") -> HTMLResponse:
        from crsync.runtime import health_log
        from crsync_health import health_data
        from crsync_health.health_links import record_links

        readable = {d for d in health_data.FLOWS if _authorized(user, d, "GET")}
        if not readable:
            raise HTTPException(403, "forbidden")
        statuses = [s for s in health_data.flow_statuses() if s["flow"].dag_id in readable]
        all_rows = [
            r for r in health_data.open_errors(record_links(), flow=flow) if r.flow.dag_id in readable
        ]
        rows = [r for r in all_rows if not code or r.error.code == code]
        html = (
            _templates()
            .get_template("health.html")
            .render(
                user=user.get_name(),
                statuses=statuses,
                rows=rows,
                problems=health_data.record_problems(sorted(readable)),
                codes=sorted({r.error.code for r in all_rows}),
                flows=[health_data.FLOWS[d] for d in health_data.FLOWS if d in readable],
                selected_flow=flow,
                selected_code=code,
                can_retry={d: _authorized(user, d, "POST", runs=True) for d in readable},
                can_resolve={d: _authorized(user, d, "PUT", runs=True) for d in readable},
                # The drift report lists records of every flow: shown to those who may read its DAG.
                reconciliation=(
                    health_data.latest_reconciliation()
                    if _authorized(user, health_log.RECONCILIATION_DAG_ID, "GET")
                    else None
                ),
                quote=quote,
            )
        )
        return HTMLResponse(html)

    @app.post("/retry")
    def retry(body: RowsRequest, user: Any = user_dep) -> JSONResponse:
        from crsync_health import health_actions

        if not _authorized(user, body.dag_id, "POST", runs=True):
            raise HTTPException(403, f"You may not trigger {body.dag_id}, so you may not retry its records")
        try:
            started = health_actions.retry(body.dag_id, body.keys, user_name=user.get_name())
        except health_actions.ActionError as exc:
            raise HTTPException(400, str(exc)) from exc
        started["url"] = f"/dags/{quote(started['dag_id'])}/runs/{quote(started['run_id'], safe='')}"
        return JSONResponse(started, status_code=201)

    @app.post("/resolve")
    def resolve(body: RowsRequest, user: Any = user_dep) -> JSONResponse:
        from crsync_health import health_actions

        if not _authorized(user, body.dag_id, "PUT", runs=True):
            raise HTTPException(
                403, f"You may not edit runs of {body.dag_id}, so you may not resolve its rows"
            )
        try:
            return JSONResponse(
                health_actions.resolve(body.dag_id, body.keys, user_name=user.get_name(), tried=body.tried)
            )
        except health_actions.ActionError as exc:
            raise HTTPException(400, str(exc)) from exc

    return app
