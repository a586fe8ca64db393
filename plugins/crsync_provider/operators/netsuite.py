"""NetSuite operators: a windowed SuiteQL extract and a many-record load. Thin: the hook does the work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from crsync_provider.connection_fields import NETSUITE_DEFAULT_CONN_ID
from crsync_provider.links import NetSuiteRecordLink, netsuite_record_url

if TYPE_CHECKING:
    from airflow.sdk import Context

    from crsync_provider.hooks.netsuite import NetSuiteHook
    from crsync_provider.hooks.suiteql import KeysetPaged

NETSUITE_POOL = "netsuite_api"


def netsuite_hook(conn_id: str, *, concurrency: int) -> NetSuiteHook:
    """The hook for ``conn_id``, imported when a task runs: it brings requests and the HTTP stack, which a
    DAG file's parse (of every file that uses these operators or their task decorators) never needs.

    :param concurrency: requests the task may have in flight: its ``netsuite_api`` pool slots, so tasks
        sharing the pool never have more requests in flight than it has slots (never above the
        connection's ``concurrency_limit`` either).
    """
    from crsync_provider.hooks.netsuite import NetSuiteHook

    return NetSuiteHook(netsuite_conn_id=conn_id, concurrency_limit=concurrency)


def _as_datetime(value: Any) -> Any:
    """Rendered templates are strings: ISO timestamps become datetimes (SuiteQL TO_TIMESTAMP)."""
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


class NetSuiteSuiteQLOperator(BaseOperator):
    """
    Run a SuiteQL query, windowed by templated bounds, and return its rows (a list of dicts).

    The query may use ``:window_start`` / ``:window_end`` and ``:name`` placeholders from
    ``parameters``; values are written as SuiteQL literals (datetimes as ``TO_TIMESTAMP(...)``)::

        NetSuiteSuiteQLOperator(
            task_id="contracts",
            query="SELECT id, name FROM customrecord_contracts "
            "WHERE lastmodified >= :window_start AND lastmodified < :window_end ORDER BY id",
            window_start="{{ data_interval_start }}",
            window_end="{{ data_interval_end }}",
        )

    :param query: SuiteQL (templated; a ``.sql`` file path works too). ``ORDER BY`` a unique key.
    :param netsuite_conn_id: the NetSuite connection.
    :param parameters: values for ``:name`` placeholders (templated).
    :param window_start: lower bound bound to ``:window_start`` (templated; ISO string or datetime).
    :param window_end: upper bound bound to ``:window_end`` (templated).
    :param page_size: rows per request (at most 1000).
    :param keyset_key: page by this unique key past the 100,000-row cap; the query must then contain
        ``{key_filter}`` and ``ORDER BY`` the key (see :meth:`NetSuiteHook.suiteql_keyset`).
    """

    template_fields: Sequence[str] = ("query", "parameters", "window_start", "window_end")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"query": "sql", "parameters": "json"}
    ui_color = "#cfe3f5"

    def __init__(
        self,
        *,
        query: str,
        netsuite_conn_id: str = NETSUITE_DEFAULT_CONN_ID,
        parameters: Mapping[str, Any] | None = None,
        window_start: str | datetime | None = None,
        window_end: str | datetime | None = None,
        page_size: int = 1000,
        keyset_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("pool", NETSUITE_POOL)
        super().__init__(**kwargs)
        self.query = query
        self.netsuite_conn_id = netsuite_conn_id
        self.parameters = parameters
        self.window_start = window_start
        self.window_end = window_end
        self.page_size = page_size
        self.keyset_key = keyset_key

    def bound_parameters(self) -> dict[str, Any]:
        values = {k: _as_datetime(v) for k, v in dict(self.parameters or {}).items()}
        if self.window_start is not None:
            values["window_start"] = _as_datetime(self.window_start)
        if self.window_end is not None:
            values["window_end"] = _as_datetime(self.window_end)
        return values

    def execute(self, context: Context) -> list[dict[str, Any]]:
        hook = netsuite_hook(self.netsuite_conn_id, concurrency=self.pool_slots)
        return self.read_rows(
            hook,
            self.query,
            page_size=self.page_size,
            key=self.keyset_key,
            parameters=self.bound_parameters(),
        )

    def read_rows(
        self,
        hook: NetSuiteHook,
        query: str | KeysetPaged,
        *,
        page_size: int,
        key: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Every row of ``query``, paged by ``hook``: a keyset query (or a template with ``key``) by
        :meth:`NetSuiteHook.suiteql_keyset`, plain SuiteQL by :meth:`NetSuiteHook.suiteql` (offset pages).

        :param hook: the hook to read through.
        :param query: SuiteQL, or a :class:`~crsync_provider.hooks.suiteql.KeysetPaged` query.
        :param page_size: rows per request (at most 1000).
        :param key: the unique key of a keyset template string (``{key_filter}`` in ``query``).
        :param parameters: values for ``:name`` placeholders.
        """
        if isinstance(query, str) and not key:
            rows = hook.suiteql(query, page_size=page_size, parameters=parameters)
        else:
            rows = hook.suiteql_keyset(query, key=key or "id", page_size=page_size, parameters=parameters)
        out = list(rows)
        self.log.info("SuiteQL returned %s row(s)", len(out))
        return out


class NetSuiteUpsertOperator(BaseOperator):
    """
    Write NetSuite write instructions (design.md "Interfaces") through the bounded client.

    Each instruction ``{"key", "record_type", "external_id", "body", "transform_from"}`` becomes one
    write request: ``PUT record/v1/<type>/eid:<external id>``, or a transform carrying ``externalId``
    when the record does not exist yet. Returns one write result per instruction, in order:
    ``{"key", "external_id", "status": "created"|"updated"|"unchanged"|"failed", "id", "error"}``.
    Per-record failures do not fail the task (the run summary does that after write-back) unless
    ``fail_on_error`` is set. At most ``pool_slots`` requests are in flight (and never more than the
    connection's ``concurrency_limit``).

    :param writes: the write instructions (templated; usually an upstream task's XCom).
    :param netsuite_conn_id: the NetSuite connection.
    :param fail_on_error: raise after writing everything if any record failed.
    """

    template_fields: Sequence[str] = ("writes",)
    operator_extra_links = (NetSuiteRecordLink(),)
    ui_color = "#cfe3f5"

    def __init__(
        self,
        *,
        writes: Sequence[Mapping[str, Any]] | Any,
        netsuite_conn_id: str = NETSUITE_DEFAULT_CONN_ID,
        fail_on_error: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("pool", NETSUITE_POOL)
        super().__init__(**kwargs)
        self.writes = writes
        self.netsuite_conn_id = netsuite_conn_id
        self.fail_on_error = fail_on_error
        self.netsuite_link = ""

    def execute(self, context: Context) -> list[dict[str, Any]]:
        hook = netsuite_hook(self.netsuite_conn_id, concurrency=self.pool_slots)
        results = self.upsert(hook, list(self.writes or []))
        failed = sum(1 for result in results if result["status"] == "failed")
        if self.fail_on_error and failed:
            raise RuntimeError(f"{failed} of {len(results)} NetSuite write(s) failed")
        return results

    def upsert(self, hook: NetSuiteHook, writes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Write ``writes`` through ``hook``, log the outcome, point "Open in NetSuite" at the first record
        written; return one write result per instruction, in order.

        :param hook: the hook to write through.
        :param writes: the write instructions.
        """
        results = hook.write_many(writes)
        counts = Counter(r["status"] for r in results)
        unchanged = f", {counts['unchanged']} left as they were (create-only, found)" if counts["unchanged"] else ""
        self.log.info(
            "NetSuite writes: %s created, %s updated, %s failed (of %s)%s",
            counts["created"],
            counts["updated"],
            counts["failed"],
            len(results),
            unchanged,
        )
        for result in results:
            if result["status"] == "failed":
                self.log.warning("NetSuite refused %s: %s", result["key"], result["error"])
        written = [
            (w, r) for w, r in zip(writes, results, strict=True) if r["status"] != "failed" and r["id"]
        ]
        if written:
            write, result = written[0]
            record_type = write.get("record_type") if isinstance(write, Mapping) else None
            self.netsuite_link = netsuite_record_url(hook.ui_base_url, record_type, result["id"])
        return results
