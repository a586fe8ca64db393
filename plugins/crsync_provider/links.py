"""Extra links from a task to the records it wrote: "Open in NetSuite", "Open in Salesforce".

Airflow 3 calls ``get_link`` on the worker when the task finishes (with the operator that ran) and
stores the URL in XCom for the UI, so the operators keep the URL they built in ``execute``
(``NetSuiteUpsertOperator`` and ``@task.netsuite_write``); a ``@task.salesforce_write`` function names
its record with :func:`link_task_to_salesforce`.
A link is empty when the UI base URL is not known (e.g. a NetSuite base URL override without
``ui_base_url``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

#: REST record type -> NetSuite UI page for one record (``?id=<internal id>``).
_NETSUITE_PAGES = {
    "customer": "app/common/entity/custjob.nl",
    "contact": "app/common/entity/contact.nl",
    "vendor": "app/common/entity/vendor.nl",
    "employee": "app/common/entity/employee.nl",
    "noninventoryitem": "app/common/item/item.nl",
    "inventoryitem": "app/common/item/item.nl",
    "serviceitem": "app/common/item/item.nl",
}
_NETSUITE_TRANSACTIONS = {
    "salesorder",
    "estimate",
    "invoice",
    "opportunity",
    "purchaseorder",
    "creditmemo",
    "cashsale",
    "returnauthorization",
}


def netsuite_record_url(ui_base_url: str | None, record_type: str | None, record_id: Any) -> str:
    """URL of a NetSuite record in the UI (the UI home when the record type has no known page)."""
    if not ui_base_url:
        return ""
    base = ui_base_url.rstrip("/")
    if not record_type or not record_id:
        return f"{base}/app/center/card.nl"
    kind = record_type.lower()
    if kind in _NETSUITE_TRANSACTIONS:
        return f"{base}/app/accounting/transactions/transaction.nl?id={record_id}"
    if kind in _NETSUITE_PAGES:
        return f"{base}/{_NETSUITE_PAGES[kind]}?id={record_id}"
    return f"{base}/app/center/card.nl"


def salesforce_record_url(base_url: str | None, sobject: str | None, record_id: Any, count: int = 1) -> str:
    """URL of a Salesforce record (one record) or of the object's list view (several)."""
    if not base_url:
        return ""
    base = base_url.rstrip("/")
    if count == 1 and record_id:
        return f"{base}/{record_id}"
    if sobject:
        return f"{base}/lightning/o/{sobject}/list"
    return base


class NetSuiteRecordLink(BaseOperatorLink):
    """ "Open in NetSuite": the record a NetSuite task wrote (the first one of a batch)."""

    name = "Open in NetSuite"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return str(getattr(operator, "netsuite_link", "") or "")


class SalesforceRecordLink(BaseOperatorLink):
    """ "Open in Salesforce": the record a Salesforce task wrote, or the object's list view."""

    name = "Open in Salesforce"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return str(getattr(operator, "salesforce_link", "") or "")


def _first_written(results: Iterable[Mapping[str, Any]]) -> tuple[Any, int]:
    """(id of the first record written, how many were written) from write results or collection results."""
    first, count = None, 0
    for result in results:
        written = (
            result.get("success") if "success" in result else result.get("status") not in (None, "failed")
        )
        if written and result.get("id"):
            count += 1
            first = first or result["id"]
    return first, count


def _running_task(context: Mapping[str, Any] | None) -> Any:
    return context.get("task") if context else None


def link_task_to_salesforce(
    context: Mapping[str, Any] | None,
    base_url: str | None,
    sobject: str,
    results: Iterable[Mapping[str, Any]],
) -> None:
    """Point the running task's "Open in Salesforce" at the record it wrote, or the object's list view."""
    task = _running_task(context)
    record_id, count = _first_written(results)
    if task is not None and count:
        task.salesforce_link = salesforce_record_url(base_url, sobject, record_id, count=count)
