"""The sync health page's parts that need no running Airflow: the template escapes every value that came
from Salesforce or NetSuite, a Retry's params pass each flow's DAG params (the manual run's schema), and a
Resolve hides a row until the record fails again."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from urllib.parse import quote

import pytest
from airflow.sdk.definitions.param import ParamValidationError

from crsync.runtime.health_log import OpenError
from crsync_health.health_app import _templates
from crsync_health.health_data import FLOWS, ErrorRow, is_resolved

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
EVIL = "<script>alert('x')</script>"


def _error(key: str = "006000000000001AAA", message: str = "fix it", code: str = "bad") -> OpenError:
    return OpenError(key=key, code=code, message=message, first_seen=T0, last_tried=T0, run_id="r1")


def _render(rows: list[ErrorRow], **overrides) -> str:
    flows = list(FLOWS.values())
    context = {
        "user": "admin",
        "statuses": [],
        "rows": rows,
        "codes": sorted({r.error.code for r in rows}),
        "flows": flows,
        "selected_flow": "",
        "selected_code": "",
        "can_retry": dict.fromkeys(FLOWS, True),
        "can_resolve": dict.fromkeys(FLOWS, True),
        "reconciliation": None,
        "quote": quote,
    }
    return _templates().get_template("health.html").render(**{**context, **overrides})


def test_values_from_the_systems_are_escaped():
    flow = FLOWS["sf_opportunity_to_ns_sales_order"]
    row = ErrorRow(
        flow=flow,
        error=_error(message=f"Name {EVIL} is too long", code=f"c{EVIL}"),
        url='https://x/"><img src=x onerror=alert(1)>',
        retryable=True,
    )
    reconciliation = {
        "run_id": "scheduled__1",
        "total": 1,
        "counts": {"opportunity_error": 1},
        "reports": {"html": "/r.html"},
        "columns": ["kind", "detail"],
        "rows": [{"kind": "opportunity_error", "detail": EVIL}],
        "rows_error": "",
    }
    html = _render([row], reconciliation=reconciliation)
    assert EVIL not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the page's own script only


def test_retry_only_where_the_user_may_trigger_and_the_key_is_a_record_id():
    opp = FLOWS["sf_opportunity_to_ns_sales_order"]
    rows = [ErrorRow(flow=opp, error=_error(), url="", retryable=True)]
    assert 'class="retry primary"' in _render(rows)
    assert 'class="retry primary"' not in _render(rows, can_retry=dict.fromkeys(FLOWS, False))
    assert not opp.retryable("001000000000001AAA")  # an Account's write-back failure: resolve only
    assert not FLOWS["ns_contract_to_sf_contract"].retryable("12a")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


@pytest.mark.parametrize("dag_id", list(FLOWS))
def test_a_retry_conf_passes_the_dags_params(dagbag, dag_id):
    flow = FLOWS[dag_id]
    key = "006000000000001AAA" if flow.ids_param == "opportunity_ids" else "1234"
    conf = flow.retry_conf([key])
    params = copy.deepcopy(dagbag.dags[dag_id].params)  # Param objects are mutable; keep the DAG's intact
    for name, value in conf.items():
        params[name] = value  # ParamsDict validates on assignment, as the trigger form does
    params.validate()
    assert set(conf) == set(params.keys())  # every param of the manual run, none unknown
    bad = copy.deepcopy(dagbag.dags[dag_id].params)
    with pytest.raises(ParamValidationError):
        bad[flow.ids_param] = ["1' OR 1=1"]


def test_a_resolved_row_is_hidden_until_the_record_fails_again():
    error = _error()
    assert not is_resolved(error, None)
    assert is_resolved(error, {"by": "admin", "at": T0.isoformat()})
    again = error.model_copy(update={"last_tried": T0 + dt.timedelta(hours=1)})
    assert not is_resolved(again, {"by": "admin", "at": T0.isoformat()})


def test_the_page_reads_only_a_drift_csv_under_the_reports_folder(tmp_path, monkeypatch):
    """The report path comes from a Variable anyone allowed to edit Variables can change: the page must
    never show another file of the API server (its passwords file, say)."""
    from crsync_health.health_data import is_reconciliation_report

    monkeypatch.setenv("CRSYNC_REPORTS_PATH", f"file://{tmp_path}/reports")
    base = f"file://{tmp_path}/reports/crsync_reconciliation"
    assert is_reconciliation_report(f"{base}/scheduled__2026-12-01T04_00_00_00_00/drift.csv")
    for path in (
        f"file://{tmp_path}/airflow/simple_auth_manager_passwords.json.generated",
        f"{base}/../../simple_auth_manager_passwords.json.generated",
        f"{base}/../drift.csv",
        f"{base}/run/../../x/drift.csv",
        f"{base}/drift.csv",
        f"{base}/run/report.html",
        "file:///etc/passwd",
    ):
        assert not is_reconciliation_report(path), path


def test_a_hand_edited_reconciliation_variable_shows_what_is_wrong_instead_of_failing_the_page(
    airflow_db, tmp_path, monkeypatch
):
    from airflow.models.variable import Variable

    from crsync.runtime import health_log
    from crsync_health.health_data import latest_reconciliation

    monkeypatch.setenv("CRSYNC_REPORTS_PATH", f"file://{tmp_path}/reports")
    secret = tmp_path / "passwords.json"
    secret.write_text('{"admin": "s3cret"}\n')
    try:
        Variable.set(health_log.RECONCILIATION_VARIABLE, "{not json")
        latest = latest_reconciliation()
        assert latest is not None and "is not the reconciliation's record" in latest["rows_error"]
        Variable.set(health_log.RECONCILIATION_VARIABLE, f'{{"counts": {{}}, "reports": {{"csv": "file://{secret}"}}}}')
        latest = latest_reconciliation()
        assert latest["rows"] == [] and latest["columns"] == []
        assert "not a drift.csv under the reports folder" in latest["rows_error"]
        assert "s3cret" not in str(latest)
    finally:
        Variable.delete(health_log.RECONCILIATION_VARIABLE)


def test_retry_of_a_paused_dag_is_refused_with_the_fix_and_starts_no_run(airflow_db):
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from crsync_health.health_actions import ActionError, retry

    dag_id = "sf_opportunity_to_ns_sales_order"
    with create_session() as session:
        if session.get(DagBundleModel, "dags-folder") is None:
            session.add(DagBundleModel(name="dags-folder"))
            session.flush()
        existing = session.get(DagModel, dag_id)
        was_paused = existing.is_paused if existing is not None else None
        model = existing or DagModel(dag_id=dag_id, bundle_name="dags-folder")
        model.is_paused = True
        session.merge(model)
    try:
        with pytest.raises(ActionError, match="is paused.*unpause it"):
            retry(dag_id, ["006000000000001AAA"], user_name="admin")
        with create_session() as session:
            assert session.query(DagRun).filter(DagRun.dag_id == dag_id).count() == 0
    finally:  # leave the DAG as it was for the other tests of the session
        with create_session() as session:
            if was_paused is None:
                session.query(DagModel).filter(DagModel.dag_id == dag_id).delete()
            else:
                session.get(DagModel, dag_id).is_paused = was_paused
