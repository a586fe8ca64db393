"""The Salesforce side uses only public simple-salesforce and Salesforce-provider names (issue 18).

A private name (``_call_salesforce``, ``SalesforceHook.conn.func``, ``_get_field``...) can change or go in any
release of the library; this reads the source of plugins/ and include/ (AST, no import) and names each use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import simple_salesforce.api
import simple_salesforce.bulk2
from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for d in ("plugins", "include") for p in (ROOT / d).rglob("*.py"))
SALESFORCE_MODULES = ("simple_salesforce", "airflow.providers.salesforce")


def _private(names: list[str]) -> set[str]:
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


#: Private attributes of the library's and the provider's classes (their own, not Python's or BaseHook's).
LIBRARY_PRIVATE = (
    _private(dir(simple_salesforce.api.Salesforce))
    | _private(dir(simple_salesforce.api.SFType))
    | _private(dir(simple_salesforce.bulk2.SFBulk2Type))
    | _private(list(vars(SalesforceHook)))
    | {"_salesforce_login_partial", "_session_id", "_client"}
)


def private_uses(path: Path) -> list[str]:
    """Each private Salesforce-library name the file uses: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(SALESFORCE_MODULES):
            parts = node.module.split(".")
            found += [f"{node.lineno}: from {node.module}" for p in parts if p.startswith("_")]
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr in LIBRARY_PRIVATE:
            found.append(f"{node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "func"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "conn"
        ):
            found.append(f"{node.lineno}: .conn.func (the provider's cached_property internals)")
    return found


def test_the_checker_finds_the_private_uses_the_hook_had(tmp_path):
    assert {"_call_salesforce", "_refresh_session", "_get_field"} <= LIBRARY_PRIVATE
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from simple_salesforce.api import _x\n"
        "SalesforceHook.conn.func(self)\n"
        "client._call_salesforce('GET', url)\n"
        "self._get_field(extras, 'x')\n",
        encoding="utf-8",
    )
    assert len(private_uses(sample)) == 4


def test_no_private_salesforce_library_names_in_plugins_or_include():
    offenders = {str(p.relative_to(ROOT)): uses for p in SOURCES if (uses := private_uses(p))}
    assert offenders == {}
