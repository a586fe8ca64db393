"""The order lifecycle's tables and columns (forms, the R07/R03 queue), kept apart from db.SCHEMA."""

from __future__ import annotations

import sqlite3


def lifecycle_schema(conn: sqlite3.Connection) -> None:
    """Create them on a new or older state file (idempotent)."""
    from cr_sandbox.netsuite import approval, contract_scripts  # they import db's neighbours at load time

    approval.add_columns(conn)
    conn.executescript(contract_scripts.SCHEMA)
