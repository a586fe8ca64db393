"""``:name`` parameters written into query text as literals, for SOQL and SuiteQL alike.

Neither SuiteQL over REST nor SOQL over REST takes bind variables, so both hooks write each value into
the text; only the literal syntax is the vendor's (``suiteql.suiteql_literal``, ``salesforce_soql.soql_literal``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

#: ``:name`` not preceded by ``:`` or a word character (so ``'10:30'``, ``::`` and ``a:b`` are left alone).
PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def bind_parameters(query: str, parameters: Mapping[str, Any] | None, literal: Callable[[Any], str]) -> str:
    """Replace each ``:name`` of ``query`` by ``literal(parameters[name])``; unknown names stay as written.

    :param literal: the vendor's literal writer.
    """
    if not parameters:
        return query

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return literal(parameters[name]) if name in parameters else match.group(0)

    return PARAMETER.sub(sub, query)


__all__ = ["PARAMETER", "bind_parameters"]
