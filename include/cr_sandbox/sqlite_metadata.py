"""Connect arguments for a local SQLite Airflow metadata DB (make up, make demo, the tests).

SQLite allows one writer at a time; Python's sqlite3 gives up after 5 s with "database is locked" when
the scheduler, the API server, task processes and a CLI command (``airflow backfill create``) write at
once. Waiting longer serialises them instead. bin/airflow-env.sh points
``[database] sql_alchemy_connect_args`` here only when no other metadata DB is configured; production
deployments use PostgreSQL or MySQL and never load this (it lives with the development tools, outside the
wheel a production image installs).
"""

from __future__ import annotations

CONNECT_ARGS: dict[str, object] = {"timeout": 60}
