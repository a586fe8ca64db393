"""``@task.netsuite_extract``, ``@task.netsuite_write``, ``@task.salesforce_write``: TaskFlow tasks run by
the provider's operators (the write tasks with an "Open in ..." extra link).

Registered as provider ``task-decorators`` (``get_provider_info``), so a DAG writes
``@task.netsuite_write(...)``; ``from crsync_provider.decorators import netsuite_write_task`` is the same
decorator. All are built on Airflow's public :class:`~airflow.sdk.bases.decorator.DecoratedOperator`
and the standard provider's :class:`~airflow.providers.standard.operators.python.PythonOperator` (the
way ``@task`` itself is), so they take the same keyword arguments as ``@task``.

``@task.netsuite_write`` is :class:`~crsync_provider.operators.netsuite.NetSuiteUpsertOperator` driven
by a function: the function *prepares* the writes and returns a :class:`NetSuiteWriteRequest`; the
operator then *performs* them (one write request per record, through the hook's bounded client), points
"Open in NetSuite" at the first record written (NetSuite's home page when none was), and returns
``{"results": [write result, ...], **request.carry}``::

    @task.netsuite_write(pool="netsuite_api", pool_slots=4)
    def load_orders(chunk, **context):
        return NetSuiteWriteRequest(writes=chunk["orders"], record_type="salesorder")

``@task.netsuite_extract`` is :class:`~crsync_provider.operators.netsuite.NetSuiteSuiteQLOperator` driven by
a generator: the function *yields* each read as a :class:`NetSuiteReadRequest`; the operator pages it
through the hook's pager (``suiteql_keyset`` for a keyset query, ``suiteql`` for plain SuiteQL) and sends
the rows back; what the function finally *returns* is the task's output::

    @task.netsuite_extract(pool="netsuite_api", pool_slots=1)
    def extract(**context):
        contracts = yield NetSuiteReadRequest(contracts_query(...), page_size=1000)
        return {"contracts": contracts}

The function decides what to read next from what it has read (retries, the lines of the headers read)
and does no NetSuite I/O itself.

``@task.salesforce_write`` runs its function as ``@task`` does; the function names the record it wrote
with :func:`crsync_provider.links.link_task_to_salesforce`, and Airflow stores the URL when the task ends.

Unlike ``@task``, all three default to ``multiple_outputs=False``: the flows return dicts (annotated
``-> dict``), from which ``@task`` would infer ``multiple_outputs=True`` and store the whole dict *and*
each key again (the payload twice, in XCom rows and object-storage files). Pass
``multiple_outputs=True`` explicitly to get Airflow's behaviour.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory

from crsync_provider.hooks.suiteql import SUITEQL_MAX_PAGE
from crsync_provider.links import NetSuiteRecordLink, SalesforceRecordLink, netsuite_record_url
from crsync_provider.operators.netsuite import NetSuiteSuiteQLOperator, NetSuiteUpsertOperator, netsuite_hook

if TYPE_CHECKING:
    from airflow.sdk import Context

    from crsync_provider.hooks.netsuite import NetSuiteHook
    from crsync_provider.hooks.suiteql import KeysetPaged


@dataclass(repr=False)
class NetSuiteWriteRequest:
    """What a ``@task.netsuite_write`` function returns: the writes for the operator to perform.

    :param writes: NetSuite write instructions (design.md "Interfaces"), sent in this order. Empty for a
        dry run or when nothing is left to write: no request is made.
    :param record_type: the record type written (names the link's page).
    :param hook: the hook to write through (its concurrency and timeouts); by default the operator's
        connection with the hook's defaults, at most ``pool_slots`` requests in flight.
    :param explain: turns the write results into the ones the task returns (e.g. adds the fix to a refusal
        only the caller can explain); called only when something was written.
    :param carry: members added to the task's output as they are (e.g. records refused before sending).
    """

    writes: Sequence[Mapping[str, Any]]
    record_type: str
    hook: NetSuiteHook | None = None
    explain: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    carry: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # PythonOperator logs the function's return value: not every write
        return f"NetSuiteWriteRequest({len(self.writes)} {self.record_type} write(s), carry={sorted(self.carry)})"

    def perform(
        self,
        hook: NetSuiteHook,
        upsert: Callable[[NetSuiteHook, Sequence[Mapping[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        """Write through ``hook`` and return the task's output: ``{"results": [...], **carry}``.

        :param upsert: what writes (the operator's :meth:`NetSuiteUpsertOperator.upsert`, which also logs and
            links); by default the hook's ``write_many``.
        """
        results: list[dict[str, Any]] = []
        if self.writes:
            results = upsert(hook, self.writes) if upsert else hook.write_many(list(self.writes))
            if self.explain is not None:
                results = self.explain(results)
        return {"results": results, **self.carry}


class FunctionDecoratedOperator(DecoratedOperator, PythonOperator):
    """What the provider's decorated operators share: ``@task``'s way of running a function (Airflow's
    public ``DecoratedOperator`` on the standard ``PythonOperator``), the operator's own behaviour after it
    in the method order.

    :param python_callable: the task's function.
    :param op_args: its positional arguments (templated).
    :param op_kwargs: its keyword arguments (templated).
    """

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}

    def __init__(
        self, *, python_callable: Callable, op_args: Any = None, op_kwargs: Any = None, **kwargs: Any
    ) -> None:
        kwargs_to_upstream = {"python_callable": python_callable, "op_args": op_args, "op_kwargs": op_kwargs}
        super().__init__(
            kwargs_to_upstream=kwargs_to_upstream,
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )


@dataclass(frozen=True)
class NetSuiteReadRequest:
    """What a ``@task.netsuite_extract`` function yields: one SuiteQL read; it receives the rows (a list).

    :param query: a keyset query (:class:`~crsync_provider.hooks.suiteql.KeysetPaged`, e.g.
        ``crsync.queries.KeysetQuery``: paged by ``NetSuiteHook.suiteql_keyset``, any size), or plain
        SuiteQL (paged by ``NetSuiteHook.suiteql``: limit/offset, at most 100,000 rows).
    :param page_size: rows per request (at most 1000).
    :param hook: the hook to read through (its timeouts); by default the operator's connection with the
        hook's defaults, at most ``pool_slots`` requests in flight.
    """

    query: KeysetPaged | str
    page_size: int = SUITEQL_MAX_PAGE
    hook: NetSuiteHook | None = None


_Result = TypeVar("_Result")
#: A ``@task.netsuite_extract`` function's generator: yields reads, receives their rows, returns the output.
NetSuiteReads = Generator[NetSuiteReadRequest, list[dict[str, Any]], _Result]


class NetSuiteExtractDecoratedOperator(FunctionDecoratedOperator, NetSuiteSuiteQLOperator):
    """``@task.netsuite_extract``: a generator yields :class:`NetSuiteReadRequest` objects, the operator
    reads them.

    :param python_callable: the function (a generator function, or one returning a generator).
    :param op_args: its positional arguments (templated).
    :param op_kwargs: its keyword arguments (templated).
    """

    custom_operator_name = "@task.netsuite_extract"
    ui_color = NetSuiteSuiteQLOperator.ui_color
    template_ext: Sequence[str] = ()  # an argument ending in ".sql" is a value, not a file to render

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("query", "")  # the function yields the queries at run time
        super().__init__(**kwargs)

    def execute_callable(self) -> Any:
        """Run the function and perform the reads it yields; return what it returns.

        Called directly, not through Airflow's callable runner: that runner exhausts a generator function
        itself (taking what it yields for asset metadata) and sends nothing back.
        """
        reads = self.python_callable(*self.op_args, **self.op_kwargs)
        if not inspect.isgenerator(reads):
            raise TypeError(
                f"@task.netsuite_extract function {self.python_callable.__name__} returned "
                f"{type(reads).__name__}; it must be (or return) a generator that yields "
                "crsync_provider.decorators.NetSuiteReadRequest and returns the task's output"
            )
        return self.perform_reads(reads)

    def perform_reads(self, reads: NetSuiteReads[_Result]) -> _Result:
        """Page each read ``reads`` yields through the hook's pager and send its rows back; return what
        the generator returns.

        :param reads: the function's generator.
        """
        default_hook: NetSuiteHook | None = None
        rows: list[dict[str, Any]] | None = None
        try:
            while True:
                try:
                    request = reads.send(rows)  # type: ignore[arg-type]  # None starts the generator
                except StopIteration as done:
                    return done.value
                if not isinstance(request, NetSuiteReadRequest):
                    raise TypeError(
                        f"@task.netsuite_extract function {self.python_callable.__name__} yielded "
                        f"{type(request).__name__}; yield crsync_provider.decorators.NetSuiteReadRequest"
                    )
                hook = request.hook
                if hook is None:
                    default_hook = default_hook or netsuite_hook(
                        self.netsuite_conn_id, concurrency=self.pool_slots
                    )
                    hook = default_hook
                rows = self.read_rows(hook, request.query, page_size=request.page_size)
        finally:
            reads.close()


class NetSuiteWriteDecoratedOperator(FunctionDecoratedOperator, NetSuiteUpsertOperator):
    """``@task.netsuite_write``: a function prepares a :class:`NetSuiteWriteRequest`, the operator writes it.

    :param python_callable: the function (returns a :class:`NetSuiteWriteRequest`).
    :param op_args: its positional arguments (templated).
    :param op_kwargs: its keyword arguments (templated).
    """

    custom_operator_name = "@task.netsuite_write"
    operator_extra_links = (NetSuiteRecordLink(),)
    ui_color = NetSuiteUpsertOperator.ui_color

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("writes", ())  # the function supplies them at run time
        super().__init__(**kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        request = super().execute(context)
        if not isinstance(request, NetSuiteWriteRequest):
            raise TypeError(
                f"@task.netsuite_write function {self.python_callable.__name__} returned "
                f"{type(request).__name__}; return a crsync_provider.decorators.NetSuiteWriteRequest"
            )
        hook = request.hook or netsuite_hook(self.netsuite_conn_id, concurrency=self.pool_slots)
        output = request.perform(hook, self.upsert)
        if not self.netsuite_link:  # nothing written: NetSuite's home page, never an empty "Extra Links"
            self.netsuite_link = netsuite_record_url(hook.ui_base_url, None, None)
        return output


class SalesforceWriteDecoratedOperator(FunctionDecoratedOperator):
    """``@task.salesforce_write``: a ``@task`` that writes Salesforce records, with "Open in Salesforce".

    :param python_callable: the function (it writes, and names the record with ``link_task_to_salesforce``).
    :param op_args: its positional arguments (templated).
    :param op_kwargs: its keyword arguments (templated).
    """

    custom_operator_name = "@task.salesforce_write"
    operator_extra_links = (SalesforceRecordLink(),)
    ui_color = "#e0f0ff"
    #: Set by the task body (``link_task_to_salesforce``); read by the link when the task ends.
    salesforce_link = ""


def netsuite_extract_task(python_callable: Callable | None = None, **kwargs: Any) -> Any:
    """``@task.netsuite_extract``: the function yields :class:`NetSuiteReadRequest` objects; the task reads
    them and returns what the function returns."""
    kwargs.setdefault("multiple_outputs", False)  # the returned dict is stored once (module docstring)
    # Rows are data, not a log line (as common.sql's SQLExecuteQueryOperator): the operator logs their count.
    kwargs.setdefault("show_return_value_in_logs", False)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=NetSuiteExtractDecoratedOperator, **kwargs
    )


def netsuite_write_task(python_callable: Callable | None = None, **kwargs: Any) -> Any:
    """``@task.netsuite_write``: the function returns a :class:`NetSuiteWriteRequest`; the task writes it."""
    kwargs.setdefault("multiple_outputs", False)  # the returned dict is stored once (module docstring)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=NetSuiteWriteDecoratedOperator, **kwargs
    )


def salesforce_write_task(python_callable: Callable | None = None, **kwargs: Any) -> Any:
    """``@task.salesforce_write``: ``@task`` for a function that writes Salesforce records."""
    kwargs.setdefault("multiple_outputs", False)  # the returned dict is stored once (module docstring)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=SalesforceWriteDecoratedOperator, **kwargs
    )
