"""What the sync health page reads (in the API server, from the metadata DB): each flow's last run and next
scheduled run from Airflow, its counts and open errors from :mod:`crsync.runtime.health_log`, whether it is
enabled from the integration settings, and the latest reconciliation's report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from dataclasses import dataclass
from typing import Any

from crsync.ids import OPPORTUNITY_ID_PREFIX, is_netsuite_internal_id, is_salesforce_id
from crsync.runtime import health_log
from crsync.settings import FlowId, SettingsError, load_settings

log = logging.getLogger(__name__)

#: Reconciliation report rows shown on the page (the CSV keeps them all).
RECONCILIATION_ROWS_SHOWN = 200


@dataclass(frozen=True)
class Flow:
    """A flow as the page shows it: where its records come from and how a Retry names them."""

    dag_id: str
    title: str
    system: str  # the system the failing record is in ("Salesforce" / "NetSuite")
    record_type: str  # its object (Salesforce) or REST record type (NetSuite)
    ids_param: str  # the manual-run param that names records

    def retry_conf(self, keys: list[str]) -> dict[str, Any]:
        """The manual-run params (``crsync.runtime.params``) of a run for exactly these records."""
        if self.ids_param == "opportunity_ids":
            return {"opportunity_ids": keys, "mode": "queued", "dry_run": False}
        return {"netsuite_ids": [int(k) for k in keys], "full_resync": False, "dry_run": False}

    def retryable(self, key: str) -> bool:
        """Whether a row's key is one of this flow's record ids (others can only be resolved)."""
        if self.ids_param == "opportunity_ids":
            return is_salesforce_id(key) and key.startswith(OPPORTUNITY_ID_PREFIX)
        return is_netsuite_internal_id(key)


FLOWS: dict[str, Flow] = {
    flow.dag_id: flow
    for flow in (
        Flow(FlowId.OPPORTUNITY_TO_SALES_ORDER.value, "Opportunity to sales order (hourly)", "Salesforce",
             "Opportunity", "opportunity_ids"),
        Flow(FlowId.CONTRACT_TO_CONTRACT.value, "Contract to Contract (nightly)", "NetSuite",
             "customrecord_contracts", "netsuite_ids"),
        Flow(FlowId.CONTRACT_ITEM_TO_CONTRACT_ITEM.value, "Contract item to Contract Item (nightly)", "NetSuite",
             "customrecord_contract_item", "netsuite_ids"),
        Flow(FlowId.RENEWAL_ESTIMATE_TO_OPPORTUNITY.value, "Renewal estimate to Opportunity (nightly)",
             "NetSuite", "estimate", "netsuite_ids"),
    )
}  # fmt: skip


@dataclass
class ErrorRow:
    """One open error on the page."""

    flow: Flow
    error: health_log.OpenError
    url: str
    retryable: bool


def read_variable(name: str) -> Any:
    from airflow.models.variable import Variable  # the ORM model: the API server has no Task SDK

    return Variable.get(name, default_var=None)


def resolved_marks(dag_id: str) -> dict[str, dict[str, str]]:
    """The page's Resolve marks for a flow: ``{key: {"by", "at"}}``."""
    import json

    raw = read_variable(health_log.resolved_variable(dag_id))
    try:
        marks = json.loads(raw) if raw else {}
    except ValueError:
        log.warning("Variable %s is not JSON; ignoring it", health_log.resolved_variable(dag_id))
        return {}
    return marks if isinstance(marks, dict) else {}


def flow_health(dag_id: str) -> health_log.FlowHealth:
    return health_log.parse_health(read_variable(health_log.errors_variable(dag_id)))


def is_resolved(error: health_log.OpenError, mark: dict[str, str] | None) -> bool:
    """A row stays hidden once resolved, until the record fails again after that."""
    if not mark or not mark.get("at"):
        return False
    return dt.datetime.fromisoformat(mark["at"]) >= error.last_tried


def open_errors(link_for: Any, *, flow: str = "", code: str = "") -> list[ErrorRow]:
    """Unresolved open errors of every flow (or one), optionally of one code, newest first."""
    rows: list[ErrorRow] = []
    for dag_id, info in FLOWS.items():
        if flow and dag_id != flow:
            continue
        marks = resolved_marks(dag_id)
        for error in flow_health(dag_id).errors:
            if (code and error.code != code) or is_resolved(error, marks.get(error.key)):
                continue
            url = link_for(info, error.key)
            rows.append(ErrorRow(flow=info, error=error, url=url, retryable=info.retryable(error.key)))
    rows.sort(key=lambda r: r.error.last_tried, reverse=True)
    return rows


