"""End to end: upload -> send -> wait for delivery in real DAG runs against the sandbox."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.messages.delivery import sent_messages
from tests.support.dag_runs import task_states, xcom_value

pytestmark = pytest.mark.dag
CAMPAIGN_DAG = "example_dags/example_plivo_mms_campaign.py"


@pytest.fixture(autouse=True)
def quick_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLIVO_DELIVERY_POLL_SECONDS", "0.3")


def test_campaign_sends_one_mms_to_both_numbers_and_sees_delivery(plivo_sandbox, run_dag):
    dag_run = run_dag(CAMPAIGN_DAG)

    assert task_states(dag_run) == {
        "upload_media": "success",
        "send_mms": "success",
        "wait_for_delivery": "success",
    }
    media_ids = xcom_value(dag_run, "upload_media")
    assert len(media_ids) == 3
    (send,) = [r for r in plivo_sandbox.requests if r.path.endswith("/Message/")]
    assert send.json["type"] == "mms"
    assert send.json["dst"] == "+14155550101<+14155550102"
    assert send.json["media_ids"] == media_ids
    assert send.json["text"].startswith("Today's picks for 20")
    uuids = xcom_value(dag_run, "send_mms")
    assert sorted(uuids) == sorted(plivo_sandbox.messages)
    # +1 numbers get no delivery reports: a message there is done at "sent" (issue 9).
    assert xcom_value(dag_run, "wait_for_delivery") == dict.fromkeys(uuids, "sent")


def test_failed_delivery_fails_the_sensor_naming_the_number_and_code(plivo_sandbox, run_dag, capfd):
    dag_run = run_dag(CAMPAIGN_DAG, audience=["+14155550101", "+15005550001"])

    assert task_states(dag_run)["wait_for_delivery"] == "failed"
    failed_uuid = next(u for u, m in plivo_sandbox.messages.items() if m.to_number == "+15005550001")
    assert (
        f"1 of 2 messages failed: {failed_uuid} to +15005550001 undelivered (Plivo error code 80: "
        "Destination temporarily unavailable) (2 of 2 settled: 1 sent, 1 undelivered)"
        in capfd.readouterr().out
    )


@pytest.mark.parametrize(("dst", "expected"), [(["+14155550101"], "success"), (["+15005550002"], "failed")])
def test_deferrable_sensor_waits_in_the_trigger(plivo_sandbox, run_dag, dst, expected):
    dag_run = run_dag("test_dags/deferred_delivery_dag.py", dst=dst)

    assert task_states(dag_run) == {"send": "success", "wait": expected}
    if expected == "success":
        (uuid,) = xcom_value(dag_run, "send")
        assert xcom_value(dag_run, "wait") == {uuid: "sent"}


def test_audience_campaign_messages_2500_numbers_in_3_requests_once_each(plivo_sandbox, run_dag):
    dag_run = run_dag("example_dags/example_plivo_audience_campaign.py")

    assert task_states(dag_run) == {
        "read_audience": "success",
        "upload_media": "success",
        "send_mms": "success",
        "wait_for_delivery": "success",
    }
    sends = [r for r in plivo_sandbox.requests if r.method == "POST" and "/Message" in r.path]
    assert sorted(len(r.json["dst"].split("<")) for r in sends) == [500, 1000, 1000]
    numbers = [m.to_number.lstrip("+") for m in plivo_sandbox.messages.values()]
    assert len(numbers) == len(set(numbers)) == 2500
    # Over 1,000 numbers: compact XComs, which the sensor took as they are.
    assert len(sent_messages(xcom_value(dag_run, "send_mms", key="messages"))) == 2500
    assert len(xcom_value(dag_run, "wait_for_delivery")) == 2500


def test_a_deferrable_sensor_rides_out_a_spell_of_503s_on_its_first_try(plivo_sandbox_factory, run_dag):
    # The first poke, on the worker, sees the message queued (for 12 s, room for a slow start of
    # the task on a loaded machine) and defers; the next 12 status reads answer 503: two whole
    # polls of the trigger's hook (5 attempts each, where a try failed before issue 21) and more.
    plivo_sandbox = plivo_sandbox_factory(delivery_seconds=12)
    plivo_sandbox.script_faults(dict.fromkeys(range(2, 14), "503"), endpoint="status")

    dag_run = run_dag("test_dags/deferred_delivery_dag.py")

    assert task_states(dag_run) == {"send": "success", "wait": "success"}
    (wait,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "wait"]
    assert wait.try_number == 1
    status_reads = [r.status for r in plivo_sandbox.requests if r.method == "GET" and "/Message/" in r.path]
    assert status_reads[:14] == [200, *[503] * 12, 200]  # a poke, then the trigger through the spell
    (uuid,) = xcom_value(dag_run, "send")
    assert xcom_value(dag_run, "wait") == {uuid: "sent"}


def test_a_deferrable_sensor_whose_messages_are_done_finishes_on_the_worker(plivo_sandbox_factory, run_dag):
    sandbox = plivo_sandbox_factory(delivery_seconds=0)

    dag_run = run_dag("test_dags/deferred_delivery_dag.py")

    assert task_states(dag_run) == {"send": "success", "wait": "success"}
    status_reads = [r for r in sandbox.requests if r.method == "GET" and "/Message/" in r.path]
    assert len(status_reads) == 1  # the first poke; no trigger ran


def test_the_campaign_runs_when_triggered_by_hand_without_a_logical_date(plivo_sandbox, airflow_db):
    import importlib.util
    import os
    from pathlib import Path

    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "example_dags" / "example_plivo_mms_campaign.py"
    spec = importlib.util.spec_from_file_location("manual_campaign", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    dag_run = module.dag.test(logical_date=None)

    assert dag_run.logical_date is None
    assert task_states(dag_run)["send_mms"] == "success"
    (send,) = [r for r in plivo_sandbox.requests if r.method == "POST" and "/Message" in r.path]
    assert send.json["text"].startswith(f"Today's picks for {dag_run.run_after:%Y-%m-%d}")
