"""A campaign larger than Plivo dispatches within the message expiry, run with ``dag.test()``
against the sandbox at Plivo's signup speed (0.25 MMS a second, 3-hour expiry) on a fast clock:
sent in waves, deferred between them, every number messaged once; with pacing off it fails
before sending anything."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_plivo.messages.delivery import sent_messages
from airflow_provider_plivo.messages.rules import number_problem
from airflow_provider_plivo.version_compat import has_task_state_store
from tests.support.dag_runs import task_states, xcom_value

TIME_SCALE = 2_000
"""3 hours of Plivo's clock in 5.4 s: each wave of 2,430 MMS drains in 4.9 s, five waves in ~25 s."""

SIGNUP_SPEED = {"sms": 5.0, "mms": 0.25}


def audience(count: int) -> list[str]:
    """``count`` fictional North American numbers (555-0100 to 555-0199 in each area code)."""
    area_codes = [code for code in range(201, 990) if number_problem(f"+1{code}5550100", is_mms=True) is None]
    return [f"+1{code}55501{n:02d}" for code in area_codes for n in range(100)][:count]


def tries(dag_run: Any, task_id: str) -> int:
    (ti,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == task_id]
    return int(ti.try_number)


@pytest.fixture
def signup_speed_sandbox(plivo_sandbox_factory: Any) -> Any:
    return plivo_sandbox_factory(mps=SIGNUP_SPEED, time_scale=TIME_SCALE)


def test_10000_mms_go_in_five_waves_deferred_between_them_every_number_once(
    signup_speed_sandbox, run_dag, capfd
):
    numbers = audience(10_000)

    dag_run = run_dag("test_dags/paced_campaign_dag.py", dst=numbers)

    assert task_states(dag_run) == {"send": "success"}
    assert tries(dag_run, "send") == 1
    out = capfd.readouterr().out
    for wave, sent in enumerate((2_430, 4_860, 7_290, 9_720), start=1):
        assert f"wave {wave} of 5: 2,430 numbers; {sent:,} of 10,000 sent; next wave in" in out
    assert "wave 5 of 5: 280 numbers; 10,000 of 10,000 sent" in out
    assert "10,000 MMS at 0.25 per second: Plivo needs about 11 h 7 min to dispatch them" in out
    # It really deferred: dag.test() ran a trigger between each two waves, and resumed the task.
    # It really deferred between each two waves (dag.test() runs the trigger in line) and resumed.
    assert out.count("Pausing task as DEFERRED") == 4
    sends = [r for r in signup_speed_sandbox.requests if r.method == "POST" and r.path.endswith("/Message/")]
    sent_to = [number for r in sends for number in r.json["dst"].split("<")]
    assert sorted(sent_to) == sorted(numbers)  # each number in one request, once
    stored = list(signup_speed_sandbox.messages.values())
    assert sorted(m.to_number for m in stored) == sorted(numbers)
    # None expired in the sandbox's queue (error 420): each wave drained before its expiry.
    assert [m.to_number for m in stored if m.error_code == "420" or not m.charged] == []
    longest_wait = max(m.dequeued_at - m.queued_at for m in stored).total_seconds() * TIME_SCALE
    assert longest_wait < 10_800
    # Over 1,000 numbers: compact XComs, read back as the sensor reads them.
    records = sent_messages(xcom_value(dag_run, "send", key="messages"))
    assert list(records.values()) == numbers
    assert list(sent_messages(xcom_value(dag_run, "send"))) == list(records)
    assert xcom_value(dag_run, "send", key="invalid_numbers") == []


@pytest.mark.skipif(not has_task_state_store(), reason="a retry resumes from the task state store (3.3+)")
def test_a_retry_after_a_failed_wave_sends_only_the_numbers_not_yet_messaged(signup_speed_sandbox, run_dag):
    # 5,000 MMS: waves of 2,430, 2,430 and 140. The first request of wave 2 answers 503 (surely not
    # sent; the hook makes one attempt): the try fails; the retry waits for wave 1 to drain and
    # sends wave 2 and 3 without messaging anyone of wave 1, or of wave 2's answered requests, again.
    numbers = audience(5_000)
    signup_speed_sandbox.script_faults({4: "503"}, endpoint="message")

    dag_run = run_dag("test_dags/paced_campaign_dag.py", dst=numbers)

    assert task_states(dag_run) == {"send": "success"}
    assert tries(dag_run, "send") == 2
    stored = list(signup_speed_sandbox.messages.values())
    assert sorted(m.to_number for m in stored) == sorted(numbers)  # each number messaged once
    assert [m.to_number for m in stored if m.error_code == "420"] == []
    # Over 1,000 numbers: compact XComs, read back as the sensor reads them.
    records = sent_messages(xcom_value(dag_run, "send", key="messages"))
    assert list(records.values()) == numbers
    assert list(sent_messages(xcom_value(dag_run, "send"))) == list(records)


def test_with_pacing_off_it_fails_before_sending_naming_the_7300_that_would_expire(
    signup_speed_sandbox, run_dag, capfd
):
    dag_run = run_dag("test_dags/unpaced_campaign_dag.py", dst=audience(10_000))

    assert task_states(dag_run) == {"send": "failed"}
    assert tries(dag_run, "send") == 1  # no retry can help
    assert signup_speed_sandbox.count_requests("POST", "/Message/") == 0
    out = capfd.readouterr().out
    assert "7,300 of 10,000 would expire" in out
    assert "pacing=True" in out
