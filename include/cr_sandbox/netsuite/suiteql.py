"""SuiteQL: Oracle-dialect queries translated by sqlglot and executed on SQLite, paged like NetSuite."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from typing import Any
from urllib.parse import urlencode

import sqlglot
from sqlglot import exp

from cr_sandbox.netsuite.db import DATE_COLUMNS, DATETIME_COLUMNS, SUITEQL_TABLES, Store
from cr_sandbox.netsuite.errors import NetSuiteError

MAX_LIMIT = 1000
MAX_RESULTS = 100_000

# BUILTIN.DF(column): which table (or list) gives the display value of a reference column.
_REFERENCES: dict[str, tuple[str, str]] = {
    "entity": ("customer", "companyname"),
    "custbody_end_user": ("customer", "companyname"),
    "custbody_reseller": ("customer", "companyname"),
    "custbody_distributor": ("customer", "companyname"),
    "custrecord_contracts_bill_to_customer": ("customer", "companyname"),
    "custrecord_contracts_end_user": ("customer", "companyname"),
    "custrecord_ci_bill_to_customer": ("customer", "companyname"),
    "item": ("item", "itemid"),
    "custrecord_ci_item": ("item", "itemid"),
    "custrecord_ci_renew_with": ("item", "itemid"),
    "currency": ("currency", "name"),
    "custrecord_swe_contract_currency": ("currency", "name"),
    "custbody_contract_name": ("customrecord_contracts", "name"),
    "custbody_swe_from_contract": ("customrecord_contracts", "name"),
    "custrecord_swe_original_contract": ("customrecord_contracts", "name"),
    "custrecord_ci_contract_id": ("customrecord_contracts", "name"),
    "custrecord_contract_renewal_tran": ("transaction", "tranid"),
    "custrecord_ci_original_transaction": ("transaction", "tranid"),
    "createdfrom": ("transaction", "tranid"),
    "transaction": ("transaction", "tranid"),
}
_LISTS: dict[str, str] = {
    "custbody_order_type": "customlist_order_type",
    "custrecord_contract_status": "customlist_contract_status",
    "custrecord_ci_status": "customlist_contract_status",
    "custrecord_ci_state": "customlist_ci_state",
    "custitem_item_category": "customlist_item_category",
    "custcol_item_category": "customlist_item_category",
    "custrecord_swe_contract_type": "customlist_contract_type",
    "custbody_bill_to_tier": "customlist_channel_tier",
    "custbody_ship_to_tier": "customlist_channel_tier",
}
_TRANSACTION_STATUS = {
    ("SalesOrd", "A"): "Sales Order : Pending Approval",
    ("SalesOrd", "B"): "Sales Order : Pending Fulfillment",
    ("SalesOrd", "G"): "Sales Order : Billed",
    ("CustInvc", "A"): "Invoice : Open",
    ("Estimate", "A"): "Estimate : Open",
    ("Estimate", "B"): "Estimate : Processed",
    ("Estimate", "C"): "Estimate : Closed",
    ("Estimate", "V"): "Estimate : Voided",
    ("Estimate", "X"): "Estimate : Expired",
    ("Opprtnty", "A"): "Opportunity : In Progress",
    ("Opprtnty", "B"): "Opportunity : Issued Estimate",
    ("Opprtnty", "C"): "Opportunity : Closed - Won",
    ("Opprtnty", "D"): "Opportunity : Closed - Lost",
    ("RtnAuth", "A"): "Return Authorization : Pending Approval",
    ("RtnAuth", "B"): "Return Authorization : Pending Receipt",
}
_TYPE_NAMES = {
    "SalesOrd": "Sales Order", "Estimate": "Estimate", "Opprtnty": "Opportunity", "RtnAuth": "Return Authorization",
    "CustInvc": "Invoice",
}

#: What SuiteQL's ``transactionline`` shows of the stored lines. The record service keeps what a request
#: sends (positive quantity and amount); SuiteQL shows the posting view: an item line of a sales
#: transaction is a credit (to income), so its ``quantity``, ``foreignamount`` (transaction currency)
#: and ``netamount`` are negative, while ``rate`` stays positive; the main line (the A/R side, the
#: transaction total) is positive. A return authorization reverses a sale, so its item lines are
#: positive. There is no ``amount`` column (the Records Catalog lists ``foreignamount``, ``netamount``,
#: ``creditforeignamount`` and ``debitforeignamount``; ``amount`` belongs to ``transactionaccountingline``).
#: Guessed: ``netamount`` equals ``foreignamount`` (the stand-in books no exchange rates).
_LINE_SIGN = (
    "(CASE WHEN stl.mainline = 'T' OR (SELECT st.type FROM \"transaction\" st WHERE st.id = stl.\"transaction\") "
    "= 'RtnAuth' THEN 1 ELSE -1 END)"
)
TRANSACTION_LINE_VIEW = f"""
SELECT stl.uniquekey, stl."transaction", stl.id, stl.linesequencenumber, stl.mainline, stl.item,
  stl.quantity * {_LINE_SIGN} AS quantity, stl.rate,
  stl.amount * {_LINE_SIGN} AS foreignamount, stl.amount * {_LINE_SIGN} AS netamount,
  CASE WHEN {_LINE_SIGN} < 0 THEN stl.amount END AS creditforeignamount,
  CASE WHEN {_LINE_SIGN} > 0 THEN stl.amount END AS debitforeignamount,
  stl.memo, stl.custcol_swe_contract_start_date, stl.custcol_swe_contract_end_date,
  stl.custcol_swe_contract_item_term_months, stl.custcol_item_category, stl.custcol_list_rate, stl.price
