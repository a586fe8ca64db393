"""The page's two actions: Retry (a manual run of the flow's DAG for exactly the chosen records, with the
params a manual run from the trigger form uses, validated against the DAG's params before the run exists)
and Resolve (the row is marked handled, with who and when, in an Airflow Variable)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from crsync.ids import MAX_IDS_PER_RUN
from crsync.runtime import health_log
from crsync.runtime.health_log import OpenError
from crsync_health.health_data import FLOWS, Flow

log = logging.getLogger(__name__)

#: Records one Retry may name: as many as one manual run takes (the ids params' maxItems).
MAX_RETRY_KEYS = MAX_IDS_PER_RUN


class ActionError(ValueError):
    """A request the page refuses; the message says why (shown to the user)."""


def flow_of(dag_id: str) -> Flow:
    if dag_id not in FLOWS:
        raise ActionError(f"Unknown flow {dag_id!r}; expected one of {', '.join(FLOWS)}")
    return FLOWS[dag_id]


def retry(dag_id: str, keys: list[str], *, user_name: str) -> dict[str, Any]:
    """Trigger ``dag_id`` for exactly ``keys``; returns the run started (dag id, run id, conf)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import AirflowException
    from airflow.utils.types import DagRunTriggeredByType

    flow = flow_of(dag_id)
    keys = list(dict.fromkeys(str(k) for k in keys))
    if not keys:
        raise ActionError("Choose at least one row to retry")
    if len(keys) > MAX_RETRY_KEYS:
        raise ActionError(f"At most {MAX_RETRY_KEYS} rows per Retry; {len(keys)} were chosen")
    wrong = [k for k in keys if not flow.retryable(k)]
    if wrong:
        raise ActionError(f"Not {flow.system} {flow.record_type} ids of {dag_id}: {', '.join(wrong[:10])}")
    _require_open_errors(dag_id, keys, "Retry")
    _require_enabled(dag_id)
    if is_paused(dag_id):
        # trigger_dag would queue a run that waits, silently, until someone unpauses the DAG.
        raise ActionError(
            f"{dag_id} is paused, so a retry would wait until it is unpaused: unpause it (the toggle in the "
            "DAG list), then Retry"
        )
    conf = flow.retry_conf(keys)
    try:
        run = trigger_dag(
            dag_id,
            triggered_by=DagRunTriggeredByType.UI,
            triggering_user_name=user_name,
            conf=conf,
            note=f"Retry from the sync health page by {user_name}: {len(keys)} record(s)",
        )
    except ValueError as exc:  # ParamValidationError included: the DAG's params refused the conf
        raise ActionError(f"The run's params were refused: {exc}") from exc
    except AirflowException as exc:  # the DAG is not parsed (yet), or a run of that id exists
        raise ActionError(f"{dag_id} could not be triggered: {exc}") from exc
    if run is None:
        raise ActionError(f"No run was created for {dag_id}")
    log.info("Sync health: %s retried %d record(s) of %s in run %s", user_name, len(keys), dag_id, run.run_id)
    return {"dag_id": dag_id, "run_id": run.run_id, "conf": conf}


def _require_open_errors(dag_id: str, keys: list[str], action: str) -> dict[str, OpenError]:
    """The open errors of ``keys``; refuses keys that are not open errors of the flow. The page only offers
    its rows, so another key comes from a page loaded before a run wrote that record (or from a hand-made
    request): a Retry must send exactly what the page listed, nothing nobody asked for."""
    from crsync_health.health_data import flow_health

    open_errors = {e.key: e for e in flow_health(dag_id).errors}
    unknown = [k for k in keys if k not in open_errors]
    if unknown:
        then = (
            f"nothing was done. To send other records, trigger {dag_id} with its params."
            if action == "Retry"
            else "nothing was resolved."
        )
        raise ActionError(
            f"Not open errors of {dag_id} (written since the page was loaded?): {', '.join(unknown[:10])}. "
            f"Reload the page; {then}"
        )
    return {k: open_errors[k] for k in keys}


