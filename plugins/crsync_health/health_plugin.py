"""Registers the sync health page with Airflow: a FastAPI app mounted by the API server under ``/crsync``
and an entry in the UI's navigation (Browse > Sync health) that shows it inside the Airflow UI."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

#: Where the API server mounts the page (``health_app`` links and redirects under it).
URL_PREFIX = "/crsync"


class HealthPageApp:
    """The page's ASGI app, built on its first request.

    Airflow loads every plugin in every task process too (for macros and listeners), and building the
    FastAPI app imports FastAPI and the API server's security module: about 1.5 s of CPU that each task
    would spend before its first line of work. Only the API server ever calls this.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._app is None:  # no await in between: one build per process
            from crsync_health.health_app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class CrsyncHealthPlugin(AirflowPlugin):
    """Sync health: per-flow status, open errors with Retry and Resolve, the latest reconciliation."""

    name = "crsync_health"
    fastapi_apps = [{"app": HealthPageApp(), "url_prefix": URL_PREFIX, "name": "Contract renewal sync health"}]
    external_views = [
        {
            "name": "Sync health",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "crsync-health",
        }
    ]
