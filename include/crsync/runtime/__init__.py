"""The Airflow-facing layer of the integration: windows, params, schedules, alerts and the flows' tasks.

Unlike the rest of :mod:`crsync` (pure mapping logic), modules here may use Airflow and the hooks.
DAG files in ``dags/`` stay thin: they wire these pieces together.
"""
