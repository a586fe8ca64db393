"""Operators (thin wrappers on the hooks), extra links and the provider registration."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

from crsync_provider.hooks.netsuite import NetSuiteHook
from crsync_provider.links import NetSuiteRecordLink
from crsync_provider.operators.netsuite import NetSuiteSuiteQLOperator, NetSuiteUpsertOperator

NS = "netsuite"
WINDOW = {
    "data_interval_start": datetime(2024, 1, 1, tzinfo=UTC),
    "data_interval_end": datetime(2100, 1, 1, tzinfo=UTC),
}


def test_netsuite_connection_type_is_registered():
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = ProvidersManager()
        hooks = manager.hooks
        assert "netsuite" in hooks
        assert hooks["netsuite"].hook_class_name == "crsync_provider.hooks.netsuite.NetSuiteHook"
        assert hooks["netsuite"].connection_testable
        widgets = manager.connection_form_widgets
        for name in (
            "account_id",
            "auth_method",
            "token_id",
            "token_secret",
            "client_id",
            "certificate_id",
            "private_key",
            "ca_bundle",
            "concurrency_limit",
        ):
            assert f"extra__netsuite__{name}" in widgets, name
        assert widgets["extra__netsuite__token_secret"].is_sensitive
        assert widgets["extra__netsuite__private_key"].is_sensitive
        behaviour = manager.field_behaviours["netsuite"]
        assert behaviour["relabeling"]["host"] == "Base URL override"
        assert "crsync_provider.links.NetSuiteRecordLink" in manager.extra_links_class_names
    assert NetSuiteHook.get_ui_field_behaviour()["relabeling"]["login"] == "Consumer key (TBA)"


def test_operator_templates_and_pool():
    op = NetSuiteSuiteQLOperator(
        task_id="extract",
        query="SELECT id FROM customrecord_contracts WHERE lastmodified >= :window_start ORDER BY id",
        window_start="{{ data_interval_start }}",
    )
    assert op.pool == "netsuite_api"
    assert set(op.template_fields) == {"query", "parameters", "window_start", "window_end"}
    op.window_start = "2024-01-01T00:00:00+00:00"  # as rendered
    assert op.bound_parameters()["window_start"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert NetSuiteUpsertOperator(task_id="load", writes=[]).pool == "netsuite_api"


def test_netsuite_extract_windowed(ns, netsuite_conn):
    conn_id = netsuite_conn("ns_ops")
    op = NetSuiteSuiteQLOperator(
        task_id="extract",
        netsuite_conn_id=conn_id,
        query="SELECT id, name FROM customrecord_contracts "
        "WHERE lastmodified >= :window_start AND lastmodified < :window_end ORDER BY id",
        window_start=WINDOW["data_interval_start"].isoformat(),
        window_end=WINDOW["data_interval_end"].isoformat(),
        page_size=2,
    )
    rows = op.execute({})
    assert rows and all("links" not in r for r in rows)
    op.window_start = "2099-01-01T00:00:00+00:00"
    assert op.execute({}) == []


def test_netsuite_upsert_operator_results_and_link(ns, netsuite_conn):
    conn_id = netsuite_conn("ns_ops_load", ui_base_url="https://1234567-sb1.app.netsuite.com")
    writes = [
        {
            "key": "a",
            "record_type": "customer",
            "external_id": "OP-1",
            "body": {"companyName": "Op One", "subsidiary": {"id": "1"}},
            "transform_from": None,
        },
        {"key": "b", "record_type": "customer", "external_id": "OP-2", "body": {}, "transform_from": None},
    ]
    op = NetSuiteUpsertOperator(task_id="load", netsuite_conn_id=conn_id, writes=writes)
    results = op.execute({})
    assert [r["status"] for r in results] == ["created", "failed"]
    assert results[1]["error"]["code"]
    link = NetSuiteRecordLink().get_link(op, ti_key=None)
    assert link == f"https://1234567-sb1.app.netsuite.com/app/common/entity/custjob.nl?id={results[0]['id']}"


def test_netsuite_link_empty_when_ui_unknown(ns, netsuite_conn):
    op = NetSuiteUpsertOperator(
        task_id="load",
        netsuite_conn_id=netsuite_conn("ns_ops_nolink"),
        writes=[{"key": "a", "record_type": "customer", "external_id": "OP-9", "body": {"companyName": "x", "subsidiary": {"id": "1"}}}],
    )
    op.execute({})
    assert NetSuiteRecordLink().get_link(op, ti_key=None) == ""


def test_netsuite_upsert_operator_keeps_to_its_pool_slots(ns, calls, netsuite_conn):
    """The hook the operator builds has at most ``pool_slots`` requests in flight, not the connection's
    limit (5): otherwise 5 one-slot tasks in a 5-slot pool could have 25 requests in flight."""
    writes = [
        {
            "key": f"k{i}",
            "record_type": "customer",
            "external_id": f"OP-SLOT-{i}",
            "body": {"companyName": f"Slot {i}", "subsidiary": {"id": "1"}},
            "transform_from": None,
        }
        for i in range(8)
    ]
    op = NetSuiteUpsertOperator(task_id="load", netsuite_conn_id=netsuite_conn("ns_ops_slots"), writes=writes)
    assert op.pool_slots == 1
    ns.control(NS, "governance", {"latency_ms": 40})
    calls.reset(NS)
    results = op.execute({})
    assert [r["status"] for r in results] == ["created"] * 8
    assert calls.stats(NS)["peak_concurrency"] == 1
