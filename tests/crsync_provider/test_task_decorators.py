"""``@task.netsuite_write`` / ``@task.salesforce_write``: registered provider task decorators, built on
Airflow's public DecoratedOperator; ``@task.netsuite_write`` performs the writes its function prepares."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from crsync_provider.decorators import (
    NetSuiteExtractDecoratedOperator,
    NetSuiteReadRequest,
    NetSuiteWriteDecoratedOperator,
    NetSuiteWriteRequest,
    SalesforceWriteDecoratedOperator,
    netsuite_extract_task,
    netsuite_write_task,
    salesforce_write_task,
)
from crsync_provider.links import NetSuiteRecordLink, SalesforceRecordLink
from crsync_provider.operators.netsuite import NetSuiteSuiteQLOperator, NetSuiteUpsertOperator

PROVIDER = Path(__file__).resolve().parents[2] / "plugins" / "crsync_provider"
UI = "https://1234567-sb1.app.netsuite.com"
NS = "netsuite"


def test_task_decorators_resolve_in_a_fresh_airflow_process():
    """The provider's entry point registers them: ``@task.netsuite_write`` works in any DAG file."""
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from airflow.sdk import task\n"
        "from crsync_provider.decorators import netsuite_write_task, salesforce_write_task\n"
        "assert task.netsuite_write is netsuite_write_task, task.netsuite_write\n"
        "assert task.salesforce_write is salesforce_write_task, task.salesforce_write\n"
        "from crsync_provider.decorators import netsuite_extract_task\n"
        "assert task.netsuite_extract is netsuite_extract_task, task.netsuite_extract\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_provider_info_files_each_module_under_its_own_integration():
    from crsync_provider import get_provider_info

    info = get_provider_info()
    by_integration = {
        (section, entry["integration-name"]): entry["python-modules"]
        for section in ("hooks", "operators")
        for entry in info[section]
    }
    assert by_integration == {
        ("hooks", "NetSuite"): ["crsync_provider.hooks.netsuite"],
        ("hooks", "Salesforce"): ["crsync_provider.hooks.salesforce"],
        ("operators", "NetSuite"): ["crsync_provider.operators.netsuite"],
    }
    assert {i["integration-name"] for i in info["integrations"]} == {"NetSuite", "Salesforce"}
    assert info["task-decorators"] == [
        {"name": "netsuite_extract", "class-name": "crsync_provider.decorators.netsuite_extract_task"},
        {"name": "netsuite_write", "class-name": "crsync_provider.decorators.netsuite_write_task"},
        {"name": "salesforce_write", "class-name": "crsync_provider.decorators.salesforce_write_task"},
    ]


@pytest.mark.parametrize("module", ["decorators.py", "links.py", "__init__.py", "operators/netsuite.py"])
def test_provider_surface_imports_no_private_names(module):
    """Public Airflow / provider APIs only: no ``from airflow... import _name``."""
    tree = ast.parse((PROVIDER / module).read_text())
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


def _op(task_decorator, python_callable, *args, **kwargs):
    """The operator that ``@task_decorator(**kwargs)`` makes of ``python_callable(*args)`` in a DAG."""
    from airflow.sdk import DAG

    kwargs.setdefault("task_id", "under_test")  # a lambda's name is no task id
    with DAG("decorator_test", schedule=None):
        return task_decorator(python_callable, **kwargs)(*args).operator


def test_decorated_operators_are_the_operators_with_their_links():
    def noop():
        return NetSuiteWriteRequest(writes=[], record_type="customer")

    ns_op = _op(netsuite_write_task, noop, pool_slots=2)
    assert isinstance(ns_op, NetSuiteWriteDecoratedOperator) and isinstance(ns_op, NetSuiteUpsertOperator)
    assert ns_op.pool == "netsuite_api" and ns_op.pool_slots == 2
    assert ns_op.multiple_outputs is False
    assert [type(link) for link in ns_op.operator_extra_links] == [NetSuiteRecordLink]
    sf_op = _op(salesforce_write_task, lambda: {})
    assert isinstance(sf_op, SalesforceWriteDecoratedOperator)
    assert [type(link) for link in sf_op.operator_extra_links] == [SalesforceRecordLink]


def test_netsuite_write_task_performs_the_writes_its_function_prepares(ns, netsuite_conn):
    conn_id = netsuite_conn("ns_decorated_load", ui_base_url=UI)
    writes = [
        {
            "key": "a",
            "record_type": "customer",
            "external_id": "DEC-1",
            "body": {"companyName": "Decorated One", "subsidiary": {"id": "1"}},
            "transform_from": None,
        },
        {"key": "b", "record_type": "customer", "external_id": "DEC-2", "body": {}, "transform_from": None},
    ]

    def prepare(items):
        return NetSuiteWriteRequest(
            writes=items,
            record_type="customer",
            explain=lambda results: [{**r, "explained": True} for r in results],
            carry={"failures": ["refused before sending"]},
        )

    op = _op(netsuite_write_task, prepare, writes, netsuite_conn_id=conn_id)
    out = op.execute({})
    assert [r["status"] for r in out["results"]] == ["created", "failed"]
    assert all(r["explained"] for r in out["results"])
    assert out["failures"] == ["refused before sending"]
    link = NetSuiteRecordLink().get_link(op, ti_key=None)
    assert link == f"{UI}/app/common/entity/custjob.nl?id={out['results'][0]['id']}"


