"""A send whose answer never came, reconciled with Plivo's message list over HTTP: each number is
messaged once whatever Plivo's clock says, another sender's messages are never taken for ours,
the list is read only across the lost request's window, masked numbers are matched by their
visible digits, and what cannot be proved fails before anything is sent.

Each test runs two tries of one send against one ledger (the task state store's, over a store in
memory; the first test in a real DAG run), as a retried Airflow task does.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo._airflow.send_ledger import TaskStateSendLedger
from airflow_provider_plivo.exceptions import PlivoConnectionError, PlivoReconciliationError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.messages.sender import RECONCILE_MARGIN
from airflow_provider_plivo.version_compat import has_task_state_store
from tests.support.dag_runs import task_states, xcom_value
from tests.support.stores import MemoryStore

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox, SandboxRequest

SRC = "+14155550100"
OTHER_SRC = "+14155550199"
SEND_DAG = "test_dags/retried_dag.py"


def audience(count: int, first: int = 0) -> list[str]:
    """Distinct valid North American numbers: area code 415, exchanges 200 and up."""
    return [f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}" for i in range(first, first + count)]


def send_requests(sandbox: PlivoSandbox) -> list[SandboxRequest]:
    return [r for r in sandbox.requests if r.method == "POST" and r.path.rstrip("/").endswith("/Message")]


def list_requests(sandbox: PlivoSandbox) -> list[SandboxRequest]:
    return [r for r in sandbox.requests if r.method == "GET" and r.path.rstrip("/").endswith("/Message")]


def received(sandbox: PlivoSandbox, src: str = SRC) -> list[str]:
    """The numbers ``src`` messaged, once per message, sorted."""
    return sorted(m.to_number for m in sandbox.messages.values() if m.from_number == src)


def first_try_loses_its_answer(sandbox: PlivoSandbox, ledger: TaskStateSendLedger, **message: Any) -> None:
    sandbox.script_faults({len(send_requests(sandbox)) + 1: "lost"}, endpoint="message")
    with pytest.raises(PlivoConnectionError):
        PlivoHook().send_message(ledger=ledger, **message)


@pytest.mark.dag
@pytest.mark.skipif(not has_task_state_store(), reason="sends are recorded in the task state store (3.3+)")
def test_a_lost_answer_with_plivos_clock_3_minutes_behind_then_a_retry_messages_each_number_once(
    plivo_sandbox, run_dag
):
    plivo_sandbox.advance_clock(-timedelta(minutes=3))
    plivo_sandbox.script_faults({1: "lost"}, endpoint="message")
    numbers = audience(3)

    dag_run = run_dag(SEND_DAG, dst=numbers)

    assert task_states(dag_run)["send"] == "success"
    assert len(send_requests(plivo_sandbox)) == 1
    assert received(plivo_sandbox) == numbers
    assert sorted(xcom_value(dag_run, "send")) == sorted(plivo_sandbox.messages)


@pytest.mark.parametrize("other", ["another sender", "the same sender with other media"])
def test_a_reset_try_then_another_task_texting_a_number_then_a_retry_messages_both_numbers_once(
    plivo_sandbox, make_media, other
):
    media, other_media = PlivoHook().upload_media(make_media(2))
    numbers = audience(2)
    campaign: dict[str, Any] = {
        "src": SRC,
        "dst": numbers,
        "text": "campaign",
        "media_ids": [media["media_id"]],
    }
    ledger = TaskStateSendLedger(MemoryStore())
    plivo_sandbox.script_faults({1: "reset"}, endpoint="message")
    with pytest.raises(PlivoConnectionError):
        PlivoHook().send_message(ledger=ledger, **campaign)
    assert plivo_sandbox.messages == {}  # the reset came before Plivo acted
    if other == "another sender":
        PlivoHook().send_message(src=OTHER_SRC, dst=numbers[0], text="other", media_ids=[media["media_id"]])
    else:
        PlivoHook().send_message(src=SRC, dst=numbers[0], text="other", media_ids=[other_media["media_id"]])

    sent = PlivoHook().send_message(ledger=ledger, **campaign)

    campaign_messages = {u for u, m in plivo_sandbox.messages.items() if media["media_id"] in m.media_ids}
    campaign_messages -= {u for u, m in plivo_sandbox.messages.items() if m.from_number == OTHER_SRC}
    assert sorted(plivo_sandbox.messages[u].to_number for u in campaign_messages) == numbers
    assert set(sent) == campaign_messages


def test_two_numbers_in_doubt_among_20000_other_messages_read_only_the_lost_requests_window(
    plivo_sandbox, capfd
):
    PlivoHook().send_message(src=SRC, dst=audience(20_000, first=100), text="earlier campaign")
    # They predate the window: its start allows RECONCILE_MARGIN, the Date header's whole second
    # and the filter's.
    time.sleep((RECONCILE_MARGIN + timedelta(seconds=3)).total_seconds())
    numbers = audience(2)
    ledger = TaskStateSendLedger(MemoryStore())
    plivo_sandbox.script_faults({21: "reset"}, endpoint="message")
    with pytest.raises(PlivoConnectionError):
        PlivoHook().send_message(src=SRC, dst=numbers, text="campaign", ledger=ledger)
    listed_before = len(list_requests(plivo_sandbox))

    PlivoHook().send_message(src=SRC, dst=numbers, text="campaign", ledger=ledger)

    assert len(list_requests(plivo_sandbox)) - listed_before == 1
    out = capfd.readouterr().out
    assert "Reconciling 2 numbers: page 1, 0 messages read, 0 found" in out
    assert received(plivo_sandbox).count(numbers[0]) == 1
    assert received(plivo_sandbox).count(numbers[1]) == 1


def test_a_masked_number_is_found_by_its_visible_digits(plivo_sandbox):
    numbers = audience(3)  # last three digits 000, 001, 002: one number each
    ledger = TaskStateSendLedger(MemoryStore())
    first_try_loses_its_answer(plivo_sandbox, ledger, src=SRC, dst=numbers, text="campaign", log="false")
    assert all("X" in m.to_number or "*" in m.to_number for m in plivo_sandbox.messages.values())

    sent = PlivoHook().send_message(src=SRC, dst=numbers, text="campaign", log="false", ledger=ledger)

    assert len(send_requests(plivo_sandbox)) == 1
    assert sorted(sent) == sorted(plivo_sandbox.messages)
    assert [m["number"] for m in sent.messages] == numbers


def test_a_masked_number_that_fits_two_numbers_in_doubt_raises_and_sends_nothing(plivo_sandbox):
    numbers = ["+14152000123", "+14152001123", "+14152000456"]  # the first two mask alike
    ledger = TaskStateSendLedger(MemoryStore())
    first_try_loses_its_answer(plivo_sandbox, ledger, src=SRC, dst=numbers, text="campaign", log="false")

    with pytest.raises(PlivoReconciliationError) as raised:
        PlivoHook().send_message(
            src=SRC, dst=[*numbers, "+14152000789"], text="campaign", log="false", ledger=ledger
        )

    assert len(send_requests(plivo_sandbox)) == 1
    assert len(plivo_sandbox.messages) == 3
    assert set(raised.value.numbers) == {"+14152000123", "+14152001123"}
    assert "+14152000123" in str(raised.value)
    assert "Plivo's console" in str(raised.value)


def fraction_digits(plivo_time: str) -> int:
    fraction = re.search(r"\.(\d+)", plivo_time)
    return len(fraction.group(1)) if fraction else 0


def test_lost_sends_whose_times_have_5_fraction_digits_are_reconciled(plivo_sandbox):
    """Plivo drops a fraction's trailing zeros (``18:28:51.94772+05:30``); Python 3.10's
    ``fromisoformat`` refuses 5 digits. Lost sends are made until one is stamped so."""
    ledger = TaskStateSendLedger(MemoryStore())
    numbers: list[str] = []
    for number in audience(300):
        numbers.append(number)
        first_try_loses_its_answer(plivo_sandbox, ledger, src=SRC, dst=[number], text="campaign")
        newest = list(plivo_sandbox.messages)[-1]
        if fraction_digits(PlivoHook().get_message(newest)["message_time"]) == 5:
            break
    else:
        pytest.fail("no message time with 5 fraction digits in 300 sends")

    sent = PlivoHook().send_message(src=SRC, dst=numbers, text="campaign", ledger=ledger)

    assert len(send_requests(plivo_sandbox)) == len(numbers)
    assert received(plivo_sandbox) == sorted(numbers)
    assert sorted(sent) == sorted(plivo_sandbox.messages)
