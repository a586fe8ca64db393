"""Salesforce operators: a windowed SOQL extract and an upsert load. Thin: the hook does the work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from crsync_provider.hooks.salesforce import DEFAULT_BULK_THRESHOLD, SalesforceSyncHook, bind_soql
from crsync_provider.links import SalesforceRecordLink, salesforce_record_url

if TYPE_CHECKING:
    from airflow.sdk import Context


def _as_datetime(value: Any) -> Any:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


class SalesforceExtractOperator(BaseOperator):
    """
    Run a SOQL query windowed by templated bounds; return all records (every page, child subqueries).

    The query may use ``:window_start`` / ``:window_end`` (written as SOQL datetime literals, UTC,
    unquoted) and ``:name`` placeholders from ``parameters``::

        SalesforceExtractOperator(
            task_id="opportunities",
            soql="SELECT Id, Name, (SELECT Id FROM OpportunityLineItems) FROM Opportunity "
            "WHERE SystemModstamp >= :window_start AND SystemModstamp < :window_end",
            window_start="{{ data_interval_start }}",
            window_end="{{ data_interval_end }}",
        )

    :param soql: the SOQL query (templated).
    :param salesforce_conn_id: the Salesforce connection.
    :param parameters: values for ``:name`` placeholders (templated).
    :param window_start: bound for ``:window_start`` (templated).
    :param window_end: bound for ``:window_end`` (templated).
    :param batch_size: rows per page (``Sforce-Query-Options``; Salesforce's default is 2,000).
    :param include_deleted: use ``queryAll`` (deleted and archived rows too).
    :param strip_attributes: drop the ``attributes`` members.
    :param flatten_children: child subqueries as lists of records (all their pages).
    """

    template_fields: Sequence[str] = ("soql", "parameters", "window_start", "window_end")
    template_ext: Sequence[str] = (".soql",)
    template_fields_renderers = {"soql": "sql", "parameters": "json"}
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        soql: str,
        salesforce_conn_id: str = SalesforceSyncHook.default_conn_name,
        parameters: Mapping[str, Any] | None = None,
        window_start: str | datetime | None = None,
        window_end: str | datetime | None = None,
        batch_size: int | None = None,
        include_deleted: bool = False,
        strip_attributes: bool = True,
        flatten_children: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.soql = soql
        self.salesforce_conn_id = salesforce_conn_id
        self.parameters = parameters
        self.window_start = window_start
        self.window_end = window_end
        self.batch_size = batch_size
        self.include_deleted = include_deleted
        self.strip_attributes = strip_attributes
        self.flatten_children = flatten_children

    def bound_soql(self) -> str:
        values = {k: _as_datetime(v) for k, v in dict(self.parameters or {}).items()}
        if self.window_start is not None:
            values["window_start"] = _as_datetime(self.window_start)
        if self.window_end is not None:
            values["window_end"] = _as_datetime(self.window_end)
        return bind_soql(self.soql, values)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        hook = SalesforceSyncHook(salesforce_conn_id=self.salesforce_conn_id)
        records = list(
            hook.query(
                self.bound_soql(),
                batch_size=self.batch_size,
                include_deleted=self.include_deleted,
                strip_attributes=self.strip_attributes,
                flatten_children=self.flatten_children,
            )
        )
        self.log.info("SOQL returned %s record(s)", len(records))
        return records


class SalesforceUpsertOperator(BaseOperator):
    """
    Upsert records by external id: sObject Collections (200 per call) or Bulk API 2.0 above a size.

    Returns one write result per record, in order:
    ``{"key", "external_id", "status": "created"|"updated"|"failed", "id", "error"}``.
    Per-record failures do not fail the task unless ``fail_on_error`` is set.

    :param sobject: the object API name (templated), e.g. ``Contract``.
    :param external_id_field: the external-id field (templated), e.g. ``NetSuite_Id__c``.
    :param records: dicts of field -> value including the external-id field (templated / XCom);
        lookups by parent external id work (``"Account": {"NetSuite_Id__c": "1001"}``).
    :param salesforce_conn_id: the Salesforce connection.
    :param bulk_threshold: more records than this go through Bulk API 2.0 (default 2,000).
    :param key_field: field whose value is the result ``key`` (default: the external id).
    :param fail_on_error: raise after writing everything if any record failed.
    """

    template_fields: Sequence[str] = ("sobject", "external_id_field", "records")
    operator_extra_links = (SalesforceRecordLink(),)
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        sobject: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]] | Any,
        salesforce_conn_id: str = SalesforceSyncHook.default_conn_name,
        bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
        key_field: str | None = None,
        fail_on_error: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sobject = sobject
        self.external_id_field = external_id_field
        self.records = records
        self.salesforce_conn_id = salesforce_conn_id
        self.bulk_threshold = bulk_threshold
        self.key_field = key_field
        self.fail_on_error = fail_on_error
        self.salesforce_link = ""

    def execute(self, context: Context) -> list[dict[str, Any]]:
        hook = SalesforceSyncHook(salesforce_conn_id=self.salesforce_conn_id)
        records = list(self.records or [])
        results = hook.upsert_write_results(
            self.sobject,
            self.external_id_field,
            records,
            key_field=self.key_field,
            bulk_threshold=self.bulk_threshold,
        )
        counts = Counter(r["status"] for r in results)
        self.log.info(
            "Salesforce %s upsert: %s created, %s updated, %s failed (of %s)",
            self.sobject,
            counts["created"],
            counts["updated"],
            counts["failed"],
            len(results),
        )
        for result in results:
            if result["status"] == "failed":
                self.log.warning("Salesforce refused %s: %s", result["key"], result["error"])
        written = [r for r in results if r["status"] != "failed"]
        if written:
            self.salesforce_link = salesforce_record_url(
                hook.instance_url, self.sobject, written[0]["id"], count=len(written)
            )
        if self.fail_on_error and counts["failed"]:
            raise RuntimeError(f"{counts['failed']} of {len(results)} Salesforce upsert(s) failed")
        return results
