"""Settings errors a person can act on: each pydantic error located at its line in the YAML file, named by
its dotted path, with a readable reason (renamed settings name their new place); duplicate YAML keys.

Used by :func:`crsync.settings.parse_settings`; split from :mod:`crsync.settings` to keep each module small.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel

#: Where a problem is: a pydantic error location (keys and list indexes).
Loc = tuple[str | int, ...]

#: Settings renamed by a release: the message names the new one, so an upgrade says what to change.
RENAMED_SETTINGS: dict[Loc, str] = {
    ("netsuite", "customer_subsidiary_id"): "netsuite.subsidiary.default_id (OneWorld: netsuite.subsidiary)",
}


def reason(error: dict[str, Any], loc: Loc, model: type[BaseModel]) -> str:
    """A readable reason for one pydantic error of ``model`` (the settings model validated)."""
    renamed = RENAMED_SETTINGS.get(tuple(str(part) for part in loc))
    if error["type"] == "extra_forbidden" and renamed:
        return f"this setting was renamed: move its value to {renamed} (docs/settings.md)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
        return f"unknown setting{hint}"
    if error["type"] == "missing":
        return "required setting is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _allowed_keys(root: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the settings model found at ``loc`` in ``root`` (empty when it is not a model)."""
    model: Any = root
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = model.model_fields[str(part)].annotation
        if get_origin(model) is Annotated:
            model = get_args(model)[0]
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def format_problem(source: str, root: yaml.Node, loc: Loc, reason: str) -> str:
    line, path = _locate(root, loc)
    where = f"{path}: " if path else ""
    return f"{source} line {line}: {where}{reason}"


def _locate(root: yaml.Node, loc: Loc) -> tuple[int, str]:
    """The line of the deepest YAML node matching ``loc``, and ``loc`` as a readable path.

    Pydantic locations may contain markers that are not YAML keys (``[key]``, union branch names);
    those are skipped. A trailing key that is not in the file (a missing setting) keeps the line of
    its parent.
    """
    node: yaml.Node = root
    line = root.start_mark.line + 1
    shown: list[str] = []
    for index, part in enumerate(loc):
        if part == "[key]":
            continue
        child = _child(node, part)
        if child is None:
            if index == len(loc) - 1 or loc[index + 1] == "[key]":
                shown.append(_show(part))
            continue
        key_node, value_node = child
        line = (key_node or value_node).start_mark.line + 1
        shown.append(_show(part))
        node = value_node
    return line, ".".join(shown)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == str(part):
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def _show(part: str | int) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_]+", text) else f"'{text}'"


def duplicate_keys(node: yaml.Node, path: str = "") -> Iterator[tuple[int, str]]:
    """Duplicate mapping keys (PyYAML would silently keep the last one)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            here = f"{path}.{_show(key)}" if path else _show(key)
            if key in seen:
                yield key_node.start_mark.line + 1, f"{here}: duplicate key; each setting may appear once"
            seen.add(key)
            yield from duplicate_keys(value_node, here)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from duplicate_keys(item, f"{path}[{index}]")
