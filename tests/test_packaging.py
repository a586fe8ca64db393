"""What a production image installs: `requirements.txt` (runtime only) and this package's wheel, which
carries the DAGs' support code and the NetSuite provider but not the sandbox (a development tool).

The last test builds the wheel, installs it with requirements.txt into a fresh virtualenv (uv, from its
cache) and parses the DAGs there with Airflow's DagBag: no import of the sandbox, pytest or ruff."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV_ONLY = {"pytest", "pytest-timeout", "ruff", "trustme", "iniconfig"}
UV = Path(sys.executable).parent / "uv"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", line):
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def names(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {re.split(r"[\[=<>; ]", line)[0].lower() for line in lines if line and not line.startswith("-")}


def test_runtime_requirements_hold_no_dev_tools_and_dev_pins_match_them():
    runtime, dev = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-dev.txt")
    assert runtime["apache-airflow"] == "3.3.2"
    assert not DEV_ONLY & set(runtime), DEV_ONLY & set(runtime)
    assert {"pytest", "ruff", "trustme"} <= set(dev)
    assert {"apache-airflow-providers-celery", "psycopg2-binary", "asyncpg"} <= set(runtime)
    # the development venv runs exactly what production runs, plus its tools
    assert {k: v for k, v in dev.items() if k in runtime} == runtime


def test_package_dependencies_are_the_runtime_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\[=<>; ]", d)[0].lower() for d in project["dependencies"]}
    declared |= {re.split(r"[\[=<>; ]", d)[0].lower() for d in project["optional-dependencies"]["celery"]}
    assert declared == names(ROOT / "requirements.in")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Built from a copy of the sources: setuptools keeps a build/ folder beside them, whose leftovers from an
    # older layout would end up in the wheel.
    source = tmp_path_factory.mktemp("source")
    shutil.copy(ROOT / "pyproject.toml", source)
    for folder in ("include", "plugins"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
                   check=True, cwd=str(out))
    (built,) = out.glob("contract_renewal_sync-*.whl")
    return built


def test_wheel_has_the_support_code_and_provider_and_no_sandbox(wheel: Path):
    files = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in files}
    assert {"crsync", "crsync_provider"} <= top
    assert "cr_sandbox" not in top and "salesforce" not in top, sorted(top)
    assert "crsync/settings.yaml" in files
    assert "crsync/reconcile_report.html" in files  # the reconciliation page's Jinja2 template
    # Local-stack plumbing (the SQLite metadata DB's connect args) is a development tool too.
    assert not [n for n in files if "sqlite_metadata" in n], [n for n in files if "sqlite_metadata" in n]
    entry_points = next(n for n in files if n.endswith("entry_points.txt"))
    assert "crsync_provider:get_provider_info" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_a_production_install_parses_every_dag_without_the_sandbox(wheel: Path, tmp_path: Path):
    venv = tmp_path / "prod"
    subprocess.run([str(UV), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(UV), "pip", "install", "-q", "--python", str(python), "-r", str(ROOT / "requirements.txt"),
                    str(wheel)], check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "CRSYNC"))}
    env.update({"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    probe = """
import importlib.util, json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v)[-500:] for k, v in bag.import_errors.items()},
                  "present": [m for m in ("cr_sandbox", "pytest", "ruff", "trustme") if importlib.util.find_spec(m)]}))
"""
    result = subprocess.run([str(python), "-c", probe, str(ROOT / "dags")], env=env, cwd=str(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    assert found["present"] == [], f"development tools in the production install: {found['present']}"
    assert set(found["dags"]) == {p.stem for p in (ROOT / "dags").glob("*.py")}
