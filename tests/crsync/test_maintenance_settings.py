"""``maintenance.xcom_retention_days``: the default, and a bad value refused with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from crsync.settings import DEFAULT_SETTINGS_FILE, SettingsError, load_settings

DEFAULT_TEXT = DEFAULT_SETTINGS_FILE.read_text(encoding="utf-8")


def test_default_retention_is_30_days() -> None:
    assert load_settings(DEFAULT_SETTINGS_FILE).maintenance.xcom_retention_days == 30


@pytest.mark.parametrize("value", ["0", "-5", "thirty", "4000"])
def test_bad_retention_is_refused_with_its_line(tmp_path: Path, value: str) -> None:
    text = DEFAULT_TEXT.replace("  xcom_retention_days: 30", f"  xcom_retention_days: {value}")
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "xcom_retention_days:" in row)
    (problem,) = caught.value.problems
    assert f"line {line}: maintenance.xcom_retention_days" in problem, problem
