"""PlivoNotifier in real callbacks: the rendered text reaches the number, and a Plivo failure
never hides the task's own outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_plivo.get_provider_info import get_provider_info
from airflow_provider_plivo.notifications.plivo import PlivoNotifier
from tests.support.dag_runs import task_states

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox

NOTIFIER_DAG = "test_dags/notifier_dag.py"


def sent(sandbox: PlivoSandbox) -> list[tuple[str, str]]:
    return sorted((m.to_number.lstrip("+"), m.text) for m in sandbox.messages.values())


def test_failure_and_success_callbacks_text_the_rendered_message(plivo_sandbox, run_dag, capfd):
    dag_run = run_dag(NOTIFIER_DAG)

    assert task_states(dag_run) == {"doomed": "failed", "fine": "success"}
    assert sent(plivo_sandbox) == [
        ("14155550101", "doomed failed in plivo_notifier_test"),
        ("14155550102", "fine done"),
        ("14155550103", "fine done"),
    ]
    assert "the warehouse is on fire" in capfd.readouterr().out


def test_with_plivo_down_the_task_keeps_its_own_error(plivo_down, run_dag, capfd):
    dag_run = run_dag(NOTIFIER_DAG)

    assert task_states(dag_run) == {"doomed": "failed", "fine": "success"}
    out = capfd.readouterr().out
    assert "RuntimeError: the warehouse is on fire" in out
    # Airflow's BaseNotifier logs the error and re-raises it to the callback runner, which
    # records the callback as failed; the tasks keep their own states (asserted above).
    assert out.count("Failed to send notification (sync)") == 2
    assert "could not connect" in out or "connection to" in out


def test_the_notifier_is_registered_with_the_provider():
    assert get_provider_info()["notifications"] == [f"{PlivoNotifier.__module__}.{PlivoNotifier.__name__}"]


def test_async_notify_sends_on_an_event_loop(plivo_sandbox):
    import asyncio

    notifier = PlivoNotifier(src="+14155550100", dst="+14155550101", text="deadline missed")

    asyncio.run(notifier.async_notify({}))

    assert sent(plivo_sandbox) == [("14155550101", "deadline missed")]


def _deadline_alert(text: str) -> list[dict[str, object]]:
    """Run PlivoNotifier as a deadline alert does: through Airflow's CallbackTrigger, with the
    context the scheduler gives it (the DAG run as a dict, and the deadline); its events."""
    import asyncio
    import importlib

    try:
        trigger_class = importlib.import_module("airflow.triggers.callback").CallbackTrigger
    except ImportError:  # Airflow 3.1 names it for deadlines alone
        trigger_class = importlib.import_module("airflow.triggers.deadline").DeadlineCallbackTrigger

    trigger = trigger_class(
        callback_path=f"{PlivoNotifier.__module__}.{PlivoNotifier.__name__}",
        callback_kwargs={
            "src": "+14155550100",
            "dst": "+14155550101",
            "text": text,
            "hook_params": {"retry_attempts": 1},
            "context": {
                "dag_run": {"dag_id": "nightly_campaign", "run_id": "manual__1"},
                "deadline": {"id": "d1", "deadline_time": "2026-12-01T00:00:00+00:00"},
            },
        },
    )

    async def events() -> list[dict[str, object]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(events())


def test_a_deadline_alert_renders_the_dag_of_its_run_and_records_success(plivo_sandbox):
    events = _deadline_alert("{{ dag.dag_id }} missed its deadline ({{ dag_run.run_id }})")

    assert [event["state"] for event in events] == ["running", "success"]
    assert sent(plivo_sandbox) == [("14155550101", "nightly_campaign missed its deadline (manual__1)")]


def test_a_deadline_alert_plivo_refuses_is_recorded_as_failed(plivo_sandbox_factory):
    plivo_sandbox_factory(password="not-the-token")

    events = _deadline_alert("{{ dag.dag_id }} missed its deadline")

    assert [event["state"] for event in events] == ["running", "failed"]
    assert "PlivoAuthenticationError" in str(events[-1]["body"])