def test_netsuite_write_task_with_nothing_to_write_links_netsuite_home(ns, netsuite_conn):
    conn_id = netsuite_conn("ns_decorated_dry", ui_base_url=UI)
    op = _op(
        netsuite_write_task,
        lambda: NetSuiteWriteRequest(writes=[], record_type="salesorder", explain=lambda r: 1 / 0),
        netsuite_conn_id=conn_id,
    )
    assert op.execute({}) == {"results": []}
    assert NetSuiteRecordLink().get_link(op, ti_key=None) == f"{UI}/app/center/card.nl"


def test_netsuite_write_task_refuses_a_function_that_returns_no_request():
    op = _op(netsuite_write_task, lambda: {"results": []})
    with pytest.raises(TypeError, match="return a crsync_provider.decorators.NetSuiteWriteRequest"):
        op.execute({})


# ---------------------------------------------------------------------------------------------------------
# @task.netsuite_extract


def test_netsuite_extract_task_is_the_suiteql_operator_registered_as_a_task_decorator():
    from crsync_provider import get_provider_info

    op = _op(netsuite_extract_task, lambda: iter(()), pool_slots=1)
    assert isinstance(op, NetSuiteExtractDecoratedOperator) and isinstance(op, NetSuiteSuiteQLOperator)
    assert op.pool == "netsuite_api" and op.pool_slots == 1 and op.multiple_outputs is False
    assert op.template_ext == ()  # a positional argument ending in ".sql" is not read as a file
    assert {"name": "netsuite_extract", "class-name": "crsync_provider.decorators.netsuite_extract_task"} in (
        get_provider_info()["task-decorators"]
    )


def test_netsuite_extract_task_pages_each_read_through_the_hook_and_returns_what_the_function_returns(
    ns, netsuite_conn, calls
):
    """Each yielded read is paged by the hook (keyset query: ``key > last``; plain SuiteQL: offset), its
    rows are sent back into the function, and the function's return value is the task's."""
    from crsync_provider.hooks.netsuite import NetSuiteHook
    from crsync_provider.hooks.suiteql import KeysetTemplate

    conn_id = netsuite_conn("ns_decorated_extract")
    keyset = KeysetTemplate("SELECT id, name FROM customrecord_contracts WHERE {key_filter} ORDER BY id")
    expected = [row["id"] for row in NetSuiteHook(netsuite_conn_id=conn_id).suiteql_keyset(keyset)]
    assert len(expected) > 2  # the seeded catalog: several pages of two

    def read(label, **context):
        contracts = yield NetSuiteReadRequest(keyset, page_size=2)
        first = yield NetSuiteReadRequest(
            f"SELECT id FROM customrecord_contracts WHERE id = {contracts[0]['id']} ORDER BY id"
        )
        return {"label": label, "ids": [row["id"] for row in contracts], "first": first}

    op = _op(netsuite_extract_task, read, "contracts", netsuite_conn_id=conn_id)
    before = calls.snapshot(NS)
    out = op.execute({})
    assert out == {"label": "contracts", "ids": expected, "first": [{"id": expected[0]}]}
    pages = -(-len(expected) // 2)  # ceil: the last page says hasMore false
    assert calls.since(NS, before, method="POST", path_contains="suiteql") == pages + 1


def test_netsuite_extract_task_reads_through_the_hook_its_function_names(ns, netsuite_conn, calls):
    """A request's ``hook`` (e.g. the flows' hook with the settings' timeouts) does the read."""
    from crsync_provider.hooks.netsuite import NetSuiteHook

    class CountingHook(NetSuiteHook):
        reads = 0

        def suiteql(self, query, **kwargs):
            CountingHook.reads += 1
            return super().suiteql(query, **kwargs)

    hook = CountingHook(netsuite_conn_id=netsuite_conn("ns_decorated_extract_hook"))

    def read():
        rows = yield NetSuiteReadRequest("SELECT 1 AS ok FROM DUAL", hook=hook)
        return rows

    op = _op(netsuite_extract_task, read, netsuite_conn_id="no_such_connection")
    assert op.execute({}) == [{"ok": "1"}] and CountingHook.reads == 1  # SuiteQL returns text


def test_netsuite_extract_task_refuses_a_function_that_yields_no_read_request():
    def read():
        yield "SELECT id FROM customer"

    with pytest.raises(TypeError, match="yield crsync_provider.decorators.NetSuiteReadRequest"):
        _op(netsuite_extract_task, read).execute({})
    with pytest.raises(TypeError, match="a generator that yields"):
        _op(netsuite_extract_task, lambda: {"rows": []}).execute({})