FROM transactionline stl
"""

_ORACLE_FORMAT = [
    ("YYYY", "%Y"), ("HH24", "%H"), ("HH12", "%I"), ("HH", "%I"), ("MONTH", "%B"), ("MON", "%b"),
    ("MM", "%m"), ("DD", "%d"), ("MI", "%M"), ("SS", "%S"), ("YY", "%y"), ("AM", "%p"), ("PM", "%p"),
    ("DY", "%a"),
]


def oracle_to_strftime(fmt: str) -> str:
    """Translate an Oracle date format model (``YYYY-MM-DD HH24:MI:SS``) to strftime."""
    out, i, upper = [], 0, fmt.upper()
    while i < len(fmt):
        for token, repl in _ORACLE_FORMAT:
            if upper.startswith(token, i):
                out.append(repl)
                i += len(token)
                break
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def _parse_stored(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    text = str(value)
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text[:19], pattern)
        except ValueError:
            continue
    return None


def user_date(value: Any) -> Any:
    """NetSuite returns raw date and date-time columns in the user's date format (here M/D/YYYY)."""
    parsed = _parse_stored(value)
    return f"{parsed.month}/{parsed.day}/{parsed.year}" if parsed else value


def _sql_to_char(value: Any, fmt: str | None) -> str | None:
    if value is None:
        return None
    parsed = _parse_stored(value)
    if parsed is None:
        return str(value)
    return parsed.strftime(oracle_to_strftime(fmt or "YYYY-MM-DD HH24:MI:SS"))


def _sql_str_to(value: Any, fmt: str | None, with_time: bool) -> str | None:
    if value is None:
        return None
    text = str(value)
    for pattern in ([fmt] if fmt else []) + ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y"]:
        try:
            parsed = dt.datetime.strptime(text, pattern)
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"date '{text}' does not match format")
    return parsed.strftime("%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d")


