"""Sends to whole audiences: deduplicated, at most 1,000 numbers a request, every number paired
with its message, invalid numbers reported; and exactly once across Airflow tries."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_plivo.exceptions import PlivoMessageValidationError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.messages.delivery import sent_messages
from airflow_provider_plivo.version_compat import has_task_state_store
from tests.support.dag_runs import task_states, xcom_value

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox, SandboxRequest

SRC = "+14155550100"
SEND_DAG = "test_dags/retried_dag.py"
HAS_TASK_STATE_STORE = has_task_state_store()
needs_task_state_store = pytest.mark.skipif(
    not HAS_TASK_STATE_STORE, reason="sends are recorded in the task state store, new in Airflow 3.3"
)


def audience(count: int) -> list[str]:
    """Distinct valid North American numbers: area code 415, exchanges 200 and up."""
    return [f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}" for i in range(count)]


def send_requests(sandbox: PlivoSandbox) -> list[SandboxRequest]:
    return [r for r in sandbox.requests if r.method == "POST" and r.path.rstrip("/").endswith("/Message")]


def test_2500_numbers_go_in_3_requests_and_each_gets_one_message(plivo_sandbox):
    numbers = audience(2500)

    sent = PlivoHook().send_message(src=SRC, dst=[*numbers, numbers[7]], text="campaign")

    sizes = sorted(len(r.json["dst"].split("<")) for r in send_requests(plivo_sandbox))
    assert sizes == [500, 1000, 1000]
    assert len(sent) == 2500
    assert sorted(m.to_number.lstrip("+") for m in plivo_sandbox.messages.values()) == sorted(
        n.lstrip("+") for n in numbers
    )
    assert {record["number"] for record in sent.messages} == set(numbers)
    for record in sent.messages:
        assert plivo_sandbox.messages[record["message_uuid"]].to_number.lstrip("+") == record["number"][1:]
    assert sent.invalid_numbers == []


def test_numbers_joined_with_the_separator_and_repeated_get_one_message_each(plivo_sandbox):
    sent = PlivoHook().send_message(src=SRC, dst="+14155550101<+14155550102<+14155550101", text="hi")

    (request,) = send_requests(plivo_sandbox)
    assert request.json["dst"] == "+14155550101<+14155550102"
    assert [r["number"] for r in sent.messages] == ["+14155550101", "+14155550102"]


def test_one_media_id_string_is_one_id(plivo_sandbox, make_media):
    (record,) = PlivoHook().upload_media(make_media(1))

    PlivoHook().send_message(src=SRC, dst="+14155550101", media_ids=record["media_id"])

    (request,) = send_requests(plivo_sandbox)
    assert request.json["media_ids"] == [record["media_id"]]


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("+14150550100", "is not a valid North American number"),
        ("+10155550100", "is not a valid North American number"),
        ("+33123456", "has the wrong number of digits"),
    ],
)
def test_numbers_plivo_would_refuse_are_named_before_anything_is_sent(plivo_sandbox, number, problem):
    with pytest.raises(PlivoMessageValidationError) as raised:
        PlivoHook().send_message(src=SRC, dst=["+14155550101", number], text="hi")

    assert f"dst number {number} {problem}" in str(raised.value)
    assert plivo_sandbox.requests == []


@pytest.mark.dag
@needs_task_state_store
def test_a_send_whose_answer_was_lost_is_not_repeated_by_the_retry(plivo_sandbox, run_dag):
    plivo_sandbox.script_faults({1: "lost"}, endpoint="message")
    numbers = audience(3)

    dag_run = run_dag(SEND_DAG, dst=numbers)

    assert task_states(dag_run)["send"] == "success"
    assert len(send_requests(plivo_sandbox)) == 1
    assert sorted(m.to_number.lstrip("+") for m in plivo_sandbox.messages.values()) == sorted(
        n.lstrip("+") for n in numbers
    )
    messages = xcom_value(dag_run, "send", key="messages")
    assert {m["number"] for m in messages} == set(numbers)
    assert sorted(xcom_value(dag_run, "send")) == sorted(plivo_sandbox.messages)


def test_numbers_plivo_refuses_are_named_and_returned_and_the_rest_are_messaged(plivo_sandbox, capfd):
    # A possible UK length, so it passes our check, but not a number in service: Plivo refuses it.
    refused = "+447700900123"

    sent = PlivoHook().send_message(src=SRC, dst=["+14155550101", refused], text="hi")

    assert len(sent) == 1
    assert sent.invalid_numbers == [refused]
    assert [m["number"] for m in sent.messages] == ["+14155550101"]
    assert f"Plivo refused 1 invalid number: {refused}" in capfd.readouterr().out


@pytest.mark.dag
@needs_task_state_store
def test_a_lost_request_in_a_large_send_is_recovered_and_its_records_fit(plivo_sandbox, run_dag, capfd):
    # Two requests of 1,000 go at once; whichever arrives second loses its answer.
    plivo_sandbox.script_faults({2: "lost"}, endpoint="message")
    numbers = audience(2000)

    dag_run = run_dag(SEND_DAG, dst=numbers)

    assert task_states(dag_run)["send"] == "success"
    assert len(send_requests(plivo_sandbox)) == 2
    assert len(plivo_sandbox.messages) == 2000
    # Over 1,000 numbers: a compact XCom, read back as the sensor reads it.
    assert list(sent_messages(xcom_value(dag_run, "send", key="messages")).values()) == numbers
    out = capfd.readouterr().out
    assert "Plivo's message list shows 1000 of them messaged since; the other 0 are sent now" in out
    assert "exceeds configured max_value_storage_bytes" not in out


@pytest.mark.dag
@pytest.mark.skipif(HAS_TASK_STATE_STORE, reason="Airflow 3.3+ records sends in the task state store")
def test_without_a_task_state_store_a_retry_messages_every_number_again_and_says_so(
    plivo_sandbox, run_dag, capfd
):
    plivo_sandbox.script_faults({1: "lost"}, endpoint="message")

    dag_run = run_dag(SEND_DAG, dst=audience(3))

    assert task_states(dag_run)["send"] == "success"
    assert len(send_requests(plivo_sandbox)) == 2
    assert len(plivo_sandbox.messages) == 6
    assert "a retry of this task messages every number again" in capfd.readouterr().out