def flow_statuses() -> list[dict[str, Any]]:
    """Per flow: enabled in the settings, paused, last run (state, window, counts), next scheduled run."""
    from airflow.models import DagModel, DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        settings = load_settings()
        enabled: dict[str, bool | None] = {d: getattr(settings.enabled_flows, d) for d in FLOWS}
        settings_error = ""
    except SettingsError as exc:
        enabled, settings_error = dict.fromkeys(FLOWS), str(exc)
    statuses = []
    with create_session() as session:
        for dag_id, info in FLOWS.items():
            model = session.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
            run = session.scalar(
                select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1)
            )
            health = flow_health(dag_id)
            counts = (
                health.last_run if health.last_run and run and health.last_run.run_id == run.run_id else None
            )
            statuses.append(
                {
                    "flow": info,
                    "enabled": enabled[dag_id],
                    "settings_error": settings_error,
                    "paused": model.is_paused if model else None,
                    "run": run,
                    "window": (counts.read_window if counts and counts.read_window else _scope(run, info)),
                    "counts": counts,
                    "next_run": model.next_dagrun_create_after if model and not model.is_paused else None,
                }
            )
    return statuses


def _scope(run: Any, flow: Flow) -> str:
    """What a run read when its summary names no window: the records it named, or its data interval."""
    if run is None:
        return ""
    named = (run.conf or {}).get(flow.ids_param) or []
    if named:
        return f"{len(named)} named record(s)"
    if run.data_interval_start and run.data_interval_end:
        return f"{run.data_interval_start:%Y-%m-%d %H:%M} to {run.data_interval_end:%Y-%m-%d %H:%M} UTC"
    return ""


def latest_reconciliation() -> dict[str, Any] | None:
    """The latest reconciliation's counts and its report's first rows (from ``drift.csv``)."""
    import json

    raw = read_variable(health_log.RECONCILIATION_VARIABLE)
    if not raw:
        return None
    try:
        latest = json.loads(raw)
        if not isinstance(latest, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        # A hand-edited Variable must not take the whole page down: say what is wrong with it instead.
        return {"counts": {}, "rows": [], "columns": [], "rows_error": (
            f"Variable {health_log.RECONCILIATION_VARIABLE} is not the reconciliation's record ({exc}); "
            "delete it, the next crsync_reconciliation run writes it again")}
    latest["rows"], latest["columns"], latest["rows_error"] = [], [], ""
    path = (latest.get("reports") or {}).get("csv")
    if path:
        if not is_reconciliation_report(str(path)):
            latest["rows_error"] = (
                f"report {path} is not a drift.csv under the reports folder, so it is not shown"
            )
            return latest
        try:
            latest["columns"], latest["rows"] = _read_rows(path)
        except (OSError, ValueError) as exc:
            latest["rows_error"] = f"report {path} not readable: {exc}"
    return latest


def is_reconciliation_report(path: str) -> bool:
    """Whether ``path`` is a reconciliation run's ``drift.csv`` under the reports folder.

    The path comes from a Variable, which anyone allowed to edit Variables can change: the page reads
    only ``<CRSYNC_REPORTS_PATH>/crsync_reconciliation/<run folder>/drift.csv``, never another file of
    the API server's (its passwords file, say).
    """
    from crsync.runtime.flows.reconciliation import DAG_ID, reports_base

    folder = str(reports_base() / DAG_ID).rstrip("/") + "/"
    if not path.startswith(folder) or not path.endswith("/drift.csv"):
        return False
    run_folder = path[len(folder) : -len("/drift.csv")]
    return bool(run_folder) and "/" not in run_folder and run_folder not in (".", "..")


def _read_rows(path: str) -> tuple[list[str], list[dict[str, str]]]:
    import os

    from airflow.sdk import ObjectStoragePath

    from crsync.runtime.flows.reconciliation import REPORTS_CONN_ENV

    with ObjectStoragePath(path, conn_id=os.environ.get(REPORTS_CONN_ENV) or None).open("rb") as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        reader = csv.DictReader(text)
        rows = [row for _, row in zip(range(RECONCILIATION_ROWS_SHOWN), reader, strict=False)]
        return list(reader.fieldnames or []), rows
