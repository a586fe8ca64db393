"""The SOQL subset the flows use: its grammar, and the evaluator (the parser is
:mod:`cr_sandbox.salesforce.soql_syntax`).

Supported::

    SELECT field, Parent.Field, Parent.Grand.Field, COUNT(),
           (SELECT ... FROM ChildRelationship [WHERE ...] [ORDER BY ...] [LIMIT n])
    FROM Object
    [WHERE cond]            cond: path op literal | path [NOT] IN (literal, ...) | path [NOT] IN (SELECT f FROM O ...)
                                  | path LIKE 'pat%' | NOT cond | cond AND cond | cond OR cond | (cond)
                            op: = != <> < <= > >= ; literal: 'text', number, true/false, null,
                                2024-01-31, 2024-01-31T10:00:00Z (no quotes), TODAY, YESTERDAY, TOMORROW,
                                LAST_N_DAYS:n, NEXT_N_DAYS:n, THIS_MONTH, THIS_YEAR
    [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

Evaluation is in Python over the store's in-memory rows: the WHERE clause is compiled once into a
closure, parent fields walk the id indexes, child subqueries use the store's child index.
Text comparisons are case-insensitive, as in Salesforce.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cr_sandbox.salesforce import ids
from cr_sandbox.salesforce.errors import ApiError, malformed_query
from cr_sandbox.salesforce.schema import NUMBER_TYPES, FieldDef, ObjectDef, Schema
from cr_sandbox.salesforce.soql_syntax import BoolOp, Comparison, Literal, Query, parse
from cr_sandbox.salesforce.store import Record, Store, add_months, format_datetime

# --------------------------------------------------------------------------- evaluation


def _invalid_field(name: str, obj: ObjectDef) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom field, be sure "
        "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
        "the appropriate names.",
    )


@dataclass
class _Path:
    """A resolved field path: the reference fields to walk, then the final field."""

    hops: list[tuple[FieldDef, ObjectDef]]  # (reference field on the current object, parent object)
    field: FieldDef
    obj: ObjectDef  # object holding ``field``


class Evaluator:
    """Runs parsed queries against a :class:`Store`."""

    def __init__(self, store: Store, schema: Schema, version: str) -> None:
        self.store = store
        self.schema = schema
        self.version = version
        self._plans: dict[int, tuple[Callable[[Record], bool] | None, list[tuple[Any, bool]]]] = {}

    def run(self, text: str, include_deleted: bool = False) -> tuple[int, list[dict[str, Any]]]:
        """Evaluate ``text``: (totalSize, shaped records). COUNT() queries return no records."""
        query = parse(text)
        obj = self.schema.get(query.object_name)
        if obj is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{query.object_name}' is not supported. If you are "
                           "attempting to use a custom object, be sure to append the '__c' after the entity name.")
        with self.store.lock:
            rows = self._select(obj, query, self.store.all_rows(obj.name, include_deleted))
            if query.is_count:
                return len(rows), []
            shape = self._shaper(obj, query)
            return len(rows), [shape(r) for r in rows]

    # ---------------------------------------------------------------- select rows

    def _select(self, obj: ObjectDef, query: Query, candidates: Any) -> list[Record]:
        predicate, sorters = self._plan(obj, query)
        rows = [r for r in candidates if predicate(r)] if predicate else list(candidates)
        for key, descending in sorters:
            rows.sort(key=key, reverse=descending)
        if query.offset:
            rows = rows[query.offset:]
        if query.limit is not None:
            rows = rows[: query.limit]
        return rows

    def _plan(self, obj: ObjectDef, query: Query) -> tuple[Callable[[Record], bool] | None, list[tuple[Any, bool]]]:
        """The compiled WHERE and sort keys of ``query`` (compiled once; subqueries run per parent)."""
        cached = self._plans.get(id(query))
        if cached is None:
            predicate = self._compile(obj, query.where) if query.where is not None else None
            sorters = [
                (_sort_key(self._getter(obj, item.path), item.descending, item.nulls_last), item.descending)
                for item in reversed(query.order_by)
            ]
            cached = self._plans[id(query)] = (predicate, sorters)
        return cached

    def resolve(self, obj: ObjectDef, path: list[str]) -> _Path:
        parts = list(path)
        if len(parts) > 1 and parts[0].lower() == obj.name.lower() and obj.relationship(parts[0]) is None:
            parts = parts[1:]  # "Account.Name" in FROM Account
        hops: list[tuple[FieldDef, ObjectDef]] = []
        current = obj
        for part in parts[:-1]:
            ref = current.relationship(part)
            if ref is None:
                raise ApiError(
                    400, "INVALID_FIELD",
                    f"Didn't understand relationship '{part}' in field path. If you are attempting to use a custom "
                    "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                    "your WSDL or the describe call for the appropriate names.")
            parent = self.schema.objects[ref.reference_to[0]]
            hops.append((ref, parent))
            current = parent
        f = current.field(parts[-1])
        if f is None:
            raise _invalid_field(parts[-1], current)
        return _Path(hops, f, current)

    def _getter(self, obj: ObjectDef, path: list[str]) -> Callable[[Record], Any]:
        resolved = self.resolve(obj, path)
        name = resolved.field.name
        if not resolved.hops:
            return lambda record: record.get(name)
        hops = [(ref.name, parent.name) for ref, parent in resolved.hops]
        store = self.store

        def walk(record: Record) -> Any:
            current: Record | None = record
            for ref_name, parent_name in hops:
                parent_id = current.get(ref_name) if current else None
                current = store.get(parent_name, parent_id) if parent_id else None
                if current is None:
                    return None
            return current.get(name) if current else None

        return walk

    # ---------------------------------------------------------------- WHERE

    def _compile(self, obj: ObjectDef, node: Any) -> Callable[[Record], bool]:
        if isinstance(node, BoolOp):
            parts = [self._compile(obj, p) for p in node.parts]
            if node.op == "AND":
                return lambda r: all(p(r) for p in parts)
            if node.op == "OR":
                return lambda r: any(p(r) for p in parts)
            inner = parts[0]
            return lambda r: not inner(r)
        assert isinstance(node, Comparison)
        resolved = self.resolve(obj, node.path)
        getter = self._getter(obj, node.path)
        f = resolved.field
        if isinstance(node.value, Query):
            allowed = {_norm(f, v) for v in self._semi_join(node.value)}
            if node.op == "IN":
                return lambda r: (v := getter(r)) is not None and _norm(f, v) in allowed
            return lambda r: (v := getter(r)) is None or _norm(f, v) not in allowed
        if isinstance(node.value, list):
            values = {self._literal(f, lit) for lit in node.value}
            if node.op == "IN":
                return lambda r: _norm(f, getter(r)) in values
            return lambda r: _norm(f, getter(r)) not in values
        literal = node.value
        if node.op == "LIKE":
            if literal.kind != "str":
                raise malformed_query("LIKE expects a quoted pattern")
            pattern = _like_regex(literal.value)
            return lambda r: (v := getter(r)) is not None and pattern.match(str(v)) is not None
        if literal.kind == "null":
            if node.op == "=":
                return lambda r: getter(r) is None
            if node.op == "!=":
                return lambda r: getter(r) is not None
            raise malformed_query(f"invalid operator on null: {node.op}")
        if literal.kind == "relative":
            low, high = self._relative_range(f, literal)
            return _range_predicate(getter, node.op, _norm(f, low), _norm(f, high))
        value = self._literal(f, literal)
        op = node.op

        def compare(record: Record) -> bool:
            current = _norm(f, getter(record))
            if op == "=":
                return current == value
            if op == "!=":
                return current != value
            if current is None:
                return False
            if op == "<":
                return current < value
            if op == "<=":
                return current <= value
            if op == ">":
                return current > value
            return current >= value

        return compare

    def _semi_join(self, sub: Query) -> set[Any]:
        obj = self.schema.get(sub.object_name)
        if obj is None or len(sub.fields) != 1 or not isinstance(sub.fields[0], str) or sub.is_count:
            raise malformed_query("a semi-join sub-select must select one field of one object")
        getter = self._getter(obj, sub.fields[0].split("."))
        rows = self._select(obj, sub, self.store.all_rows(obj.name, False))
        return {v for r in rows if (v := getter(r)) is not None}

    def _literal(self, f: FieldDef, lit: Literal) -> Any:
        """The literal as a comparable value of ``f``'s type, or the error Salesforce gives."""
        kind = f.type
        if lit.kind == "null":
            return None
        if kind in ("date", "datetime"):
            if lit.kind == "str":
                raise malformed_query(
                    f"value of filter criterion for field '{f.name}' must be of type "
                    f"{'dateTime' if kind == 'datetime' else 'date'} and should not be enclosed in quotes")
            if kind == "date" and lit.kind == "date":
                return lit.value.isoformat()
            if kind == "datetime" and lit.kind == "datetime":
                return format_datetime(lit.value)
            raise malformed_query(f"value of filter criterion for field '{f.name}' must be of type "
                                  f"{'dateTime' if kind == 'datetime' else 'date'}")
        if kind in NUMBER_TYPES:
            if lit.kind != "num":
                raise malformed_query(f"value of filter criterion for field '{f.name}' must be of type double and "
                                      "should not be enclosed in quotes")
            return float(lit.value)
        if kind == "boolean":
            if lit.kind != "bool":
                raise malformed_query(f"value of filter criterion for field '{f.name}' must be of type boolean and "
                                      "should not be enclosed in quotes")
            return lit.value
        if lit.kind != "str":
            raise malformed_query(f"value of filter criterion for field '{f.name}' must be of type string and "
                                  "should be enclosed in quotes")
        if kind in ("id", "reference"):
            normalized = ids.normalize(lit.value)
            if normalized is None:
                raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}")
            return normalized.lower()
        return lit.value.lower()

    def _relative_range(self, f: FieldDef, lit: Literal) -> tuple[Any, Any]:
        if f.type not in ("date", "datetime"):
            raise malformed_query(f"date literal {lit.text} used on non-date field '{f.name}'")
        name, n = lit.value
        today = self.store.today()
        starts = {
            "TODAY": (today, today + timedelta(days=1)),
            "YESTERDAY": (today - timedelta(days=1), today),
            "TOMORROW": (today + timedelta(days=1), today + timedelta(days=2)),
            "THIS_MONTH": (today.replace(day=1), add_months(today.replace(day=1), 1)),
            "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
            "LAST_N_DAYS": (today - timedelta(days=n), today + timedelta(days=1)),
            "NEXT_N_DAYS": (today, today + timedelta(days=n + 1)),
        }
        low, high = starts[name]
        if f.type == "date":
            return low.isoformat(), high.isoformat()
        return (format_datetime(datetime.combine(low, datetime.min.time(), UTC)),
                format_datetime(datetime.combine(high, datetime.min.time(), UTC)))

    # ---------------------------------------------------------------- shaping

    def _shaper(self, obj: ObjectDef, query: Query) -> Callable[[Record], dict[str, Any]]:
        plain: list[str] = []
        parents: list[_Path] = []
        children: list[tuple[str, ObjectDef, str, Query, Callable[[Record], dict[str, Any]]]] = []
        for item in query.fields:
            if isinstance(item, Query):
                rel = obj.child(item.object_name)
                if rel is None:
                    raise ApiError(
                        400, "INVALID_TYPE",
                        f"Didn't understand relationship '{item.object_name}' in FROM part of query call. If you are "
                        "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                        "relationship name.")
                child_obj = self.schema.objects[rel.child_object]
                children.append((rel.relationship_name, child_obj, rel.field, item, self._shaper(child_obj, item)))
                continue
            resolved = self.resolve(obj, item.split("."))
            if resolved.hops:
                parents.append(resolved)
            else:
                plain.append(resolved.field.name)
        store = self.store

        def shape(record: Record) -> dict[str, Any]:
            out: dict[str, Any] = {"attributes": self.attributes(obj.name, record["Id"])}
            for name in plain:
                out[name] = record.get(name)
            for resolved in parents:
                self._place_parent(out, record, resolved)
            for rel_name, child_obj, child_field, sub, child_shape in children:
                candidates = (store.get(child_obj.name, i) for i in store.child_ids(child_obj.name, child_field,
                                                                                      record["Id"]))
                rows = [r for r in candidates if r is not None]
                rows.sort(key=lambda r: r["Id"][5:15])  # creation order
                rows = self._select(child_obj, sub, rows)
                if not rows:
                    out[rel_name] = None
                else:
                    out[rel_name] = {"totalSize": len(rows), "done": True, "records": [child_shape(r) for r in rows]}
            return out

        return shape

    def attributes(self, object_name: str, record_id: str) -> dict[str, str]:
        return {"type": object_name, "url": f"/services/data/v{self.version}/sobjects/{object_name}/{record_id}"}

    def _place_parent(self, out: dict[str, Any], record: Record, resolved: _Path) -> None:
        container = out
        current: Record | None = record
        for ref, parent_obj in resolved.hops:
            key = ref.relationship_name or ref.name
            parent_id = current.get(ref.name) if current else None
            parent = self.store.get(parent_obj.name, parent_id) if parent_id else None
            if parent is None:
                container.setdefault(key, None)
                return
            existing = container.get(key)
            if not isinstance(existing, dict):
                existing = {"attributes": self.attributes(parent_obj.name, parent["Id"])}
                container[key] = existing
            container = existing
            current = parent
        container[resolved.field.name] = current.get(resolved.field.name) if current else None


def _norm(f: FieldDef, value: Any) -> Any:
    """A stored value in comparable form: text lower-cased, numbers as floats.

    Dates and datetimes keep their case: lower-casing the ``T`` of a stored datetime would make it
    compare greater than a literal of the same day.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value if f.type in ("date", "datetime") else value.lower()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _range_predicate(getter: Callable[[Record], Any], op: str, low: Any, high: Any) -> Callable[[Record], bool]:
    def check(record: Record) -> bool:
        value = getter(record)
        if value is None:
            return op == "!="
        # Date and datetime strings compare as stored (ISO, fixed width, upper-case "T").
        inside = low <= value < high
        return {"=": inside, "!=": not inside, "<": value < low, "<=": value < high, ">": value >= high,
                ">=": value >= low}[op]

    return check


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _sort_key(getter: Callable[[Record], Any], descending: bool, nulls_last: bool) -> Callable[[Record], Any]:
    # With reverse=True the ranks flip, so pick the null rank that lands nulls where asked.
    null_rank = (2 if nulls_last else 0) if not descending else (0 if nulls_last else 2)

    def key(record: Record) -> tuple[int, Any]:
        value = getter(record)
        if value is None:
            return (null_rank, 0)
        if isinstance(value, str):
            return (1, value.lower())
        if isinstance(value, bool):
            return (1, int(value))
        return (1, value)

    return key
