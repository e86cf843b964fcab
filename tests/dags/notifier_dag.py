"""Test DAG: a task that fails with ``params.error``, a PlivoNotifier texting on failure, and a
task that succeeds with one texting on success (one attempt each: a test points them at no
Plivo at all)."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_plivo.notifications.plivo import PlivoNotifier, send_plivo_notification

with DAG(
    dag_id="plivo_notifier_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"error": "the warehouse is on fire"},
    default_args={"retries": 0},
) as dag:

    @task(
        on_failure_callback=PlivoNotifier(
            src="+14155550100",
            dst=["+14155550101"],
            text="{{ ti.task_id }} failed in {{ dag.dag_id }}",
            hook_params={"retry_attempts": 1},
        )
    )
    def doomed(params: dict[str, Any] | None = None) -> None:
        raise RuntimeError(params["error"] if params else "no params")

    @task(
        on_success_callback=send_plivo_notification(
            src="+14155550100",
            dst="+14155550102<+14155550103",
            text="{{ ti.task_id }} done",
            hook_params={"retry_attempts": 1},
        )
    )
    def fine() -> int:
        return 1

    doomed()
    fine()
