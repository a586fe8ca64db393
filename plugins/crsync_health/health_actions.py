"""The page's two actions: Retry (a manual run of the flow's DAG for exactly the chosen records, with the
params a manual run from the trigger form uses, validated against the DAG's params before the run exists)
and Resolve (the row is marked handled, with who and when, in an Airflow Variable)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from crsync.ids import MAX_IDS_PER_RUN
from crsync.runtime import health_log
from crsync_health.health_data import FLOWS, Flow, resolved_marks

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


def is_paused(dag_id: str) -> bool:
    """Whether the DAG is paused in the metadata DB (a DAG not parsed yet is left to ``trigger_dag``)."""
    from airflow.models.dag import DagModel  # the ORM model: the API server has no Task SDK

    model = DagModel.get_dagmodel(dag_id)
    return bool(model is not None and model.is_paused)


def resolve(
    dag_id: str, keys: list[str], *, user_name: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Mark rows handled by ``user_name`` now; marks of records no longer open are dropped."""
    from airflow.models.variable import Variable  # the ORM model: the API server has no Task SDK

    from crsync_health.health_data import flow_health

    flow_of(dag_id)
    if not keys:
        raise ActionError("Choose at least one row to resolve")
    at = (now or dt.datetime.now(dt.UTC)).isoformat()
    open_keys = {e.key for e in flow_health(dag_id).errors}
    marks = {k: v for k, v in resolved_marks(dag_id).items() if k in open_keys}
    for key in keys:
        marks[str(key)] = {"by": user_name, "at": at}
    Variable.set(
        health_log.resolved_variable(dag_id),
        json.dumps(marks),
        description=f"Rows of {dag_id} marked resolved on the sync health page (/crsync/): who and when.",
    )
    log.info("Sync health: %s resolved %d row(s) of %s", user_name, len(keys), dag_id)
    return {"dag_id": dag_id, "resolved": list(keys), "by": user_name, "at": at}
