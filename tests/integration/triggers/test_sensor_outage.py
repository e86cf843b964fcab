"""The sensor and its trigger through a spell of 503s on every status read, against the sandbox
over HTTP: a spell far longer than the hook's own 5 attempts cover is ridden out within
``outage_timeout`` in the same try; a longer one fails the try naming the error and the budget;
a permanent error fails at once."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, cast

import pytest

from airflow_provider_plivo.exceptions import PlivoAPIError, PlivoRetryableAPIError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.sensors.message import PlivoMessageSensor
from airflow_provider_plivo.triggers.message import PlivoMessageTrigger
from airflow_provider_plivo.version_compat import AirflowFailException
from tests.support.triggers import first_event, message_trigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_plivo.records import MessageRecord
    from airflow_provider_plivo.sandbox import PlivoSandbox

QUICK = {"retry_wait_initial": 0.05, "retry_wait_max": 0.1}
"""The hook's 5 attempts a read, quick: all 5 fit in about 0.3 s, a tenth of the spells here."""
SPELL = 2.5
"""Seconds of 503s on every status read, by the sandbox clock."""


def sent_records(sandbox: PlivoSandbox) -> list[MessageRecord]:
    hook = PlivoHook(retry_wait_initial=QUICK["retry_wait_initial"], retry_wait_max=QUICK["retry_wait_max"])
    return list(hook.send_message(src="+14155550100", dst=["+14155550101"], text="hi").messages)


def status_reads(sandbox: PlivoSandbox) -> list[int]:
    return [r.status for r in sandbox.requests if r.method == "GET" and "/Message/" in r.path]


def sensor(records: list[MessageRecord], **arguments: Any) -> PlivoMessageSensor:
    return PlivoMessageSensor(
        task_id="wait", message_uuids=records, poke_interval=0.2, hook_params=QUICK, **arguments
    )


def trigger(records: list[MessageRecord], **arguments: Any) -> PlivoMessageTrigger:
    return message_trigger(
        message_uuids=[r["message_uuid"] for r in records],
        numbers=[r["number"] for r in records],
        poll_interval=0.2,
        hook_params=QUICK,
        **arguments,
    )


def ridden_out(reads: list[int]) -> bool:
    """A whole read failed (the hook's 5 attempts: where a try failed before), then one answered."""
    return reads[:5] == [503] * 5 and reads[-1] == 200


def test_a_poking_sensor_rides_out_a_spell_of_503s(plivo_sandbox, capfd, report_figure):
    records = sent_records(plivo_sandbox)
    plivo_sandbox.script_faults("503", endpoint="status", seconds=SPELL)

    started = time.monotonic()
    result = sensor(records, outage_timeout=30).poke(cast("Context", {}))
    took = time.monotonic() - started

    assert result.is_done
    assert result.xcom_value == {records[0]["message_uuid"]: "sent"}
    reads = status_reads(plivo_sandbox)
    assert ridden_out(reads), reads
    report_figure(f"poke through a {SPELL} s spell of 503s: done in {took:.1f} s, status reads {reads}")
    log = capfd.readouterr().out
    warnings = [line for line in log.splitlines() if "left of outage_timeout (30 s)" in line]
    assert warnings, "each failed read is logged with the time left"
    assert "Reading message states failed (Plivo answered HTTP 503" in warnings[0]
    assert "Plivo answers status reads again after" in log


def test_a_deferred_sensors_trigger_rides_out_a_spell_of_503s(plivo_sandbox, capfd):
    records = sent_records(plivo_sandbox)
    plivo_sandbox.script_faults("503", endpoint="status", seconds=SPELL)

    event = asyncio.run(first_event(trigger(records, outage_timeout=30)))

    assert event == {"status": "success", "states": {records[0]["message_uuid"]: "sent"}, "message": ""}
    assert ridden_out(status_reads(plivo_sandbox)), status_reads(plivo_sandbox)
    assert "left of outage_timeout (30 s)" in capfd.readouterr().out


def test_a_spell_longer_than_outage_timeout_fails_the_poke_with_the_last_error(plivo_sandbox, capfd):
    records = sent_records(plivo_sandbox)
    plivo_sandbox.script_faults("503", endpoint="status", seconds=30)

    with pytest.raises(PlivoRetryableAPIError, match="HTTP 503"):
        sensor(records, outage_timeout=1).poke(cast("Context", {}))

    assert "past outage_timeout (1.0 s); the last error: Plivo answered HTTP 503" in capfd.readouterr().out


def test_a_spell_longer_than_outage_timeout_fails_the_deferred_try_naming_the_budget(plivo_sandbox, capfd):
    records = sent_records(plivo_sandbox)
    plivo_sandbox.script_faults("503", endpoint="status", seconds=30)

    event = asyncio.run(first_event(trigger(records, outage_timeout=1)))
    capfd.readouterr()
    with pytest.raises(PlivoRetryableAPIError, match="HTTP 503"):
        sensor(records).execute_complete(cast("Context", {}), event)

    assert event["status"] == "error"
    assert event["error"]["class"] == "PlivoRetryableAPIError"
    assert "past outage_timeout (1.0 s); the last error: Plivo answered HTTP 503" in event["message"]
    assert event["message"] in capfd.readouterr().out, "the task's log names the budget, not only the error"


def test_a_permanent_error_fails_at_once_in_both_modes(plivo_sandbox):
    records = sent_records(plivo_sandbox)
    plivo_sandbox.script_faults("400", endpoint="status", seconds=30)

    with pytest.raises(AirflowFailException, match="HTTP 400") as raised:
        sensor(records, outage_timeout=30).poke(cast("Context", {}))
    event = asyncio.run(first_event(trigger(records, outage_timeout=30)))

    assert isinstance(raised.value.__cause__, PlivoAPIError)
    assert event["status"] == "error"
    assert status_reads(plivo_sandbox) == [400, 400], "one read each, no riding out"


def test_outage_timeout_travels_with_the_trigger(plivo_sandbox):
    one: MessageRecord = {"message_uuid": "u1", "number": "+14155550101"}
    _, arguments = trigger([one], outage_timeout=45).serialize()

    assert arguments["outage_timeout"] == 45.0
    assert PlivoMessageTrigger(**arguments).outage_timeout == 45.0
