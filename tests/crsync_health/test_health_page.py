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
        "problems": [],
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


def test_retry_of_a_paused_dag_is_refused_with_the_fix_and_starts_no_run(one_open_error):
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


# -- the actions against the metadata DB's Variables -----------------------------------------------------
OPP_FLOW = "sf_opportunity_to_ns_sales_order"
OPEN_KEY, OTHER_KEY = "006000000000001AAA", "006000000000002AAA"


@pytest.fixture
def one_open_error(airflow_db):
    """OPEN_KEY is the hourly flow's one open error (last tried T0); the flow's page Variables are removed
    afterwards."""
    from airflow.models.variable import Variable

    from crsync.runtime import health_log

    names = [health_log.errors_variable(OPP_FLOW), health_log.resolved_variable(OPP_FLOW)]
    Variable.set(names[0], health_log.FlowHealth(errors=[_error(OPEN_KEY)]).model_dump_json())
    try:
        yield
    finally:
        for name in names:
            Variable.delete(name)


def _runs_of(dag_id: str) -> int:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(DagRun).filter(DagRun.dag_id == dag_id).count()


def test_retry_sends_only_the_flows_open_errors_and_refuses_any_other_key(one_open_error):
    """A page loaded before a run wrote a record (or a hand-made request) must not send records nobody
    listed: a key that is not an open error of the flow refuses the whole Retry, and no run starts."""
    from crsync_health.health_actions import ActionError, retry

    before = _runs_of(OPP_FLOW)
    with pytest.raises(ActionError, match=f"Not open errors of {OPP_FLOW}.*{OTHER_KEY}.*nothing was done"):
        retry(OPP_FLOW, [OPEN_KEY, OTHER_KEY], user_name="admin")
    with pytest.raises(ActionError, match="Not open errors of ns_contract_to_sf_contract"):
        retry("ns_contract_to_sf_contract", ["1234"], user_name="admin")
    assert _runs_of(OPP_FLOW) == before


def test_retry_of_a_flow_disabled_in_the_settings_is_refused_instead_of_a_green_run_that_skips_it(
    one_open_error, tmp_path, monkeypatch
):
    from crsync.settings import DEFAULT_SETTINGS_FILE, SETTINGS_ENV_VAR
    from crsync_health.health_actions import ActionError, retry

    settings = tmp_path / "settings.yaml"
    settings.write_text(DEFAULT_SETTINGS_FILE.read_text().replace(f"  {OPP_FLOW}: true", f"  {OPP_FLOW}: false"))
    monkeypatch.setenv(SETTINGS_ENV_VAR, str(settings))
    before = _runs_of(OPP_FLOW)
    with pytest.raises(ActionError, match=f"disabled in the integration settings \\(enabled_flows.{OPP_FLOW}: false\\)"):
        retry(OPP_FLOW, [OPEN_KEY], user_name="admin")
    settings.write_text("enabled_flows: [")
    with pytest.raises(ActionError, match="settings are invalid"):
        retry(OPP_FLOW, [OPEN_KEY], user_name="admin")
    assert _runs_of(OPP_FLOW) == before


def test_resolve_hides_only_the_try_the_page_showed_so_a_newer_failure_stays_listed(one_open_error):
    from crsync_health.health_actions import ActionError, resolve
    from crsync_health.health_data import open_errors

    def listed() -> list[str]:
        return [r.error.key for r in open_errors(lambda flow, key: "", flow=OPP_FLOW)]

    # The page showed an earlier try than the record's last one (a run failed it again meanwhile).
    earlier = (T0 - dt.timedelta(hours=1)).isoformat()
    done = resolve(OPP_FLOW, [OPEN_KEY], user_name="admin", tried={OPEN_KEY: earlier})
    assert done["failed_again"] == [OPEN_KEY]
    assert listed() == [OPEN_KEY]
    # The page showed the last try: the row leaves.
    done = resolve(OPP_FLOW, [OPEN_KEY], user_name="admin", tried={OPEN_KEY: T0.isoformat()})
    assert done["failed_again"] == [] and listed() == []
    with pytest.raises(ActionError, match="not an ISO time with its zone"):
        resolve(OPP_FLOW, [OPEN_KEY], user_name="admin", tried={OPEN_KEY: "2026-12-01T10:00:00"})
    with pytest.raises(ActionError, match="nothing was resolved"):
        resolve(OPP_FLOW, [OTHER_KEY], user_name="admin")