def register_functions(conn: sqlite3.Connection, store: Store) -> None:
    """SQLite functions the translated SQL calls (sqlglot writes STR_TO_TIME/STR_TO_DATE for Oracle's
    TO_TIMESTAMP/TO_DATE; TO_CHAR and the clock are rewritten to NS_* functions)."""
    conn.create_function("STR_TO_TIME", 2, lambda v, f: _sql_str_to(v, f, True), deterministic=True)
    conn.create_function("STR_TO_TIME", 1, lambda v: _sql_str_to(v, None, True), deterministic=True)
    conn.create_function("STR_TO_DATE", 2, lambda v, f: _sql_str_to(v, f, False), deterministic=True)
    conn.create_function("STR_TO_DATE", 1, lambda v: _sql_str_to(v, None, False), deterministic=True)
    conn.create_function("NS_TO_CHAR", 2, _sql_to_char, deterministic=True)
    conn.create_function("NS_TO_CHAR", 1, lambda v: _sql_to_char(v, None), deterministic=True)
    conn.create_function("NS_NOW", 0, store.now_text)
    conn.create_function("NS_TODAY", 0, lambda: store.today().isoformat())
    conn.create_function(
        "NS_TRAN_STATUS", 2, lambda t, s: _TRANSACTION_STATUS.get((t, s), s), deterministic=True
    )
    conn.create_function("NS_TRAN_TYPE", 1, lambda t: _TYPE_NAMES.get(t, t), deterministic=True)


def _table_aliases(select: exp.Select) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for table in select.find_all(exp.Table):
        aliases[(table.alias_or_name or table.name).lower()] = table.name.lower()
    return aliases


def _display_value(column: exp.Column, aliases: dict[str, str]) -> exp.Expression:
    name = column.name.lower()
    table = aliases.get(column.table.lower()) if column.table else None
    if table is None and len(set(aliases.values())) == 1:
        table = next(iter(aliases.values()))
    if name in _LISTS:
        return exp.maybe_parse(
            f"(SELECT lv.name FROM listvalue lv WHERE lv.list = '{_LISTS[name]}' AND lv.id = {column.sql('sqlite')})",
            dialect="sqlite",
        )
    if name == "status" and table == "transaction":
        type_col = exp.column("type", column.table) if column.table else exp.column("type")
        return exp.Anonymous(this="NS_TRAN_STATUS", expressions=[type_col, column.copy()])
    if name == "type" and table == "transaction":
        return exp.Anonymous(this="NS_TRAN_TYPE", expressions=[column.copy()])
    if name == "id" and table in {"transaction", "customer", "item", "customrecord_contracts", "customrecord_contract_item"}:
        label = {"transaction": "tranid", "customer": "companyname", "item": "itemid"}.get(table, "name")
        return exp.maybe_parse(
            f'(SELECT x.{label} FROM "{table}" x WHERE x.id = {column.sql("sqlite")})', dialect="sqlite"
        )
    if name in _REFERENCES:
        ref_table, label = _REFERENCES[name]
        return exp.maybe_parse(
            f'(SELECT x.{label} FROM "{ref_table}" x WHERE x.id = {column.sql("sqlite")})', dialect="sqlite"
        )
    return exp.cast(column.copy(), "TEXT")


