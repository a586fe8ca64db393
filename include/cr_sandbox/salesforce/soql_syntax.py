"""The SOQL subset the Salesforce stand-in understands: tokens, syntax tree and parser (see
:mod:`cr_sandbox.salesforce.soql` for the grammar and the evaluation)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cr_sandbox.salesforce.errors import malformed_query
from cr_sandbox.salesforce.store import parse_datetime

# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<num>[-+]?\d+(?:\.\d+)?)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<daten>[A-Za-z_]+:\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)

_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS",
             "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "INCLUDES", "EXCLUDES", "GROUP", "HAVING"}
_RELATIVE_DATES = {"TODAY", "YESTERDAY", "TOMORROW", "THIS_MONTH", "THIS_YEAR", "LAST_N_DAYS", "NEXT_N_DAYS"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(text: str) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise malformed_query(f"unexpected token: '{text[pos:pos + 20]}' at column {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- syntax tree


@dataclass
class Literal:
    kind: str  # str, num, bool, null, date, datetime, relative
    value: Any
    text: str


@dataclass
class Comparison:
    path: list[str]
    op: str  # = != < <= > >= LIKE IN NOTIN
    value: Literal | list[Literal] | Query


@dataclass
class BoolOp:
    op: str  # AND OR NOT
    parts: list[Any]


@dataclass
class OrderItem:
    path: list[str]
    descending: bool
    nulls_last: bool


@dataclass
class Query:
    fields: list[Any]  # list[str] paths, Query (subquery), or "COUNT()"
    object_name: str
    where: Any = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    @property
    def is_count(self) -> bool:
        return self.fields == ["COUNT()"]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.upper in words

    def expect_keyword(self, word: str) -> None:
        token = self.next()
        if token.kind != "ident" or token.upper != word:
            self.fail(token, f"expecting '{word}'")

    def expect(self, kind: str) -> Token:
        token = self.next()
        if token.kind != kind:
            self.fail(token, f"expecting '{ {'lp': '(', 'rp': ')', 'comma': ','}.get(kind, kind) }'")
        return token

    @staticmethod
    def fail(token: Token, why: str = "") -> None:
        shown = token.text or "<EOF>"
        raise malformed_query(f"unexpected token: '{shown}'" + (f" ({why})" if why else ""))

    def parse(self, nested: bool = False) -> Query:
        self.expect_keyword("SELECT")
        fields: list[Any] = []
        while True:
            token = self.peek()
            if token.kind == "lp":
                self.next()
                fields.append(self.parse(nested=True))
                self.expect("rp")
            elif token.kind == "ident" and token.upper == "COUNT" and self.peek(1).kind == "lp":
                self.next()
                self.next()
                self.expect("rp")
                fields.append("COUNT()")
            elif token.kind == "ident" and token.upper not in ("FROM",):
                self.next()
                if self.peek().kind == "lp":
                    raise malformed_query(f"Aggregate or function '{token.text}()' is not supported by the sandbox")
                fields.append(token.text)
            else:
                self.fail(token, "expecting a field name")
            if self.peek().kind == "comma":
                self.next()
                continue
            break
        if "COUNT()" in fields and len(fields) > 1:
            raise malformed_query("COUNT() must be the only element in the SELECT list")
        self.expect_keyword("FROM")
        obj_token = self.expect("ident")
        query = Query(fields, obj_token.text)
        if self.at_keyword("WHERE"):
            self.next()
            query.where = self.parse_or()
        if self.at_keyword("ORDER"):
            self.next()
            self.expect_keyword("BY")
            while True:
                path = self.expect("ident").text.split(".")
                descending = False
                if self.at_keyword("ASC", "DESC"):
                    descending = self.next().upper == "DESC"
                nulls_last = descending
                if self.at_keyword("NULLS"):
                    self.next()
                    if not self.at_keyword("FIRST", "LAST"):
                        self.fail(self.peek(), "expecting FIRST or LAST")
                    nulls_last = self.next().upper == "LAST"
                query.order_by.append(OrderItem(path, descending, nulls_last))
                if self.peek().kind == "comma":
                    self.next()
                    continue
                break
        if self.at_keyword("LIMIT"):
            self.next()
            query.limit = int(self.expect("num").text)
        if self.at_keyword("OFFSET"):
            self.next()
            query.offset = int(self.expect("num").text)
        end = self.peek()
        if not (nested and end.kind == "rp") and end.kind != "eof":
            self.fail(end)
        return query

    def parse_or(self) -> Any:
        parts = [self.parse_and()]
        while self.at_keyword("OR"):
            self.next()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else BoolOp("OR", parts)

    def parse_and(self) -> Any:
        parts = [self.parse_not()]
        while self.at_keyword("AND"):
            self.next()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else BoolOp("AND", parts)

    def parse_not(self) -> Any:
        if self.at_keyword("NOT"):
            self.next()
            return BoolOp("NOT", [self.parse_not()])
        if self.peek().kind == "lp":
            self.next()
            inner = self.parse_or()
            self.expect("rp")
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Comparison:
        path_token = self.next()
        if path_token.kind != "ident" or path_token.upper in _KEYWORDS:
            self.fail(path_token, "expecting a field name")
        path = path_token.text.split(".")
        token = self.peek()
        if token.kind == "op":
            self.next()
            op = {"<>": "!="}.get(token.text, token.text)
            return Comparison(path, op, self.parse_literal())
        if token.kind == "ident" and token.upper == "LIKE":
            self.next()
            return Comparison(path, "LIKE", self.parse_literal())
        negate = False
        if token.kind == "ident" and token.upper == "NOT":
            self.next()
            negate = True
        if self.at_keyword("IN", "INCLUDES", "EXCLUDES"):
            keyword = self.next().upper
            self.expect("lp")
            if self.at_keyword("SELECT"):
                sub = self.parse(nested=True)
                self.expect("rp")
                return Comparison(path, "NOTIN" if negate else "IN", sub)
            values = [self.parse_literal()]
            while self.peek().kind == "comma":
                self.next()
                values.append(self.parse_literal())
            self.expect("rp")
            if keyword != "IN":
                raise malformed_query(f"{keyword} is only valid for multi-select picklists")
            return Comparison(path, "NOTIN" if negate else "IN", values)
        self.fail(self.peek(), "expecting a comparison operator")
        raise AssertionError("unreachable")

    def parse_literal(self) -> Literal:
        token = self.next()
        if token.kind == "str":
            return Literal("str", _unescape(token.text[1:-1]), token.text)
        if token.kind == "num":
            return Literal("num", float(token.text), token.text)
        if token.kind == "date":
            try:
                return Literal("date", date.fromisoformat(token.text), token.text)
            except ValueError:
                raise malformed_query(f"invalid date: {token.text}") from None
        if token.kind == "datetime":
            try:
                return Literal("datetime", parse_datetime(token.text), token.text)
            except ValueError:
                raise malformed_query(f"invalid datetime: {token.text}") from None
        if token.kind == "daten":
            name, _, number = token.text.partition(":")
            if name.upper() not in ("LAST_N_DAYS", "NEXT_N_DAYS"):
                raise malformed_query(f"unexpected token: '{token.text}'")
            return Literal("relative", (name.upper(), int(number)), token.text)
        if token.kind == "ident":
            word = token.upper
            if word == "NULL":
                return Literal("null", None, token.text)
            if word in ("TRUE", "FALSE"):
                return Literal("bool", word == "TRUE", token.text)
            if word in _RELATIVE_DATES:
                return Literal("relative", (word, 0), token.text)
        self.fail(token, "expecting a literal value")
        raise AssertionError("unreachable")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), text)


def parse(text: str) -> Query:
    """Parse one SOQL statement; ``MALFORMED_QUERY`` on syntax errors."""
    if not text or not text.strip():
        raise malformed_query("empty query")
    return _Parser(text).parse()