def test_two_resolves_at_the_same_moment_keep_both_marks(airflow_db):
    """Read-modify-write of one Variable: two users resolving rows of one flow at once must not write over
    each other's marks."""
    import threading

    from airflow.models.variable import Variable

    from crsync.runtime import health_log
    from crsync_health.health_actions import resolve
    from crsync_health.health_data import resolved_marks

    keys = [f"0060000000000{i:02d}AAA" for i in range(8)]
    names = [health_log.errors_variable(OPP_FLOW), health_log.resolved_variable(OPP_FLOW)]
    Variable.set(names[0], health_log.FlowHealth(errors=[_error(k) for k in keys]).model_dump_json())
    Variable.set(names[1], "{}")
    try:
        for _round in range(3):
            start = threading.Barrier(len(keys))
            errors: list[BaseException] = []

            def one(key: str, start: threading.Barrier = start, errors: list = errors) -> None:
                start.wait()
                try:
                    resolve(OPP_FLOW, [key], user_name=f"user-{key[-5:]}")
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=one, args=(k,)) for k in keys]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not errors, errors
            assert sorted(resolved_marks(OPP_FLOW)) == sorted(keys)
            Variable.set(names[1], "{}")
    finally:
        for name in names:
            Variable.delete(name)


def test_unreadable_page_variables_are_shown_as_problems_never_as_no_open_errors(airflow_db):
    """A hand-edited Variable must neither take the page down nor read as a clean bill of health."""
    from airflow.models.variable import Variable

    from crsync.runtime import health_log
    from crsync_health.health_data import latest_reconciliation, open_errors, record_problems

    errors_name, marks_name = health_log.errors_variable(OPP_FLOW), health_log.resolved_variable(OPP_FLOW)
    try:
        Variable.set(errors_name, '{"errors": "not a list"}')
        Variable.set(marks_name, '{"a": "yes", "b": {"at": "yesterday"}, "c": {"at": "2026-12-01T10:00:00"}}')
        Variable.set(health_log.RECONCILIATION_VARIABLE, '{"run_id": "r", "reports": "x"}')
        problems = record_problems([OPP_FLOW])
        assert any(errors_name in p and "cannot be shown" in p for p in problems), problems
        assert any(marks_name in p and "3 unreadable mark(s)" in p for p in problems), problems
        assert open_errors(lambda flow, key: "", flow=OPP_FLOW) == []  # no 500
        html = _render([], problems=problems)
        assert "cannot be shown" in html
        latest = latest_reconciliation()
        assert latest is not None and "is not the reconciliation's record" in latest["rows_error"]
        # A readable errors record with a mark that is not: the row is listed (not resolved), no 500.
        Variable.set(errors_name, health_log.FlowHealth(errors=[_error(OPEN_KEY)]).model_dump_json())
        Variable.set(marks_name, f'{{"{OPEN_KEY}": {{"at": "yesterday"}}}}')
        assert [r.error.key for r in open_errors(lambda flow, key: "", flow=OPP_FLOW)] == [OPEN_KEY]
    finally:
        for name in (errors_name, marks_name, health_log.RECONCILIATION_VARIABLE):
            Variable.delete(name)


def test_a_newer_reconciliation_that_failed_is_shown_over_the_older_figures():
    """A failed reconciliation never writes its record: the page must not keep showing an older (perhaps
    clean) one as the latest."""
    from crsync_health.health_data import newer_reconciliation_run

    shown = {"run_id": "scheduled__1", "total": 0}
    assert newer_reconciliation_run(None, shown) is None
    assert newer_reconciliation_run({"run_id": "scheduled__1", "state": "success"}, shown) is None
    failed = {"run_id": "scheduled__2", "state": "failed"}
    assert newer_reconciliation_run(failed, shown) == failed
    assert newer_reconciliation_run(failed, None) == failed
    running = {"run_id": "scheduled__2", "state": "running"}
    assert newer_reconciliation_run(running, shown) == running

    record = {"run_id": "scheduled__1", "finished_at": "2026-12-01T04:05:00+00:00", "total": 0, "counts": {},
              "reports": {}, "columns": [], "rows": [], "rows_error": "", "newer_run": failed}  # fmt: skip
    html = _render([], reconciliation=record)
    assert 'id="newer-reconciliation"' in html and "scheduled__2" in html and "is failed" in html
    assert "from an older run" in html and "finished 2026-12-01 04:05 UTC" in html
    html = _render([], reconciliation={**record, "run_id": ""})
    assert "No reconciliation has finished yet" in html and "0 drift row(s)" not in html
