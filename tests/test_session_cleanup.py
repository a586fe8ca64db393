"""A test session leaves nothing in the system temp folder: tests/conftest.py's Airflow home
(``crsync-airflow-*``, a metadata DB and XCom files per session) is removed when the session ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_test_session_removes_its_airflow_home_from_the_temp_folder(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    # A short session of its own (one quick test that uses the session's Airflow home), with its temp folder
    # here, so other sessions running at the same time do not count.
    session = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/cr_sandbox/test_demo_cleanup.py::test_the_demo_ends_by_saying_where_its_runs_went_and_that_make_up_starts_fresh"],  # fmt: skip
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert session.returncode == 0, session.stdout + session.stderr
    assert list(temp.glob("crsync-airflow-*")) == []
