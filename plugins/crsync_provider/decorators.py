"""``@netsuite_write_task`` and ``@salesforce_write_task``: ``@task`` with an "Open in ..." extra link.

The flows' load tasks are TaskFlow functions (the work is in ``crsync.runtime.flows``), so they cannot
declare ``operator_extra_links`` the way :class:`~crsync_provider.operators.netsuite.NetSuiteUpsertOperator`
does. These decorators build the same Python task on an operator class that carries the link; the task
body names the record it wrote with :func:`crsync_provider.links.link_task_to_netsuite` /
:func:`~crsync_provider.links.link_task_to_salesforce`, and Airflow stores the URL when the task ends.

Unlike ``@task``, they default to ``multiple_outputs=False``: the flows return dicts (annotated
``-> dict``), from which ``@task`` would infer ``multiple_outputs=True`` and store the whole dict *and*
each key again (the payload twice, in XCom rows and object-storage files). Pass
``multiple_outputs=True`` explicitly to get Airflow's behaviour.

Usage (same keyword arguments as ``@task``)::

    @netsuite_write_task(pool="netsuite_api")
    def load_orders(chunk, **context): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.sdk.bases.decorator import task_decorator_factory

from crsync_provider.links import NetSuiteRecordLink, SalesforceRecordLink


class NetSuiteWriteDecoratedOperator(_PythonDecoratedOperator):
    """A ``@task`` that writes NetSuite records, with "Open in NetSuite"."""

    custom_operator_name = "@netsuite_write_task"
    operator_extra_links = (NetSuiteRecordLink(),)
    ui_color = "#cfe3f5"
    #: Set by the task body (``link_task_to_netsuite``); read by the link when the task ends.
    netsuite_link = ""


class SalesforceWriteDecoratedOperator(_PythonDecoratedOperator):
    """A ``@task`` that writes Salesforce records, with "Open in Salesforce"."""

    custom_operator_name = "@salesforce_write_task"
    operator_extra_links = (SalesforceRecordLink(),)
    ui_color = "#e0f0ff"
    #: Set by the task body (``link_task_to_salesforce``); read by the link when the task ends.
    salesforce_link = ""


def netsuite_write_task(python_callable: Callable | None = None, **kwargs: Any) -> Any:
    """``@task`` for a function that writes NetSuite records (adds "Open in NetSuite")."""
    kwargs.setdefault("multiple_outputs", False)  # the returned dict is stored once (module docstring)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=NetSuiteWriteDecoratedOperator, **kwargs
    )


def salesforce_write_task(python_callable: Callable | None = None, **kwargs: Any) -> Any:
    """``@task`` for a function that writes Salesforce records (adds "Open in Salesforce")."""
    kwargs.setdefault("multiple_outputs", False)  # the returned dict is stored once (module docstring)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=SalesforceWriteDecoratedOperator, **kwargs
    )
