"""Public library APIs only: no private name of Airflow, its providers or simple-salesforce (issue 18).

A private name (``_call_salesforce``, ``SalesforceHook.conn.func``, ``_PythonDecoratedOperator``...) can change
or go in any release of the library. This reads the source of plugins/, include/ and dags/ (AST) and names
each use: a private module or name imported from ``airflow`` (providers included) or ``simple_salesforce``,
a private attribute read off a name imported from them, a private attribute of their classes, and
``self._name`` in a subclass of one of their classes where ``_name`` is the library class's own.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import simple_salesforce.api
import simple_salesforce.bulk2
from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for d in ("plugins", "include", "dags") for p in (ROOT / d).rglob("*.py"))
LIBRARIES = ("airflow", "simple_salesforce")


def _private(names: list[str]) -> set[str]:
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


#: Private attributes of the Salesforce library's and the provider's classes, on whatever object they are read.
LIBRARY_PRIVATE = (
    _private(dir(simple_salesforce.api.Salesforce))
    | _private(dir(simple_salesforce.api.SFType))
    | _private(dir(simple_salesforce.bulk2.SFBulk2Type))
    | _private(list(vars(SalesforceHook)))
    | {"_salesforce_login_partial", "_session_id", "_client"}
)


def _is_library(module: str | None) -> bool:
    return bool(module) and module.split(".", 1)[0] in LIBRARIES  # type: ignore[union-attr]


def _imported(tree: ast.AST) -> dict[str, object | None]:
    """Local name -> the library object a ``from <library> import name`` binds (None: not importable here)."""
    names: dict[str, object | None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _is_library(node.module):
            for alias in node.names:
                try:
                    value = getattr(importlib.import_module(str(node.module)), alias.name, None)
                except Exception:  # an optional extra not installed: the name is still the library's
                    value = None
                names[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_library(alias.name):
                    names[alias.asname or alias.name.split(".", 1)[0]] = None
    return names


def _base_private(cls: ast.ClassDef, imported: dict[str, object | None]) -> set[str]:
    """The private attributes the library base classes of ``cls`` define (dunder names aside)."""
    private: set[str] = set()
    for base in cls.bases:
        value = imported.get(base.id) if isinstance(base, ast.Name) else None
        if inspect.isclass(value):
            private |= {n for k in value.__mro__ if k.__module__.startswith(LIBRARIES) for n in _private(list(vars(k)))}
    return private


def private_uses(path: Path) -> list[str]:
    """Each private library name the file uses: ``line: what``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = _imported(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _is_library(node.module):
            found += [f"{node.lineno}: from {node.module}" for p in str(node.module).split(".") if p.startswith("_")]
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if _is_library(a.name) and any(p.startswith("_") for p in a.name.split("."))
            ]
        elif isinstance(node, ast.Attribute) and node.attr in LIBRARY_PRIVATE:
            found.append(f"{node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "func"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "conn"
        ):
            found.append(f"{node.lineno}: .conn.func (the provider's cached_property internals)")
        elif isinstance(node, ast.ClassDef) and (base_private := _base_private(node, imported)):
            found += [
                f"{inner.lineno}: self.{inner.attr} (private to {node.name}'s library base class)"
                for inner in ast.walk(node)
                if isinstance(inner, ast.Attribute)
                and isinstance(inner.value, ast.Name)
                and inner.value.id == "self"
                and inner.attr in base_private
            ]
            found += [
                f"{item.lineno}: def {item.name} (overrides a private method of {node.name}'s library base class)"
                for item in node.body
                if isinstance(item, ast.FunctionDef) and item.name in base_private
            ]
    return found


def test_the_checker_finds_the_private_uses_the_hooks_and_decorators_had(tmp_path):
    assert {"_call_salesforce", "_refresh_session", "_get_field"} <= LIBRARY_PRIVATE
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from simple_salesforce.api import _x\n"
        "from airflow.providers.standard.decorators.python import _PythonDecoratedOperator\n"
        "import airflow._shared\n"
        "from airflow.sdk import BaseOperator, BaseHook\n"
        "SalesforceHook.conn.func(self)\n"
        "client._call_salesforce('GET', url)\n"
        "self._get_field(extras, 'x')\n"
        "BaseOperator._lock_for_execution\n"
        "class Mine(BaseHook):\n"
        "    def _set_context(self):\n"
        "        return self._log\n"
        "class Ours:\n"
        "    def _set_context(self):\n"
        "        return self._log\n",
        encoding="utf-8",
    )
    uses = private_uses(sample)
    assert len(uses) == 9, uses
    assert any("_PythonDecoratedOperator" in u for u in uses)
    assert any(u.startswith("8: BaseOperator._lock_for_execution") for u in uses)
    assert not any(u.startswith(("13:", "14:")) for u in uses), uses  # our own class, our own private names


def test_no_private_library_names_in_plugins_include_or_dags():
    offenders = {str(p.relative_to(ROOT)): uses for p in SOURCES if (uses := private_uses(p))}
    assert offenders == {}
