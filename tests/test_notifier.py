"""PlivoNotifier in real callbacks: the rendered text reaches the number, and a Plivo failure
never hides the task's own outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_plivo.get_provider_info import get_provider_info
from airflow_provider_plivo.notifications.plivo import PlivoNotifier
from tests.support.dag_runs import task_states

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox

NOTIFIER_DAG = "test_dags/notifier_dag.py"


def sent(sandbox: PlivoSandbox) -> list[tuple[str, str]]:
    return sorted((m.to_number.lstrip("+"), m.text) for m in sandbox.messages.values())


@pytest.mark.dag
def test_failure_and_success_callbacks_text_the_rendered_message(plivo_sandbox, run_dag, capfd):
    dag_run = run_dag(NOTIFIER_DAG)

    assert task_states(dag_run) == {"doomed": "failed", "fine": "success"}
    assert sent(plivo_sandbox) == [
        ("14155550101", "doomed failed in plivo_notifier_test"),
        ("14155550102", "fine done"),
        ("14155550103", "fine done"),
    ]
    assert "the warehouse is on fire" in capfd.readouterr().out


@pytest.mark.dag
def test_with_plivo_down_the_task_keeps_its_own_error(plivo_down, run_dag, capfd):
    dag_run = run_dag(NOTIFIER_DAG)

    assert task_states(dag_run) == {"doomed": "failed", "fine": "success"}
    out = capfd.readouterr().out
    assert "RuntimeError: the warehouse is on fire" in out
    assert "Plivo notification not sent (the outcome it reports stands)" in out


def test_the_notifier_is_registered_with_the_provider():
    assert get_provider_info()["notifications"] == [f"{PlivoNotifier.__module__}.{PlivoNotifier.__name__}"]


def test_async_notify_sends_on_an_event_loop(plivo_sandbox):
    import asyncio

    notifier = PlivoNotifier(src="+14155550100", dst="+14155550101", text="deadline missed")

    asyncio.run(notifier.async_notify({}))

    assert sent(plivo_sandbox) == [("14155550101", "deadline missed")]
