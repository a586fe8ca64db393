"""Errors that retrying cannot fix: a task that raises one fails at once, without Airflow's task retries.

They subclass Airflow's :class:`~airflow.sdk.exceptions.AirflowFailException` (the task runner fails the
task without retrying it, and the failure notifier still reports it), so the hooks need no Airflow-aware
wrapper at every call site; callers can still catch them by their own classes (``ValueError`` for bad
connection settings, the hooks' error classes for refused credentials). Each message says what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

if TYPE_CHECKING:
    from airflow.sdk import Connection

#: What every message ends with: after the fix, the failed task is cleared with its downstream tasks (a retry
#: would fail the same way). The hourly order flow's load lock is taken only by ``claim_load_lock``
#: (docs/operations.md, "Clearing tasks of the hourly DAG"), so for that flow the message names that task.
THEN_CLEAR = (
    "then clear the failed task with its downstream tasks (in the hourly order flow, clear from "
    "claim_load_lock on)"
)


class PermanentError(AirflowFailException):
    """An error that retrying cannot fix (bad credentials, missing or invalid connection)."""


class ConnectionNotDefinedError(PermanentError):
    """The Airflow connection a hook needs does not exist."""


class ConnectionConfigError(PermanentError, ValueError):
    """The connection exists but a setting is missing or invalid."""


def connection_or_fail(get: Callable[[str], Connection], conn_id: str, conn_type: str) -> Connection:
    """``get(conn_id)``, or :class:`ConnectionNotDefinedError` saying where to define it."""
    try:
        return get(conn_id)
    except AirflowNotFoundException as exc:
        raise ConnectionNotDefinedError(
            f"Airflow connection {conn_id!r} (type {conn_type}) is not defined: create it in the UI "
            f"(Admin > Connections), a secrets backend or the environment variable "
            f"AIRFLOW_CONN_{conn_id.upper()}, {THEN_CLEAR}"
        ) from exc


def credentials_fix(conn_id: str, what: str) -> str:
    """The sentence appended to a refused-credentials error."""
    return f"Fix {what} of Airflow connection {conn_id!r}, {THEN_CLEAR}"


__all__ = [
    "ConnectionConfigError",
    "ConnectionNotDefinedError",
    "PermanentError",
    "THEN_CLEAR",
    "connection_or_fail",
    "credentials_fix",
]
