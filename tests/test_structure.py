"""The layout rules of docs/design.md ("Module layout") that a change could quietly break."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", ["plugins", "include/crsync", "include/cr_sandbox", "dags", "bench"])
def test_no_module_is_over_600_lines(folder: str) -> None:
    too_long = {
        str(p.relative_to(ROOT)): n
        for p in _modules(folder)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"split these by concern (design.md, 'Module layout'): {too_long}"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_provider_never_imports_crsync() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in _imported_modules(p) if m.split(".")[0] == "crsync")
        for p in _modules("plugins/crsync_provider")
    }
    assert not {k: v for k, v in offenders.items() if v}, "the provider is standalone (design.md)"


def test_crsync_outside_runtime_imports_no_airflow() -> None:
    pure = [p for p in _modules("include/crsync") if "runtime" not in p.relative_to(ROOT / "include/crsync").parts]
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in _imported_modules(p) if m.split(".")[0] in {"airflow", "requests"})
        for p in pure
    }
    assert not {k: v for k, v in offenders.items() if v}, "crsync is pure: Airflow and network live in crsync/runtime"


def test_importing_the_pure_package_loads_no_airflow_and_no_http_client() -> None:
    """``crsync`` (outside ``runtime``) may import the provider's Airflow-free ``hooks.suiteql``; one
    Airflow import added on that path would make it impure without a changed line in crsync."""
    import subprocess
    import sys

    pure = sorted(
        ".".join(p.relative_to(ROOT / "include").with_suffix("").parts).removesuffix(".__init__")
        for p in _modules("include/crsync")
        if "runtime" not in p.relative_to(ROOT / "include/crsync").parts
    )
    code = (
        "import importlib, sys\n"
        f"for name in {pure!r}: importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'airflow', 'requests', 'simple_salesforce'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_parsing_the_dag_files_loads_no_http_client() -> None:
    """The DAG processor parses every file every few seconds: the task decorators and operators the DAGs use
    import their hooks (requests, simple-salesforce, the HTTP stack) when a task runs, not at parse time.
    One top-level hook import in a decorator module costs each parse about 0.2 s (``make bench``, parse)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(ROOT / 'dags')!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "assert len(bag.dags) >= 6, sorted(bag.dags)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'simple_salesforce')"
        " or m.startswith('crsync_provider.hooks.netsuite') or m == 'crsync_provider.hooks.salesforce'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_the_hourly_load_and_write_back_tasks_import_no_pandas() -> None:
    """Mapped ``load_orders`` tasks start while their siblings send orders: importing pandas (the
    transform's library) costs each about 1.5 s of CPU on the machine that is sending. The load and
    write-back steps import what they use from pandas-free modules (``sales_order_write_back``)."""
    import subprocess
    import sys

    flow = ROOT / "include/crsync/runtime/flows/opportunity_to_sales_order.py"
    tree = ast.parse(flow.read_text(encoding="utf-8"))
    steps = {"load_customers", "load_orders", "write_back"}
    modules = {"crsync.runtime.flows.opportunity_to_sales_order", "crsync_provider.hooks.netsuite"}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in steps:
            steps.discard(node.name)
            modules |= {n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.module}
    assert not steps, f"flow functions not found: {steps}"
    code = (
        "import importlib, sys\n"
        "import airflow.sdk\n"
        f"for name in {sorted(modules)!r}: importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'numpy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_a_task_process_loads_the_health_plugin_and_nothing_heavy() -> None:
    """Each task process loads the plugins folder at its start (macros, listeners). The loader executes every
    ``.py`` file it does not ignore, so ``plugins/.airflowignore`` leaves only the plugin module, and the
    plugin builds its FastAPI app on the API server's first request: loading costs a task 0.01 s of CPU
    instead of about 2 s (FastAPI, the API server's security module, requests, simple-salesforce)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from airflow.sdk.plugins_manager import integrate_macros_plugins\n"
        "integrate_macros_plugins()\n"  # what the task runner calls at start (task_runner.parse)
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'requests', 'simple_salesforce', "
        "'netsuite', 'salesforce', 'decorators', 'health_app'})\n"
        "from airflow import plugins_manager\n"
        "print([p['name'] for p in plugins_manager.get_plugin_info()], plugins_manager.get_import_errors())\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    loaded, heavy = out.stdout.strip().splitlines()[-2:]
    assert loaded == "['crsync_health'] {}", out.stdout + out.stderr
    assert heavy == "[]", out.stdout + out.stderr