def translate(query: str, *, hide_new_transactions: bool = False) -> tuple[str, bool]:
    """Translate one SuiteQL (Oracle dialect) SELECT into SQLite SQL.

    :param hide_new_transactions: read ``transaction`` through ``NS_VISIBLE(id)`` (the SuiteQL
        visibility lag of governance ``suiteql_lag_ms``).

    :returns: the SQLite SQL and whether the outer SELECT projects ``*`` (its date columns are then
        formatted row by row).

    :raises NetSuiteError: 400 ``INVALID_PARAMETER`` when it does not parse or is not a SELECT.
    """
    try:
        statements = sqlglot.parse(query, read="oracle")
    except sqlglot.errors.SqlglotError as exc:
        raise invalid_query(str(exc).splitlines()[0]) from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise invalid_query("Only a single SELECT statement is supported.")
    tree = statements[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name not in SUITEQL_TABLES and name not in ctes and name != "dual":
            raise invalid_query(f"Record '{table.name}' was not found.")
        # SQLite reserves words NetSuite uses as names (transaction); quoting keeps them identifiers.
        table.this.set("quoted", True)
    for column in tree.find_all(exp.Column):
        if column.name.lower() == "transaction":
            column.this.set("quoted", True)
    if hide_new_transactions:
        for table in [t for t in tree.find_all(exp.Table) if t.name.lower() == "transaction"]:
            alias = table.alias or "transaction"
            visible = sqlglot.parse_one('SELECT * FROM "transaction" WHERE NS_VISIBLE(id) = 1', read="sqlite")
            table.replace(exp.Subquery(this=visible, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
            func = node.expression
            if node.this.name.upper() == "BUILTIN" and func.name.upper() == "DF":
                arg = func.expressions[0] if func.expressions else None
                select = node.find_ancestor(exp.Select)
                if isinstance(arg, exp.Column) and select is not None:
                    return _display_value(arg, _table_aliases(select))
                return exp.cast(arg, "TEXT") if arg is not None else exp.null()
        if isinstance(node, exp.ToChar):
            args = [node.this.copy()]
            if node.args.get("format") is not None:
                args.append(node.args["format"].copy())
            return exp.Anonymous(this="NS_TO_CHAR", expressions=args)
        if isinstance(node, exp.CurrentTimestamp):
            return exp.Anonymous(this="NS_NOW", expressions=[])
        if isinstance(node, exp.CurrentDate):
            return exp.Anonymous(this="NS_TODAY", expressions=[])
        return node

    tree = tree.transform(rewrite)
    # Raw date/time columns come back in the user's date format; only the outer SELECT is formatted so
    # that inner queries still compare ISO text.
    has_star = False
    for select in [tree] if isinstance(tree, exp.Select) else []:
        has_star = any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                       for p in select.expressions)
        new_projections = []
        for position, projection in enumerate(select.expressions, start=1):
            if not isinstance(projection, exp.Alias | exp.Column | exp.Star):
                # NetSuite names unaliased expressions expr1, expr2, ...
                projection = exp.alias_(projection, f"expr{position}")
            target = projection.this if isinstance(projection, exp.Alias) else projection
            if isinstance(target, exp.Column) and target.name.lower() in DATE_COLUMNS | DATETIME_COLUMNS:
                alias = projection.alias if isinstance(projection, exp.Alias) else target.name
                projection = exp.alias_(exp.Anonymous(this="NS_USER_DATE", expressions=[target.copy()]), alias)
            new_projections.append(projection)
        select.set("expressions", new_projections)
    for table in [t for t in tree.find_all(exp.Table) if t.name.lower() == "transactionline"]:
        view = sqlglot.parse_one(TRANSACTION_LINE_VIEW, read="sqlite")
        alias = exp.TableAlias(this=exp.to_identifier(table.alias_or_name, quoted=True))
        table.replace(exp.Subquery(this=view, alias=alias))
    try:
        return tree.sql(dialect="sqlite", unsupported_level=sqlglot.ErrorLevel.RAISE), has_star
    except sqlglot.errors.SqlglotError as exc:
        raise invalid_query(str(exc).splitlines()[0]) from exc


def invalid_query(reason: str) -> NetSuiteError:
    return NetSuiteError(
        400,
        "INVALID_PARAMETER",
        f"Invalid search query. Detailed unprocessed description follows. Search error occurred: {reason}",
    )


def _explain_sqlite_error(message: str) -> str:
    if match := re.search(r"no such column: (?:\w+\.)?(\w+)", message):
        return f"Unknown identifier '{match.group(1)}'. Available identifiers are defined by the record's columns."
    if match := re.search(r"no such table: (\w+)", message):
        return f"Record '{match.group(1)}' was not found."
    if match := re.search(r"no such function: (\w+)", message):
        return f"Unknown function '{match.group(1)}'."
    return message


def _format_value(value: Any) -> Any:
    # Guessed from observed responses: SuiteQL REST returns every scalar as a string.
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def count_sql(sql: str) -> str:
    """``totalResults`` without evaluating the select list or sorting.

    Counting ``SELECT COUNT(*) FROM (<query>)`` makes SQLite compute every column (``TO_CHAR`` and the
    other Python functions) and sort every row just to count them, which made each keyset page cost as
    much as reading the whole table. A plain SELECT is counted with ``1`` as its only column and no
    ORDER BY; anything else (DISTINCT, GROUP BY, aggregates, LIMIT, set operations) is counted as is.
    """
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return f"SELECT COUNT(*) FROM ({sql})"
    simple = (
        isinstance(tree, exp.Select)
        and not tree.args.get("distinct")
        and not tree.args.get("group")
        and not tree.args.get("limit")
        and not tree.args.get("offset")
        and not any(isinstance(e.unalias(), exp.AggFunc) or e.find(exp.AggFunc) for e in tree.expressions)
    )
    if not simple:
        return f"SELECT COUNT(*) FROM ({sql})"
    tree.set("expressions", [exp.Literal.number(1)])
    tree.set("order", None)
    return f"SELECT COUNT(*) FROM ({tree.sql(dialect='sqlite')})"


def run(store: Store, query: str, limit: int, offset: int, self_url: str) -> dict[str, Any]:
    """Execute a SuiteQL query and return one page in NetSuite's collection shape.

    :param self_url: the request URL without query string, used for the ``links``.
    """
    if limit < 1 or limit > MAX_LIMIT:
        raise NetSuiteError(
            400, "INVALID_PARAMETER",
            f"Invalid 'limit' parameter value: {limit}. The value must be between 1 and {MAX_LIMIT}.",
        )
    if offset < 0 or offset % limit:
        raise NetSuiteError(
            400, "INVALID_PARAMETER",
            f"Invalid 'offset' parameter value: {offset}. The offset must be a multiple of the limit ({limit}).",
        )
    if offset + limit > MAX_RESULTS:
        raise NetSuiteError(
            400, "INVALID_PARAMETER",
            f"Invalid 'offset' parameter value: {offset}. You can retrieve at most {MAX_RESULTS} results "
            "(offset + limit) for a query; narrow the query, for example with WHERE id > :last ORDER BY id.",
        )
    hidden = store.suiteql_hidden_ids()
    sql, has_star = translate(query, hide_new_transactions=bool(hidden))
    with store.lock:
        conn = store.conn
        conn.create_function("NS_USER_DATE", 1, user_date, deterministic=True)
        conn.create_function("NS_VISIBLE", 1, lambda record_id: int(record_id not in hidden))
        try:
            total = conn.execute(count_sql(sql)).fetchone()[0]
            cursor = conn.execute(f"SELECT * FROM ({sql}) LIMIT ? OFFSET ?", (limit, offset))
            names = [d[0].lower() for d in cursor.description]
            rows = cursor.fetchall()
        except (sqlite3.Error, ValueError) as exc:
            raise invalid_query(_explain_sqlite_error(str(exc))) from exc
    star_dates = {i for i, n in enumerate(names) if n in DATE_COLUMNS | DATETIME_COLUMNS} if has_star else set()
    items = []
    for row in rows:
        item: dict[str, Any] = {"links": []}
        for i, (name, value) in enumerate(zip(names, row, strict=True)):
            if value is None:
                continue  # NetSuite leaves empty columns out of the item
            if i in star_dates and isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
                value = user_date(value)
            item[name] = _format_value(value)
        items.append(item)
    capped_total = min(total, MAX_RESULTS)
    has_more = offset + len(items) < capped_total
    last_offset = max(0, ((capped_total - 1) // limit) * limit) if capped_total else 0

    def link(rel: str, off: int) -> dict[str, str]:
        return {"rel": rel, "href": f"{self_url}?{urlencode({'limit': limit, 'offset': off})}"}

    links = []
    if offset > 0:
        links.append(link("previous", max(0, offset - limit)))
        links.append(link("first", 0))
    if has_more:
        links.append(link("next", offset + limit))
    links.append(link("last", last_offset))
    links.append(link("self", offset))
    return {
        "links": links,
        "count": len(items),
        "hasMore": has_more,
        "items": items,
        "offset": offset,
        "totalResults": total,
    }
