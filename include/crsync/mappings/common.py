"""Vectorised helpers the mappings share: parsing ids, dates and numbers, terms, JSON-clean values."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crsync.records import RecordFailure

DATE_FORMAT = "%Y-%m-%d"
#: Days per month used for the fractional part of a term (12 months = 365.25 days).
_DAYS_PER_MONTH = 365.25 / 12


def frame(rows: Sequence[Mapping[str, Any]], columns: Iterable[str]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with exactly ``columns`` (missing ones are null)."""
    wanted = list(dict.fromkeys(columns))
    df = pd.DataFrame.from_records(list(rows), columns=None) if rows else pd.DataFrame(columns=wanted)
    for column in wanted:
        if column not in df.columns:
            df[column] = None
    return df[wanted].reset_index(drop=True)


def ids(series: pd.Series) -> pd.Series:
    """NetSuite internal ids as digit strings (``"12"``, ``12`` and ``12.0`` all give ``"12"``); else null.

    A value that is present but not an id keeps its text so messages can show it; see :func:`is_id`.
    """
    text = series.astype("string").str.strip()
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.mask(text == "", pd.NA)


def is_id(series: pd.Series) -> pd.Series:
    """Whether each value (from :func:`ids`) is a positive integer id."""
    return series.str.fullmatch(r"0*[1-9]\d*").fillna(False).astype(bool)


def numbers(series: pd.Series) -> pd.Series:
    """Numbers (float); anything unparsable is NaN."""
    return pd.to_numeric(series, errors="coerce").astype("float64")


def dates(series: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` text (or datetimes) as datetime64; blanks and bad values are NaT."""
    return pd.to_datetime(series.astype("string").str.slice(0, 10), format=DATE_FORMAT, errors="coerce")


def texts(series: pd.Series) -> pd.Series:
    """Text with blanks as null."""
    text = series.astype("string").str.strip()
    return text.mask(text == "", pd.NA)


def iso_dates(series: pd.Series) -> list[str | None]:
    """datetime64 as ``YYYY-MM-DD`` strings (None for NaT), as a Python list."""
    text = np.datetime_as_string(series.to_numpy(dtype="datetime64[D]"), unit="D")
    return [None if v == "NaT" else v for v in text.tolist()]


def term_months(start: pd.Series, end: pd.Series) -> pd.Series:
    """Term in months from ``start`` to ``end`` inclusive, rounded to 2 decimals.

    Whole calendar months count exactly (2015-07-14 to 2016-07-13 is 12); remaining days count as
    fractions of an average month.
    """
    after = end + pd.Timedelta(days=1)
    whole = (after.dt.year - start.dt.year) * 12 + (after.dt.month - start.dt.month)
    days = after.dt.day - start.dt.day
    return (whole + days / _DAYS_PER_MONTH).astype("float64").round(2)


def add_months_minus_a_day(start: pd.Timestamp, months: float) -> pd.Timestamp | None:
    """End date of a term of whole ``months`` starting on ``start`` (None for fractional terms)."""
    if pd.isna(start) or pd.isna(months) or months <= 0 or not float(months).is_integer():
        return None
    return start + pd.DateOffset(months=int(months)) - pd.Timedelta(days=1)


def python_numbers(series: pd.Series) -> list[int | float | None]:
    """Numbers as JSON-friendly Python values: whole numbers as int, NaN as None."""
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    return [None if math.isnan(v) else (int(v) if v.is_integer() else float(v)) for v in values.tolist()]


def python_values(series: pd.Series) -> list[Any]:
    """Any column as JSON-friendly Python values (null-likes as None)."""
    return [json_value(v) for v in series.tolist()]


def json_value(value: Any) -> Any:
    """One value made JSON-friendly: NaN/NA/NaT to None, numpy scalars to Python, timestamps to dates."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, np.generic):
        return json_value(value.item())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def get_path(record: Mapping[str, Any] | None, path: str) -> Any:
    """A value at a dotted relationship path of a Salesforce record (None when a parent is null)."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


#: One check of a batch: the rows that fail it, their keys, the failure code, each row's message.
Check = tuple[pd.Series, pd.Series, str, pd.Series]


def problem_table(checks: Iterable[Check]) -> pd.DataFrame:
    """One row (``key``, ``code``, ``message``) per record and check it fails; an empty table when none do."""
    parts = [
        pd.DataFrame({"key": keys[mask].fillna("?"), "code": code, "message": message[mask]})
        for mask, keys, code, message in checks
        if mask.any()
    ]
    return pd.concat(parts) if parts else pd.DataFrame({"key": [], "code": [], "message": []})


def end_before_start(label: pd.Series, start: pd.Series, end: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The rows whose end date is before their start date, and the message that names both dates."""
    message = (
        label + ": End date " + end.dt.strftime("%Y-%m-%d").fillna("?") + " is before start date "
        + start.dt.strftime("%Y-%m-%d").fillna("?")
    )  # fmt: skip
    return end < start, message


def failures_by_key(
    keys: pd.Series, codes: pd.Series, messages: pd.Series, order: Sequence[str] | None = None
) -> list[RecordFailure]:
    """One failure per key: the first problem's code and every problem's message, joined.

    A record is refused alone, with everything there is to fix in one message.
    """
    table = pd.DataFrame(
        {"key": keys.astype(str), "code": codes.astype(str), "message": messages.astype(str)}
    )
    if table.empty:
        return []
    grouped = table.groupby("key", sort=False).agg(code=("code", "first"), message=("message", "; ".join))
    if order is not None:
        rank = {k: i for i, k in enumerate(order)}
        grouped = grouped.loc[sorted(grouped.index, key=lambda k: rank.get(k, len(rank)))]
    return [
        RecordFailure(key=key, code=code, message=message)
        for key, code, message in zip(grouped.index, grouped["code"], grouped["message"], strict=True)
    ]


def apply_extra_mappings(
    records: list[dict[str, Any]], sources: pd.DataFrame, mapping: Mapping[str, str]
) -> None:
    """Copy the extra-mapped source columns into each record (in place, records aligned with rows)."""
    for source, target in mapping.items():
        if source not in sources.columns:
            continue
        for record, value in zip(records, python_values(sources[source]), strict=True):
            record[target] = value
