"""The sensor and its trigger over real HTTP against answers as Plivo records them: masked
``to_number`` (a send with ``log=false``), ``error_message``, progress by state, the send's
``messages`` records as the sensor's input."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any, cast

import pytest

from airflow_provider_plivo.sensors.message import PlivoMessageSensor
from airflow_provider_plivo.triggers.message import PlivoMessageTrigger
from airflow_provider_plivo.version_compat import AirflowFailException
from tests.support.canned_plivo import Answer, canned_plivo
from tests.support.triggers import first_event, message_trigger

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

US, UK = "+14155550101", "+447700900123"
U1, U2 = "3f2c0000-0000-4000-8000-000000000001", "3f2c0000-0000-4000-8000-000000000002"
RECORDS = [{"number": US, "message_uuid": U1}, {"number": UK, "message_uuid": U2}]
QUICK = {"retry_attempts": 1}


def plivo_record(uuid: str, state: str, to_number: str, **more: str) -> dict[str, Any]:
    """A message as Plivo's recordings hold it (numbers without '+', error_message "" when none)."""
    return {
        "api_id": "a1",
        "message_uuid": uuid,
        "message_state": state,
        "to_number": to_number,
        "from_number": "14155550100",
        "message_direction": "outbound",
        "error_code": more.pop("error_code", "000" if state == "delivered" else None),
        "error_message": more.pop("error_message", ""),
        **more,
    }


def masked_answers(states: dict[str, str], **more: dict[str, str]) -> Callable[[str, str], Answer]:
    """Plivo's records of U1 (US) and U2 (UK) with ``log=false``: the numbers masked."""
    masked = {U1: "141XXXXX101", U2: "447XXXXX123"}

    def answer(method: str, path: str) -> Answer:
        uuid = path.rstrip("/").rsplit("/", 1)[-1]
        return 200, plivo_record(uuid, states[uuid], masked[uuid], **more.get(uuid, {}))

    return answer


def sensor(message_uuids: Any) -> PlivoMessageSensor:
    return PlivoMessageSensor(task_id="wait", message_uuids=message_uuids, hook_params=QUICK)


def test_a_masked_us_number_is_done_at_sent_when_the_sensor_has_the_sends_records(plivo_env):
    with canned_plivo(plivo_env, masked_answers({U1: "sent", U2: "delivered"})):
        result = sensor(RECORDS).poke(cast("Context", {}))

    assert result.is_done
    assert result.xcom_value == {U1: "sent", U2: "delivered"}


def test_with_uuids_only_a_masked_us_number_waits_as_before(plivo_env):
    with canned_plivo(plivo_env, masked_answers({U1: "sent", U2: "delivered"})):
        result = sensor([U1, U2]).poke(cast("Context", {}))

    assert not result.is_done


def test_the_records_rendered_into_a_template_are_read_back(plivo_env):
    wait = sensor("{{ params.messages }}")
    wait.render_template_fields(cast("Context", {"params": {"messages": RECORDS}}))

    assert wait.message_uuids == str(RECORDS)
    with canned_plivo(plivo_env, masked_answers({U1: "sent", U2: "delivered"})):
        assert wait.poke(cast("Context", {})).is_done


def test_the_sensors_failure_carries_plivos_reason_and_the_progress(plivo_env):
    reason = {U2: {"error_code": "450", "error_message": "Destination Country Disabled"}}

    with (
        canned_plivo(plivo_env, masked_answers({U1: "sent", U2: "failed"}, **reason)),
        pytest.raises(AirflowFailException) as raised,
    ):
        sensor(RECORDS).poke(cast("Context", {}))

    assert str(raised.value) == (
        f"1 of 2 messages failed: {U2} to {UK} failed (Plivo error code 450: Destination Country "
        "Disabled) (2 of 2 settled: 1 sent, 1 failed)"
    )


def test_each_poke_logs_the_progress_by_state(plivo_env, capfd):
    with canned_plivo(plivo_env, masked_answers({U1: "sent", U2: "queued"})):
        sensor(RECORDS).poke(cast("Context", {}))

    assert f"1 of 2 settled: 1 sent; waiting for {U2} (queued)" in capfd.readouterr().out


def trigger(**arguments: Any) -> PlivoMessageTrigger:
    return message_trigger(poll_interval=0.05, hook_params=QUICK, **arguments)


def test_the_trigger_judges_by_the_numbers_it_carries_and_logs_progress_only_on_change(plivo_env, capfd):
    polls: list[str] = []

    def answer(method: str, path: str) -> Answer:
        uuid = path.rstrip("/").rsplit("/", 1)[-1]
        polls.append(uuid)
        # U1 is sent at once; U2 stays queued for 3 polls, then is delivered.
        state = "sent" if uuid == U1 else "queued" if polls.count(U2) <= 3 else "delivered"
        return 200, plivo_record(uuid, state, "141XXXXX101" if uuid == U1 else "447XXXXX123")

    watching = trigger(message_uuids=[U1, U2], numbers=[US, UK])
    with canned_plivo(plivo_env, answer):
        event = asyncio.run(first_event(watching))

    assert event == {"status": "success", "states": {U1: "sent", U2: "delivered"}, "message": ""}
    assert polls.count(U1) == 1  # settled at the first poll, never asked again
    progress = [line for line in capfd.readouterr().out.splitlines() if "settled" in line]
    assert len(progress) == 1  # 4 polls, one change
    assert "1 of 2 settled: 1 sent" in progress[0]


def test_the_trigger_failure_event_carries_plivos_reason(plivo_env):
    reason = {U2: {"error_code": "450", "error_message": "Destination Country Disabled"}}
    with canned_plivo(plivo_env, masked_answers({U1: "sent", U2: "failed"}, **reason)):
        event = asyncio.run(first_event(trigger(message_uuids=[U1, U2], numbers=[US, UK])))

    assert event["status"] == "failure"
    assert f"{U2} to {UK} failed (Plivo error code 450: Destination Country Disabled)" in event["message"]


def test_the_trigger_serializes_the_numbers_as_a_list_beside_the_uuids():
    uuids = [f"3f2c0000-0000-4000-8000-{n:012d}" for n in range(2500)]
    numbers = [f"+1415555{n:04d}" for n in range(2500)]

    _, kwargs = trigger(message_uuids=uuids, numbers=numbers).serialize()

    assert kwargs["numbers"] == numbers
    assert PlivoMessageTrigger(**kwargs).numbers == numbers
    size = len(json.dumps(kwargs))
    print(f"\n2,500 messages: trigger kwargs {size:,} bytes, {size / 2500:.0f} per message")
    assert trigger(message_uuids=uuids).serialize()[1]["numbers"] is None
    with pytest.raises(ValueError, match="numbers must match message_uuids one to one: 1 numbers for 2"):
        trigger(message_uuids=[U1, U2], numbers=[US])


def test_the_deferring_sensor_hands_the_trigger_the_numbers_of_the_unsettled_messages(plivo_env):
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1 has it only in airflow.exceptions
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

    wait = PlivoMessageSensor(task_id="wait", message_uuids=RECORDS, deferrable=True, hook_params=QUICK)
    with (
        canned_plivo(plivo_env, masked_answers({U1: "sent", U2: "sent"})),
        pytest.raises(TaskDeferred) as deferred,
    ):
        wait.execute(cast("Context", {}))

    handed = cast("PlivoMessageTrigger", deferred.value.trigger)
    assert (handed.message_uuids, handed.numbers) == ([U2], [UK])
    assert re.fullmatch(r".*PlivoMessageTrigger", handed.serialize()[0])