def _require_enabled(dag_id: str) -> None:
    """A flow disabled in the settings skips every task of its run, so a Retry would do nothing, in green."""
    from crsync.settings import SettingsError, load_settings

    try:
        enabled = getattr(load_settings().enabled_flows, dag_id)
    except SettingsError as exc:
        raise ActionError(f"The integration settings are invalid, so the run would fail: {exc}") from exc
    if not enabled:
        raise ActionError(
            f"{dag_id} is disabled in the integration settings (enabled_flows.{dag_id}: false), so its run "
            "would skip every record: enable it, then Retry"
        )


def is_paused(dag_id: str) -> bool:
    """Whether the DAG is paused in the metadata DB (a DAG not parsed yet is left to ``trigger_dag``)."""
    from airflow.models.dag import DagModel  # the ORM model: the API server has no Task SDK

    model = DagModel.get_dagmodel(dag_id)
    return bool(model is not None and model.is_paused)


def resolve(
    dag_id: str,
    keys: list[str],
    *,
    user_name: str,
    tried: dict[str, str] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Mark rows handled by ``user_name`` now; marks of records no longer open are dropped.

    :param tried: per key, the last try the page showed (ISO time). The mark resolves that try only: a
        record that failed again since the page was loaded stays listed (``failed_again`` names it). A key
        without it resolves the record's current last try.
    """
    from airflow.models.variable import Variable  # the ORM model: the API server has no Task SDK

    from crsync_health.health_data import flow_health, parse_marks

    flow_of(dag_id)
    keys = list(dict.fromkeys(str(k) for k in keys))
    if not keys:
        raise ActionError("Choose at least one row to resolve")
    errors = _require_open_errors(dag_id, keys, "Resolve")
    at = (now or dt.datetime.now(dt.UTC)).isoformat()
    seen = {k: _shown_try(k, (tried or {}).get(k), errors[k].last_tried) for k in keys}
    failed_again = [k for k in keys if seen[k] < errors[k].last_tried]
    name = health_log.resolved_variable(dag_id)
    with _locked_variable(name) as (session, raw):
        open_keys = {e.key for e in flow_health(dag_id).errors}
        marks = {k: v for k, v in parse_marks(raw)[0].items() if k in open_keys}
        for key in keys:
            marks[key] = {"by": user_name, "at": at, "seen": seen[key].isoformat()}
        Variable.set(name, json.dumps(marks), session=session, description=(
            f"Rows of {dag_id} marked resolved on the sync health page (/crsync/): who, when, and the last try "
            "they resolved."))  # fmt: skip
    log.info("Sync health: %s resolved %d row(s) of %s", user_name, len(keys), dag_id)
    return {"dag_id": dag_id, "resolved": keys, "by": user_name, "at": at, "failed_again": failed_again}


def _shown_try(key: str, shown: str | None, current: dt.datetime) -> dt.datetime:
    if shown is None:
        return current
    try:
        moment = dt.datetime.fromisoformat(shown)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ActionError(f"tried[{key!r}] is not an ISO time with its zone: {shown!r}")
    return moment


#: Resolves in this API server process, one at a time (SQLite, the local stack's DB, takes no row lock).
_RESOLVE_LOCK = threading.Lock()


@contextlib.contextmanager
def _locked_variable(name: str) -> Iterator[tuple[Any, str | None]]:
    """The Variable's current value, read under a row lock held until the block's writes commit, so that
    two Resolves (two users, or two API server processes) never write over each other's marks. The lock
    is the database's (``SELECT ... FOR UPDATE`` on PostgreSQL and MySQL) plus a process lock; only the
    very first Resolve of a flow, which creates the Variable, has no row to lock."""
    from airflow.models.variable import Variable  # the ORM model: the API server has no Task SDK
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with _RESOLVE_LOCK, create_session() as session:
        row = session.scalar(select(Variable).where(Variable.key == name).with_for_update())
        yield session, (row.val if row is not None else None)

