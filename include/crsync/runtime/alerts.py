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
#: Put before the message in Slack only: the task log and the email show the plain text (Slack's emoji
#: codes read as noise there).
SLACK_PREFIX = ":red_circle: "


#: What to check when a task or run hits its time limit (the request timeouts fire first on a stall).
TIME_LIMIT_HINT = (
    "Check the task log for the last request it sent, NetSuite's and Salesforce's status, and whether the "
    "pool netsuite_api was busy (Admin > Pools); a backlog larger than one run can carry may need a manual "
    "run with fewer ids. Timeouts: docs/operations.md, 'Time limits'."
)


def timeout_description(context: Any) -> str | None:
    """What timed out and after how long, or None when the failure is not a timeout.

    Three kinds: a request with no reply (``HttpTimeoutError``, raised by the hooks: its message already
    names the system, the wait and what to check), a task over its ``execution_timeout``
    (``AirflowTaskTimeout``), and a run over its ``dagrun_timeout`` (DAG callback, reason ``timed_out``).
    """
    error = context.get("exception")
    ti = context.get("ti") or context.get("task_instance")
    task = context.get("task") or getattr(ti, "task", None)
    # By class name: the notifier imports neither the provider nor Airflow core (both define the classes,
    # and Airflow has an AirflowTaskTimeout in the Task SDK and one in core).
    if error is not None and type(error).__name__ == "HttpTimeoutError":
        return f"{error}"
    if error is not None and type(error).__name__ == "AirflowTaskTimeout":
        limit = getattr(task, "execution_timeout", None)
        return (
            f"Task {getattr(ti, 'task_id', '?')} ran longer than its execution_timeout of {limit} and was "
            f"stopped. {TIME_LIMIT_HINT}"
        )
    if error is None and context.get("reason") == "timed_out":
        limit = getattr(context.get("dag"), "dagrun_timeout", None)
        return (
            f"The run did not finish within its dagrun_timeout of {limit}; its unfinished tasks were stopped "
            f"(marked skipped). {TIME_LIMIT_HINT}"
        )
    return None


def failure_message(context: Any) -> str:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    error = context.get("exception")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id", "?")
    timeout = timeout_description(context)
    if ti is not None:
        where = f"task {getattr(ti, 'task_id', '?')} (try {getattr(ti, 'try_number', '?')})"
    else:
        where = "the whole run"
    lines = [
        f"Contract renewal sync {'timed out' if timeout else 'failed'}: DAG {dag_id}, "
        f"run {run_id}, {where}",
    ]
    if timeout:
        lines.append(timeout)
        # The hooks' timeout message is the error itself; a task/run limit also shows the raw error.
        if error is not None and type(error).__name__ != "HttpTimeoutError":
            lines.append(f"{type(error).__name__}: {error}")
    else:
        name = type(error).__name__ if error else "Error"
        lines.append(f"{name}: {error or context.get('reason', 'unknown')}")
    log_url = getattr(ti, "log_url", None)
    if log_url:
        lines.append(f"Log: {log_url}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 20] + "\n... (see the log)"


class SyncFailureNotifier(BaseNotifier):
    """Log the failure, then forward it to the channels configured in the integration settings.

    :param slack_webhook_conn_id: Slack incoming-webhook connection; ``None`` reads the settings.
    :param email_to: recipients for an SMTP email; ``None`` reads the settings.
    :param run_timeouts_only: report only a run that hit its ``dagrun_timeout`` (the DAG-level callback:
        a failed task has already been reported by its own callback, a timed-out run has not, since
        Airflow stops its tasks without calling theirs).
    """

    def __init__(
        self,
        *,
        slack_webhook_conn_id: str | None = None,
        email_to: list[str] | None = None,
        run_timeouts_only: bool = False,
    ) -> None:
        super().__init__()
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.email_to = email_to
        self.run_timeouts_only = run_timeouts_only

    template_fields = ()

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render: no template fields. (Skipping the Jinja set-up also keeps the DAG-level
        callback working under ``dag.test()``, whose context carries the serialized DAG.)"""

    def should_notify(self, context: Any) -> bool:
        """Whether this failure is reported by this notifier (see ``run_timeouts_only``)."""
        return not self.run_timeouts_only or context.get("reason") == "timed_out"

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
        if not self.should_notify(context):
            return
        message = failure_message(context)
        log.error("%s", message)
        slack, email, smtp_conn_id = self._channels()
        if slack:
            from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

            SlackWebhookNotifier(slack_webhook_conn_id=slack, text=SLACK_PREFIX + message).notify(context)
        if email:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            first_line = message.splitlines()[0]
            SmtpNotifier(
                to=email, smtp_conn_id=smtp_conn_id, subject=first_line, html_content=f"<pre>{message}</pre>"
            ).notify(context)
