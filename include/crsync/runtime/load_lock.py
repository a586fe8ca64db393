"""One run of a DAG loads at a time: a lease on the load phase, held from the claim until write-back ends.

Why: in Airflow 3 backfill runs are not counted against a DAG's ``max_active_runs`` (the scheduler counts
active runs per backfill: ``SchedulerJobRunner._start_queued_dagruns`` keys them by ``backfill_id``, and
``_create_dag_runs`` excludes backfills), so a backfill run and a scheduled or manual run of the hourly
DAG can run at once and send the same Opportunity twice at the same moment (two transforms of one
estimate: the second is refused and its Opportunity shows ``Error``).

How: the DAG's first task, :class:`LoadLockSensor` (:func:`poke` in ``reschedule`` mode), with
``max_active_tis_per_dag=1`` so that two runs' claims are never checked at the same moment (the
scheduler counts that limit over every run of the DAG, backfills included). A run *holds* the lease
while its claim task has succeeded, its release task (the write-back) has not finished, and the run
itself is still running. The claim waits (freeing its worker slot between pokes) while another run
holds it. Nothing needs creating in Airflow (no pool: a task in a pool that does not exist is never
scheduled), and the mapped load tasks of the run that holds the lease still run side by side, as the
``netsuite_api`` pool allows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseSensorOperator

log = logging.getLogger(__name__)

#: The claim task's id in every DAG that uses the lease.
CLAIM_TASK_ID = "claim_load_lock"
#: Seconds between two checks while another run holds the lease (reschedule mode frees the slot).
POKE_INTERVAL_SECONDS = 15.0
#: Give up (the task fails and the notifier says which run holds the lease) after this long.
WAIT_TIMEOUT_SECONDS = 2 * 60 * 60.0
#: Task states after which a task will not run again in this try of the run.
FINISHED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
#: States of the release task that end the lease at once (it ran, or will never run because its
#: upstream was skipped). ``upstream_failed`` is not one: see :func:`still_loading`.
RELEASED_STATES = frozenset({"success", "failed", "skipped", "removed"})


def holders(
    task_states: Mapping[str, Mapping[str, Any]],
    *,
    own_run_id: str,
    release_task_id: str,
) -> list[str]:
    """Runs other than ``own_run_id`` whose claim succeeded and whose release task has not run to its end.

    A release task that is ``upstream_failed`` has not run: Airflow sets that state as soon as one upstream
    task fails, while sibling load tasks may still be sending, so such a run is a candidate too (see
    :func:`still_loading`).

    :param task_states: ``{run_id: {task_id: state}}`` as ``RuntimeTaskInstance.get_task_states`` returns.
    """
    held = []
    for run_id, states in task_states.items():
        if run_id == own_run_id:
            continue
        claimed = states.get(CLAIM_TASK_ID) == "success"
        released = states.get(release_task_id) in RELEASED_STATES
        if claimed and not released:
            held.append(run_id)
    return sorted(held)


def still_loading(states: Mapping[str, Any], *, release_task_id: str) -> bool:
    """Whether a run whose release task did not run (``upstream_failed``) still has a task between the claim
    and the release that has not finished (a mapped load chunk still sending).

    :param states: ``{task_id: state}`` of every task of that run (mapped instances as ``<task_id>_<n>``).
    """
    if states.get(release_task_id) != "upstream_failed":
        return True  # the release task itself is still to run: the lease is held
    return any(
        state not in FINISHED_STATES
        for task_id, state in states.items()
        if task_id not in (CLAIM_TASK_ID, release_task_id, "report")
    )


def poke(context: Mapping[str, Any], *, release_task_id: str) -> bool:
    """True when no other running run of this DAG holds the lease (then this run holds it).

    :param release_task_id: the task whose end (whatever its state) releases the lease: the last task
        that writes to either system.
    """
    ti = context["ti"]
    dag_id, run_id = ti.dag_id, ti.run_id
    states = ti.get_task_states(dag_id=dag_id, task_ids=[CLAIM_TASK_ID, release_task_id])
    candidates = holders(states, own_run_id=run_id, release_task_id=release_task_id)
    # A run that ended (failed, marked by hand) without finishing its release task holds nothing.
    live = [other for other in candidates if ti.get_dagrun_state(dag_id=dag_id, run_id=other) == "running"]
    live = [
        other
        for other in live
        if still_loading(
            ti.get_task_states(dag_id=dag_id, run_ids=[other]).get(other, {}), release_task_id=release_task_id
        )
    ]
    if live:
        log.info(
            "Run %s of %s is loading (it holds the load lock until %s ends); this run waits and checks "
            "again in %.0f s, so the two never send the same records at the same time. If that run is not "
            "running anywhere any more (its process was killed outside a scheduler), mark it failed in the "
            "UI (its run page > Mark as failed) to release the lock",
            ", ".join(live), dag_id, release_task_id, POKE_INTERVAL_SECONDS,
        )  # fmt: skip
        return False
    log.info("No other run of %s is loading: run %s holds the load lock until %s ends", dag_id, run_id,
             release_task_id)  # fmt: skip
    return True


class LoadLockSensor(BaseSensorOperator):
    """The claim task: succeeds when this run may load, waits (``reschedule``) while another run loads.

    :param release_task_id: the task whose end releases the lease (see :func:`poke`).
    """

    def __init__(self, *, release_task_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", CLAIM_TASK_ID)
        kwargs.setdefault("poke_interval", POKE_INTERVAL_SECONDS)
        kwargs.setdefault("timeout", WAIT_TIMEOUT_SECONDS)
        super().__init__(mode="reschedule", max_active_tis_per_dag=1, **kwargs)
        self.release_task_id = release_task_id

    def poke(self, context: Any) -> bool:
        return poke(context, release_task_id=self.release_task_id)
