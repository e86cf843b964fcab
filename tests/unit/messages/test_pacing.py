"""Sending speed and queue expiry, with no server: dispatch times, expiring counts, waves, the
connection's extras, the sensor's defaults."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.limits import DEFAULT_MESSAGE_EXPIRY, SIGNUP_MPS
from airflow_provider_plivo.messages.pacing import (
    SendingSpeed,
    checked_expiry,
    duration,
    sensor_timing,
)

SIGNUP = SendingSpeed()


def test_signup_speed_dispatches_2700_mms_in_three_hours_and_expires_7300_of_10000() -> None:
    assert SIGNUP.dispatched_within(DEFAULT_MESSAGE_EXPIRY, "mms") == 2_700
    assert SIGNUP.expiring(10_000, "mms", DEFAULT_MESSAGE_EXPIRY) == 7_300
    assert SIGNUP.expiring(2_700, "mms", DEFAULT_MESSAGE_EXPIRY) == 0
    assert SIGNUP.expiring(10_000, "sms", DEFAULT_MESSAGE_EXPIRY) == 0  # 5 per second: 54,000 in 3 h


def test_dispatch_time_of_a_campaign() -> None:
    assert SIGNUP.dispatch_seconds(2_500, "mms") == 10_000
    assert SIGNUP.dispatch_seconds(10, "sms") == 2
    assert SIGNUP.describe(2_500, "mms") == (
        "2,500 MMS at 0.25 per second: Plivo needs about 2 h 47 min to dispatch them"
    )
    assert SIGNUP.describe(1, "sms") == "1 SMS at 5 per second: Plivo needs about 0.2 s to dispatch it"


def test_waves_each_drain_within_the_expiry_less_the_margin() -> None:
    waves = SIGNUP.waves(10_000, "mms", DEFAULT_MESSAGE_EXPIRY)

    assert waves == [2_430, 2_430, 2_430, 2_430, 280]
    assert all(SIGNUP.dispatch_seconds(size, "mms") <= 0.9 * DEFAULT_MESSAGE_EXPIRY for size in waves)
    # The wait between waves is the time the previous wave needs to drain: 2 h 42 min.
    assert duration(SIGNUP.dispatch_seconds(waves[0], "mms")) == "2 h 42 min"


def test_a_campaign_plivo_dispatches_within_the_expiry_is_one_wave() -> None:
    assert SIGNUP.waves(2_700, "mms", DEFAULT_MESSAGE_EXPIRY) == [2_700]
    assert SIGNUP.waves(2_701, "mms", DEFAULT_MESSAGE_EXPIRY) == [2_430, 271]
    assert SIGNUP.waves(10_000, "sms", 60) == [270] * 37 + [10]  # 300 in a minute, 270 with the margin


def test_a_wave_holds_at_least_one_message() -> None:
    slow = SendingSpeed(mps={"sms": 5.0, "mms": 0.1})

    assert slow.wave_size("mms", 5) == 1
    assert slow.waves(3, "mms", 5) == [1, 1, 1]


def test_the_queue_drains_after_each_send_in_turn() -> None:
    # 100 MMS at 0.25 per second: 400 s; a send while the queue still holds messages waits behind them.
    assert SIGNUP.drained_at([], "mms") == 0
    assert SIGNUP.drained_at([(1_000.0, 100)], "mms") == 1_400
    assert SIGNUP.drained_at([(1_200.0, 100), (1_000.0, 100)], "mms") == 1_800
    assert SIGNUP.drained_at([(1_000.0, 100), (5_000.0, 100)], "mms") == 5_400


def test_time_scale_divides_every_real_wait_but_not_plivos_figures() -> None:
    fast = SendingSpeed(time_scale=1_000)

    assert fast.dispatch_seconds(2_430, "mms") == 9_720  # Plivo's time
    assert fast.real_seconds(9_720) == pytest.approx(9.72)
    assert fast.drained_at([(0.0, 2_430)], "mms") == pytest.approx(9.72)
    assert fast.waves(10_000, "mms", DEFAULT_MESSAGE_EXPIRY) == SIGNUP.waves(
        10_000, "mms", DEFAULT_MESSAGE_EXPIRY
    )


def test_the_expiry_problem_names_the_count_and_every_way_out() -> None:
    problem = SIGNUP.expiry_problem(10_000, "mms", DEFAULT_MESSAGE_EXPIRY)

    assert problem is not None
    assert "7,300 of 10,000 would expire" in problem
    assert "0.25 per second" in problem
    assert "pacing=True" in problem
    assert "'mps'" in problem
    assert "message_expiry (at most 10,800 s)" in problem
    assert "at most 2,700 numbers" in problem
    assert SIGNUP.expiry_problem(2_700, "mms", DEFAULT_MESSAGE_EXPIRY) is None


@pytest.mark.parametrize(
    ("extras", "mps", "time_scale"),
    [
        ({}, SIGNUP_MPS, 1.0),
        ({"mps": 10}, {"sms": 10.0, "mms": 10.0}, 1.0),
        ({"mps": "2.5"}, {"sms": 2.5, "mms": 2.5}, 1.0),
        ({"mps": {"mms": 1}}, {"sms": 5.0, "mms": 1.0}, 1.0),
        ({"mps": '{"sms": 20, "mms": 2}'}, {"sms": 20.0, "mms": 2.0}, 1.0),
        ({"mps": "", "time_scale": ""}, SIGNUP_MPS, 1.0),
        ({"mps": {"sms": 5.0, "mms": 0.25}, "time_scale": 1000}, SIGNUP_MPS, 1000.0),
    ],
)
def test_the_connection_extras(extras: dict[str, object], mps: dict[str, float], time_scale: float) -> None:
    speed = SendingSpeed.from_extras(extras, conn_id="plivo_default")

    assert dict(speed.mps) == mps
    assert speed.time_scale == time_scale


@pytest.mark.parametrize(
    ("extras", "named"),
    [
        ({"mps": 0}, "extra 'mps' must be a positive number of messages per second"),
        ({"mps": -1}, "got -1"),
        ({"mps": True}, "got True"),
        ({"mps": "fast"}, "got 'fast'"),
        ({"mps": float("inf")}, "got inf"),
        ({"mps": {"mms": 0}}, "extra 'mps' must be a positive number of MMS messages per second"),
        ({"mps": {"whatsapp": 1}}, "extra 'mps' names unknown message types 'whatsapp'; known: mms, sms"),
        ({"mps": "{not json"}, "got '{not json'"),
        ({"time_scale": 0}, "extra 'time_scale' must be a positive number; got 0"),
    ],
)
def test_bad_extras_are_refused_naming_the_connection_and_the_extra(
    extras: dict[str, object], named: str
) -> None:
    with pytest.raises(PlivoError) as raised:
        SendingSpeed.from_extras(extras, conn_id="plivo_mms")

    assert "Connection 'plivo_mms'" in str(raised.value)
    assert named in str(raised.value)


@pytest.mark.parametrize(("value", "expected"), [(None, None), (5, 5), (10_800, 10_800), ("600", 600)])
def test_message_expiry_within_plivos_range(value: object, expected: int | None) -> None:
    assert checked_expiry(value) == expected


@pytest.mark.parametrize("value", [4, 10_801, 0, -5, 60.5, True, "ten", "60s"])
def test_message_expiry_outside_plivos_range_is_refused(value: object) -> None:
    with pytest.raises(
        ValueError, match=r"message_expiry must be a whole number of seconds from 5 to 10,800"
    ):
        checked_expiry(value)


def test_sensor_timing_follows_the_dispatch_time() -> None:
    # 2,500 MMS: 10,000 s to dispatch; a poke every 333 s, a timeout of 2 x 10,000 s + 6 h.
    timing = sensor_timing(SIGNUP.dispatch_seconds(2_500, "mms"))

    assert timing.poke_interval == pytest.approx(10_000 / 30)
    assert timing.timeout == 20_000 + 6 * 3_600


def test_sensor_timing_keeps_the_poke_interval_between_a_minute_and_half_an_hour() -> None:
    assert sensor_timing(0.2).poke_interval == 60
    assert sensor_timing(0.2).timeout == pytest.approx(0.4 + 6 * 3_600)
    assert sensor_timing(SIGNUP.dispatch_seconds(100_000, "mms")).poke_interval == 1_800


def test_sensor_timing_is_divided_by_the_time_scale() -> None:
    timing = sensor_timing(10_000, time_scale=1_000)

    assert timing.poke_interval == pytest.approx(10_000 / 30 / 1_000)
    assert timing.timeout == pytest.approx((20_000 + 6 * 3_600) / 1_000)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.24, "0.2 s"),
        (9.72, "9.7 s"),
        (41, "41 s"),
        (600, "10 min"),
        (750, "12 min 30 s"),
        (9_720, "2 h 42 min"),
        (10_000, "2 h 47 min"),
        (7_200, "2 h"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text
