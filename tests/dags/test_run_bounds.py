"""Issue 13, findings 3, 4 and 11, at the DagBag level: every run and task is time-bounded, the load tasks'
pool slots come from ``netsuite.concurrency``, and every task whose code talks to NetSuite takes slots of
the ``netsuite_api`` pool (so the account limit holds across all tasks, reads included)."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOURLY_DAG = "sf_opportunity_to_ns_sales_order"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


def test_every_task_has_an_execution_timeout_and_every_dag_a_dagrun_timeout(dagbag):
    from crsync.runtime.alerts import SyncFailureNotifier

    assert len(dagbag.dags) == 6  # the four flows, reconciliation, maintenance
    for dag_id, dag in dagbag.dags.items():
        hourly = dag_id == HOURLY_DAG
        assert dag.dagrun_timeout is not None, f"{dag_id} has no dagrun_timeout"
        # An hourly run may not hold max_active_runs=1 for more than a few hours; a nightly one ends
        # before the next night.
        assert dag.dagrun_timeout <= (timedelta(hours=3) if hourly else timedelta(hours=12)), dag_id
        callbacks = dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
        assert any(isinstance(c, SyncFailureNotifier) and c.run_timeouts_only for c in callbacks), (
            f"{dag_id}: a run stopped by its dagrun_timeout is not reported"
        )
        for task in dag.tasks:
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"
            assert task.execution_timeout < dag.dagrun_timeout, f"{dag_id}.{task.task_id}"


def _flow_function(task) -> tuple[object, str] | None:
    """(module, function name) of ``crsync.runtime.flows`` that a task's callable delegates to.

    A task that is not a Python callable (the hourly DAG's ``claim_load_lock`` sensor) has none; its class's
    module must then not touch NetSuite at all.
    """
    if getattr(task, "python_callable", None) is None:
        module_source = inspect.getsource(inspect.getmodule(type(task)))
        assert "netsuite_hook" not in module_source and "NetSuiteHook" not in module_source, (
            f"{task.task_id} ({type(task).__name__}) talks to NetSuite; walk its code here"
        )
        return None
    source = textwrap.dedent(inspect.getsource(task.python_callable))
    tree = ast.parse(source)
    aliases = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in aliases
        ):
            return importlib.import_module(aliases[node.func.value.id]), node.func.attr
    return None


def _talks_to_netsuite(module, name: str, seen: set[tuple[str, str]] | None = None) -> bool:
    """Whether ``module.name`` (transitively, within crsync.runtime.flows) calls ``netsuite_hook``."""
    seen = set() if seen is None else seen
    if (module.__name__, name) in seen:
        return False
    seen.add((module.__name__, name))
    function = getattr(module, name, None)
    if not inspect.isfunction(function) or not function.__module__.startswith("crsync.runtime.flows"):
        return False
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    called = {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }
    if "netsuite_hook" in called:
        return True
    home = importlib.import_module(function.__module__)
    return any(_talks_to_netsuite(home, callee, seen) for callee in called if hasattr(home, callee))


def test_every_task_that_talks_to_netsuite_takes_netsuite_api_slots(dagbag):
    """Reads too (nightly extracts, reconciliation, the hourly write-back's order numbers): a read outside
    the pool while a load holds all of it is one request over the account limit (a 429)."""
    talking: set[str] = set()
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            target = _flow_function(task)
            if target is None or not _talks_to_netsuite(*target):
                assert task.pool != "netsuite_api", f"{dag_id}.{task.task_id} holds the pool but never calls NetSuite"
                continue
            talking.add(f"{dag_id}.{task.task_id}")
            assert task.pool == "netsuite_api", f"{dag_id}.{task.task_id} calls NetSuite outside the pool"
            assert task.pool_slots >= 1
    # The walk found what the flows are known to read or write (guards the walk itself).
    assert {
        f"{HOURLY_DAG}.load_customers",
        f"{HOURLY_DAG}.load_orders",
        f"{HOURLY_DAG}.write_back",
        "ns_contract_to_sf_contract.extract",
        "ns_contract_to_sf_contract.link_opportunities",
        "ns_contract_item_to_sf_contract_item.extract",
        "ns_renewal_estimate_to_sf_opportunity.extract",
        "crsync_reconciliation.reconcile",
    } <= talking


def test_read_tasks_take_one_slot_and_load_tasks_take_netsuite_concurrency(dagbag):
    from crsync.settings import load_settings

    concurrency = load_settings().netsuite.concurrency
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if task.pool != "netsuite_api":
                continue
            expected = concurrency if task.task_id in ("load_customers", "load_orders") else 1
            assert task.pool_slots == expected, (dag.dag_id, task.task_id, task.pool_slots)


def test_load_slots_follow_the_setting_when_the_dag_is_parsed(tmp_path):
    """One setting, netsuite.concurrency, gives the load tasks' pool slots (read at parse time, in a fresh
    process as the DAG processor would)."""
    from crsync.settings import DEFAULT_SETTINGS_FILE

    custom = tmp_path / "settings.yaml"
    custom.write_text(DEFAULT_SETTINGS_FILE.read_text().replace("  concurrency: 5\n", "  concurrency: 3\n", 1))
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"dag = DagBag(dag_folder={str(ROOT / 'dags' / (HOURLY_DAG + '.py'))!r}).dags[{HOURLY_DAG!r}]\n"
        "print(dag.get_task('load_orders').pool_slots, dag.get_task('load_customers').pool_slots)\n"
    )
    env = {**os.environ, "CRSYNC_SETTINGS_FILE": str(custom)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert out.stdout.split()[-2:] == ["3", "3"], out.stdout + out.stderr
