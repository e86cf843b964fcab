"""The sensor's timeout and poke interval follow how long Plivo needs to dispatch the messages
(the connection's ``mps``), unless the user gave them."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.sensors.message import PlivoMessageSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_plivo.records import MessageRecord

SRC = "+14155550100"
AUDIENCE = [f"+1415555{n:04d}" for n in range(300, 340)]


def sent_records(text_only: bool = False) -> list[MessageRecord]:
    media = None if text_only else ["https://example.com/a.png"]
    return list(PlivoHook().send_message(src=SRC, dst=AUDIENCE, text="hi", media_urls=media).messages)


def test_an_untimed_sensor_waits_as_long_as_plivo_needs_to_dispatch_40_mms(plivo_sandbox_factory):
    plivo_sandbox_factory(mps={"sms": 5.0, "mms": 0.25})  # Plivo's signup speeds, in the extras
    sensor = PlivoMessageSensor(task_id="wait", message_uuids=sent_records())
    sensor.poke(cast("Context", {}))
    # 40 MMS at 0.25 a second: 160 s to dispatch; twice that plus six hours, a poke every minute.
    assert sensor.timeout == 2 * 160 + 6 * 3600
    assert sensor.poke_interval == 60


def test_sms_dispatch_faster_and_a_time_scaled_sandbox_shortens_the_wait(plivo_sandbox_factory):
    plivo_sandbox_factory(mps={"sms": 5.0, "mms": 0.25}, time_scale=100)
    sensor = PlivoMessageSensor(task_id="wait", message_uuids=sent_records(text_only=True))
    sensor.poke(cast("Context", {}))
    assert sensor.timeout == (2 * 8 + 6 * 3600) / 100  # 40 SMS at 5 a second: 8 s
    assert sensor.poke_interval == 60 / 100


def test_timing_the_user_gave_is_kept(plivo_sandbox_factory):
    plivo_sandbox_factory(mps={"sms": 5.0, "mms": 0.25})
    sensor = PlivoMessageSensor(
        task_id="wait", message_uuids=sent_records(), timeout=300, default_args={"poke_interval": 5}
    )
    sensor.poke(cast("Context", {}))
    assert (sensor.timeout, sensor.poke_interval) == (300, 5)


def test_timing_from_the_dags_default_args_is_kept(plivo_sandbox_factory):
    from airflow.sdk import DAG

    plivo_sandbox_factory(mps={"sms": 5.0, "mms": 0.25})
    with DAG("timed", schedule=None, default_args={"timeout": 120}):
        sensor = PlivoMessageSensor(task_id="wait", message_uuids=sent_records())
    sensor.poke(cast("Context", {}))
    assert sensor.timeout == 120
    assert sensor.poke_interval == 60  # not given: from the dispatch time (a minute at least)
