"""Failure alerts: every DAG's tasks report a final failure through :class:`SyncFailureNotifier`.

The message carries the run, the failing task and its error; for load/report tasks that error is the
run summary with the first failing records and what to fix. It is always logged; it is also sent to
Slack (incoming-webhook connection) and/or email (SMTP connection) when the settings name them.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 3500  # Slack truncates long messages; the full text stays in the task log.


def failure_message(context: Any) -> str:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    error = context.get("exception")
    lines = [
        f":red_circle: Contract renewal sync failed: DAG {getattr(ti, 'dag_id', '?')}, "
        f"run {getattr(dag_run, 'run_id', '?')}, task {getattr(ti, 'task_id', '?')} "
        f"(try {getattr(ti, 'try_number', '?')})",
        f"{type(error).__name__ if error else 'Error'}: {error or context.get('reason', 'unknown')}",
    ]
    log_url = getattr(ti, "log_url", None)
    if log_url:
        lines.append(f"Log: {log_url}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 20] + "\n... (see the log)"


class SyncFailureNotifier(BaseNotifier):
    """Log the failure, then forward it to the channels configured in the integration settings.

    :param slack_webhook_conn_id: Slack incoming-webhook connection; ``None`` reads the settings.
    :param email_to: recipients for an SMTP email; ``None`` reads the settings.
    """

    def __init__(
        self, *, slack_webhook_conn_id: str | None = None, email_to: list[str] | None = None
    ) -> None:
        super().__init__()
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.email_to = email_to

    def _channels(self) -> tuple[str | None, list[str], str]:
        """Slack connection, email recipients and SMTP connection: explicit ones, else the settings'."""
        if self.slack_webhook_conn_id or self.email_to:
            return self.slack_webhook_conn_id, list(self.email_to or []), "smtp_default"
        try:
            from crsync.settings import load_settings

            alerts = load_settings().alerts
        except Exception as exc:  # a broken settings file must not hide the original failure
            log.warning("Alert channels not read from the settings (%s); logging only.", exc)
            return None, [], "smtp_default"
        return alerts.slack_webhook_conn_id, list(alerts.email_to), alerts.smtp_conn_id

    def notify(self, context: Any) -> None:
        message = failure_message(context)
        log.error("%s", message)
        slack, email, smtp_conn_id = self._channels()
        if slack:
            from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

            SlackWebhookNotifier(slack_webhook_conn_id=slack, text=message).notify(context)
        if email:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            first_line = message.splitlines()[0].removeprefix(":red_circle: ")
            SmtpNotifier(
                to=email, smtp_conn_id=smtp_conn_id, subject=first_line, html_content=f"<pre>{message}</pre>"
            ).notify(context)
