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

from pydantic import BaseModel
from pydantic import Field as PydanticField

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


def parse_marks(raw: Any) -> tuple[dict[str, dict[str, str]], str]:
    """Resolve marks from a Variable's text: ``({key: {"by", "at", "seen"}}, problem)``. Marks that are not
    readable (hand-edited) are left out and ``problem`` says so; they never take the page down."""
    import json

    if not raw:
        return {}, ""
    try:
        marks = json.loads(raw)
    except ValueError:
        return {}, "is not JSON"
    if not isinstance(marks, dict):
        return {}, "is not a JSON object"
    valid = {str(k): v for k, v in marks.items() if _resolved_as_of(v) is not None}
    bad = len(marks) - len(valid)
    return valid, (f"has {bad} unreadable mark(s), left out" if bad else "")


def resolved_marks(dag_id: str) -> dict[str, dict[str, str]]:
    """The page's Resolve marks for a flow (the readable ones): ``{key: {"by", "at", "seen"}}``."""
    return parse_marks(read_variable(health_log.resolved_variable(dag_id)))[0]


def read_flow_health(dag_id: str) -> tuple[health_log.FlowHealth, str]:
    """A flow's open errors and last run, and what is wrong with its Variable if it cannot be read."""
    name = health_log.errors_variable(dag_id)
    health, reason = health_log.read_health(read_variable(name))
    return health, (
        f"Variable {name} is not a sync health record ({reason}), so the open errors of {dag_id} cannot be "
        "shown; the flow's next run writes it again (or delete it)"
        if reason else ""
    )


def flow_health(dag_id: str) -> health_log.FlowHealth:
    return read_flow_health(dag_id)[0]


def record_problems(dag_ids: Any) -> list[str]:
    """What is wrong with the page's Variables of these flows (hand-edited, say), shown on the page."""
    problems = []
    for dag_id in dag_ids:
        problems += [p for p in [read_flow_health(dag_id)[1]] if p]
        name = health_log.resolved_variable(dag_id)
        _marks, problem = parse_marks(read_variable(name))
        if problem:
            problems.append(f"Variable {name} {problem}; Resolve writes it again")
    return problems


def _resolved_as_of(mark: Any) -> dt.datetime | None:
    """The last try a mark resolved: ``seen`` (the last try the page showed when Resolve was clicked),
    else ``at`` (marks written before ``seen`` existed); None for a mark that is not readable."""
    if not isinstance(mark, dict):
        return None
    value = mark.get("seen") or mark.get("at")
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def is_resolved(error: health_log.OpenError, mark: dict[str, str] | None) -> bool:
    """A row stays hidden once resolved, until the record fails again after the try the user resolved."""
    resolved_as_of = _resolved_as_of(mark)
    return resolved_as_of is not None and resolved_as_of >= error.last_tried


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
    from airflow.models import DagModel
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
            run = latest_run(session, dag_id)
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


class ReconciliationRecord(BaseModel):
    """What :func:`crsync.runtime.health_log.record_reconciliation` writes."""

    run_id: str = ""
    finished_at: str = ""
    total: int = 0
    counts: dict[str, int] = PydanticField(default_factory=dict)
    reports: dict[str, str] = PydanticField(default_factory=dict)


def latest_reconciliation() -> dict[str, Any] | None:
    """The latest reconciliation's counts and its report's first rows (from ``drift.csv``), and the
    reconciliation's newest run when that run is not the one the figures come from."""
    latest = _reconciliation_record(read_variable(health_log.RECONCILIATION_VARIABLE))
    newer = newer_reconciliation_run(_newest_run(health_log.RECONCILIATION_DAG_ID), latest)
    if latest is None:
        if newer is None:
            return None
        latest = {"run_id": "", "total": 0, "counts": {}, "reports": {}, "rows": [], "columns": [],
                  "rows_error": ""}  # fmt: skip
    latest["newer_run"] = newer
    if latest["rows_error"]:
        return latest
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


def _reconciliation_record(raw: Any) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        latest = ReconciliationRecord.model_validate_json(raw).model_dump()
    except ValueError as exc:
        # A hand-edited Variable must not take the whole page down: say what is wrong with it instead.
        return {"run_id": "", "counts": {}, "reports": {}, "rows": [], "columns": [], "rows_error": (
            f"Variable {health_log.RECONCILIATION_VARIABLE} is not the reconciliation's record "
            f"({str(exc).splitlines()[0]}); delete it, the next crsync_reconciliation run writes it again")}
    latest["rows"], latest["columns"], latest["rows_error"] = [], [], ""
    return latest


def newer_reconciliation_run(newest: dict[str, Any] | None, shown: dict[str, Any] | None) -> dict[str, Any] | None:
    """The reconciliation's newest run (``{"run_id", "state"}``) when its figures are not the ones shown:
    it failed, or it has not finished yet. A failed run never writes the record, so without this the page
    would go on showing an older, perhaps clean, reconciliation as the latest."""
    if newest is None:
        return None
    if shown is not None and shown["run_id"] == newest["run_id"]:
        return None
    return newest if newest["state"] != "success" else None


def latest_run(session: Any, dag_id: str) -> Any:
    """The DAG's run with the latest ``run_after`` (None if it never ran)."""
    from airflow.models import DagRun
    from sqlalchemy import select

    return session.scalar(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1))


def _newest_run(dag_id: str) -> dict[str, Any] | None:
    from airflow.utils.session import create_session

    with create_session() as session:
        run = latest_run(session, dag_id)
        return {"run_id": run.run_id, "state": str(run.state or "")} if run is not None else None


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
