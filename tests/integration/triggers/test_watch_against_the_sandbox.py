"""The watch against the sandbox as unkind as Plivo: a send with ``log=false`` (masked
``to_number`` in every record), a UUID Plivo does not know (404, left out by ``get_messages``),
and the test numbers that end ``read`` and ``deleted``."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, cast

import pytest

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.messages.delivery import FAILURE_STATES, DeliveryWatch
from airflow_provider_plivo.sensors.message import PlivoMessageSensor
from airflow_provider_plivo.version_compat import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context

SRC = "+14155550100"
AUDIENCE = [f"+1415555{n:04d}" for n in range(200, 260)]
UNKNOWN = "3f2c0000-0000-4000-8000-00000000dead"


def hook() -> PlivoHook:
    return PlivoHook(retry_wait_initial=0.05, retry_wait_max=0.2)


def settle(sensor: PlivoMessageSensor, pokes: int = 50) -> Any:
    """Poke until done (the sandbox delivers within its delivery_seconds)."""
    for _ in range(pokes):
        result = sensor.poke(cast("Context", {}))
        if result.is_done:
            return result
        time.sleep(0.1)
    return result


def test_a_send_with_log_false_finishes_as_one_without_masking(plivo_sandbox):
    sent = hook().send_message(src=SRC, dst=AUDIENCE, text="hi", log="false")
    assert {m.get("to_number") for m in hook().get_messages(sent[:3]).values()} <= {
        "141XXXXX200",
        "141XXXXX201",
        "141XXXXX202",
    }, "the sandbox masks to_number for log=false, as Plivo does"

    by_numbers = settle(PlivoMessageSensor(task_id="wait", message_uuids=sent.messages))
    by_uuids = PlivoMessageSensor(task_id="wait", message_uuids=list(sent)).poke(cast("Context", {}))

    assert by_numbers.is_done
    assert set(by_numbers.xcom_value.values()) == {"sent"}
    assert not by_uuids.is_done  # Plivo's masked numbers alone: the US messages would wait forever


@pytest.mark.parametrize("driver", ["blocking", "async"])
def test_an_unknown_uuid_is_named_retried_then_failed_without_failing_the_others(plivo_sandbox, driver):
    sent = hook().send_message(src=SRC, dst=AUDIENCE[:3], text="hi")
    watch = DeliveryWatch(
        {**{m["message_uuid"]: m["number"] for m in sent.messages}, UNKNOWN: "+14155550299"},
        success_states=None,
        failure_states=FAILURE_STATES,
        unknown_polls=3,
        unknown_grace=0.3,
    )

    def poll_once() -> Any:
        asked = watch.unsettled()
        if driver == "blocking":
            return watch.update(hook().get_messages(asked), asked=asked)

        async def main() -> Any:
            async with await hook().aget_client() as client:
                return await hook().aget_messages(client, asked)

        return watch.update(asyncio.run(main()), asked=asked)

    first = poll_once()
    assert watch.missing() == [UNKNOWN]
    assert first.failures == []
    polls = 1
    outcome = first
    while not outcome.failures and polls < 20:
        time.sleep(0.1)
        outcome = poll_once()
        polls += 1

    assert polls >= 3
    (line,) = outcome.failures
    assert line.startswith(f"{UNKNOWN} to +14155550299: Plivo does not know this message (not found on ")
    assert outcome.states[UNKNOWN] == "not found"
    assert {outcome.states[u] for u in sent} <= {"queued", "sent"}
    assert watch.unsettled() == [u for u in sent if outcome.states[u] == "queued"]


def wait_for_state(uuid: str, state: str) -> None:
    for _ in range(50):
        if hook().get_message(uuid)["message_state"] == state:
            return
        time.sleep(0.1)
    raise AssertionError(f"{uuid} never reached {state}")


def test_read_is_done_and_deleted_fails_the_sensor_by_name(plivo_sandbox):
    read = hook().send_message(src=SRC, dst=["+15005550006"], text="hi")
    wait_for_state(read[0], "read")
    # Judged as a message to a country with delivery reports would be: read counts as delivered.
    masked = [{"number": "+447911123456", "message_uuid": read[0]}]
    assert settle(PlivoMessageSensor(task_id="wait", message_uuids=masked)).xcom_value == {read[0]: "read"}

    deleted = hook().send_message(src=SRC, dst=["+15005550007"], text="hi")
    wait_for_state(deleted[0], "deleted")
    with pytest.raises(AirflowFailException, match=f"{deleted[0]} to \\+15005550007 deleted"):
        settle(PlivoMessageSensor(task_id="wait", message_uuids=deleted.messages))
