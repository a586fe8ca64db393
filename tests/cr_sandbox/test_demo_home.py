"""The demo runs in its own Airflow home, never the one ``make up`` serves (issue 15, item 2): its runs read
a temporary sandbox, a year ahead on a moved clock, and would look broken in that UI afterwards.

A demo-like run (the demo's own ``bin/airflow dags test`` of the hourly DAG against a temporary sandbox),
with ``AIRFLOW_HOME`` exported the way a user running ``make up`` has it: the run is recorded in the
demo's home and ``make up``'s home gets nothing (no metadata DB, no XCom, no logs)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from cr_sandbox import demo


@pytest.fixture
def saved_environment():
    """The demo points this process at its home (os.environ): put the session's environment back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def dag_runs(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute("SELECT dag_id, state FROM dag_run").fetchall()


def test_the_demo_records_its_runs_in_its_own_home_and_none_in_the_home_make_up_serves(
    tmp_path, monkeypatch, saved_environment
):
    up_home, home = tmp_path / "up-home", tmp_path / "demo-home"
    monkeypatch.setenv("AIRFLOW_HOME", str(up_home))  # exported for make up
    monkeypatch.setenv("AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH", f"file://{up_home}/xcom")
    monkeypatch.setenv(demo.DEMO_HOME_ENV, str(home))
    assert demo.make_up_home() == up_home.resolve() and demo.demo_home() == home.resolve()

    demo.enter_demo_home(demo.demo_home(), shown_by_make_up=demo.make_up_home())
    with demo.temporary_sandbox() as sandbox:
        run = demo.Demo(sandbox)
        sandbox.control("netsuite", "seed", {"contracts": 0})
        sandbox.control("salesforce", "seed", {"catalog_only": True})
        state = run.run_dag(demo.HOURLY_DAG)

    assert state == "success"
    assert dag_runs(home) == [(demo.HOURLY_DAG, "success")]
    assert list((home / "demo-logs").iterdir())
    assert not up_home.exists()  # nothing of the demo where make up looks


def test_a_second_demo_starts_its_home_afresh_and_never_removes_a_folder_it_did_not_make(
    tmp_path, saved_environment
):
    home = tmp_path / "demo-home"
    demo.enter_demo_home(home, shown_by_make_up=tmp_path / "up-home")
    (home / "demo-logs").mkdir()
    (home / "demo-logs" / "old.log").write_text("a previous demo")

    demo.enter_demo_home(home, shown_by_make_up=tmp_path / "up-home")

    assert not (home / "demo-logs").exists() and (home / "airflow.db").exists()
    mine = tmp_path / "mine"
    (mine / "keep.txt").parent.mkdir()
    (mine / "keep.txt").write_text("not the demo's")
    with pytest.raises(SystemExit, match="was not made by the demo"):
        demo.enter_demo_home(mine, shown_by_make_up=tmp_path / "up-home")
    with pytest.raises(SystemExit, match="is the one make up serves"):
        demo.enter_demo_home(tmp_path / "up-home", shown_by_make_up=tmp_path / "up-home")
    assert (mine / "keep.txt").read_text() == "not the demo's"
