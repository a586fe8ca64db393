"""The window a run with a logical date reads (``dags test DAG DATE``, the UI form's logical date): the
schedule period that ends at or before the date, as docs/operations.md ("Which window a run reads")
documents it. Pinned on the DAGs' own timetables, so an Airflow upgrade that changes it fails here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def timetables() -> dict:
    """Each DAG's timetable as the scheduler and ``dags test`` use it."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return {dag_id: coerce_to_core_timetable(dag.timetable) for dag_id, dag in bag.dags.items()}


@pytest.mark.parametrize(
    ("dag_id", "date", "start", "end"),
    [
        ("sf_opportunity_to_ns_sales_order", "2026-12-01T11:00", "2026-12-01T10:00", "2026-12-01T11:00"),
        ("sf_opportunity_to_ns_sales_order", "2026-12-01T10:30", "2026-12-01T09:00", "2026-12-01T10:00"),
        ("ns_contract_to_sf_contract", "2026-12-02T02:00", "2026-12-01T02:00", "2026-12-02T02:00"),
        ("ns_contract_to_sf_contract", "2026-12-02T00:00", "2026-11-30T02:00", "2026-12-01T02:00"),
        ("ns_contract_to_sf_contract", "2026-12-02T10:00", "2026-12-01T02:00", "2026-12-02T02:00"),
        ("ns_contract_item_to_sf_contract_item", "2026-12-02T02:30", "2026-12-01T02:30", "2026-12-02T02:30"),
        ("ns_renewal_estimate_to_sf_opportunity", "2026-12-02T03:00", "2026-12-01T03:00", "2026-12-02T03:00"),
        ("crsync_reconciliation", "2026-12-02T04:00", "2026-12-01T04:00", "2026-12-02T04:00"),
    ],
)
def test_a_logical_date_selects_the_window_that_ends_at_or_before_it(timetables, dag_id, date, start, end):
    from airflow.sdk import timezone

    # As dags test and the trigger API do: the date coerced to Airflow's (pendulum) datetime.
    interval = timetables[dag_id].infer_manual_data_interval(run_after=timezone.coerce_datetime(utc(date)))

    assert (interval.start, interval.end) == (utc(start), utc(end))
