"""Registers the sync health page with Airflow: a FastAPI app mounted by the API server under ``/crsync``
and an entry in the UI's navigation (Browse > Sync health) that shows it inside the Airflow UI."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from crsync_health.health_app import URL_PREFIX, create_app


class CrsyncHealthPlugin(AirflowPlugin):
    """Sync health: per-flow status, open errors with Retry and Resolve, the latest reconciliation."""

    name = "crsync_health"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Contract renewal sync health"}]
    external_views = [
        {
            "name": "Sync health",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "crsync-health",
        }
    ]
