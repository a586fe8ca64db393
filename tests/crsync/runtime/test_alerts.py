"""The failure notifier: what the message says and which channels it reads from the settings."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

from crsync.runtime.alerts import SyncFailureNotifier, failure_message
from crsync.settings import DEFAULT_SETTINGS_FILE


def failing_context(error: Exception) -> dict:
    ti = SimpleNamespace(dag_id="sf_opportunity_to_ns_sales_order", task_id="report", try_number=3,
                         log_url="http://127.0.0.1:8080/log")
    return {"ti": ti, "dag_run": SimpleNamespace(run_id="scheduled__2026-11-26T10:00:00+00:00"), "exception": error}


def test_message_names_the_run_the_task_and_carries_the_summary():
    summary = "Run summary: FAILED\n  first 1 failing record(s) of 1:\n    006xx [missing_item] Product 'Gold Support' has no NetSuite item id"
    text = failure_message(failing_context(RuntimeError(summary)))
    assert "sf_opportunity_to_ns_sales_order" in text and "scheduled__2026-11-26T10:00:00+00:00" in text
    assert "task report (try 3)" in text
    assert "Product 'Gold Support' has no NetSuite item id" in text
    assert "http://127.0.0.1:8080/log" in text


def test_long_messages_are_cut_for_chat_but_say_where_the_rest_is():
    text = failure_message(failing_context(RuntimeError("x" * 10_000)))
    assert len(text) <= 3500 and text.endswith("(see the log)")


def test_default_settings_only_log(caplog, monkeypatch):
    monkeypatch.delenv("CRSYNC_SETTINGS_FILE", raising=False)
    with caplog.at_level(logging.ERROR):
        SyncFailureNotifier().notify(failing_context(RuntimeError("boom")))
    assert "boom" in caplog.text
    assert SyncFailureNotifier()._channels() == (None, [], "smtp_default")


def test_channels_come_from_the_settings_file(tmp_path: Path, monkeypatch):
    text = DEFAULT_SETTINGS_FILE.read_text().replace(
        "  slack_webhook_conn_id: null", "  slack_webhook_conn_id: slack_alerts"
    ).replace("  email_to: []", "  email_to: [data-team@example.com]")
    custom = tmp_path / "settings.yaml"
    custom.write_text(text)
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(custom))
    assert SyncFailureNotifier()._channels() == ("slack_alerts", ["data-team@example.com"], "smtp_default")


def test_a_broken_settings_file_still_logs_the_failure(tmp_path: Path, monkeypatch, caplog):
    bad = tmp_path / "settings.yaml"
    bad.write_text("alerts: [\n")
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(bad))
    with caplog.at_level(logging.WARNING):
        SyncFailureNotifier().notify(failing_context(RuntimeError("original failure")))
    assert "original failure" in caplog.text


def test_the_logged_alert_has_no_slack_emoji_codes(caplog, monkeypatch):
    """The task log shows plain text: Slack's ``:emoji:`` codes are added for Slack only."""
    import re

    monkeypatch.delenv("CRSYNC_SETTINGS_FILE", raising=False)
    with caplog.at_level(logging.ERROR):
        SyncFailureNotifier().notify(failing_context(RuntimeError("boom")))
    assert "Contract renewal sync failed: DAG sf_opportunity_to_ns_sales_order" in caplog.text
    assert not re.search(r":[a-z][a-z0-9_+-]*:", caplog.text), caplog.text
