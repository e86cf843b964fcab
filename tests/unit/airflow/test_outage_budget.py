"""Riding out an outage, without a server: which failed reads are read again, for how long, and
what each says (the sensor's pokes and the trigger's polls both ask :class:`Outage`)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from airflow_provider_plivo._airflow.outage import Outage, outage_seconds
from airflow_provider_plivo.exceptions import (
    PlivoAuthenticationError,
    PlivoConnectionError,
    PlivoRetryableAPIError,
)

LOG = logging.getLogger("test_outage")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def unavailable() -> PlivoRetryableAPIError:
    return PlivoRetryableAPIError(status_code=503, message="Service Unavailable", endpoint="Message/u1/")


def test_failed_reads_are_read_again_until_the_budget_is_spent_then_the_last_error_fails(caplog):
    clock = Clock()
    outage = Outage(budget=60, log=LOG, clock=clock)
    waits = []
    with caplog.at_level(logging.INFO, logger="test_outage"):
        for _ in range(3):
            waits.append(outage.failed(unavailable(), interval=25))
            clock.now += waits[-1]
        last = unavailable()
        with pytest.raises(PlivoRetryableAPIError) as raised:
            outage.failed(last, interval=25)

    # 25 s, 25 s, then the 10 s left: the last read falls on the budget's end, not past it.
    assert waits == [25, 25, 10]
    assert raised.value is last
    assert outage.verdict == (
        "Plivo status reads have failed for 1 min (4 polls), past outage_timeout (1 min); "
        f"the last error: {last}"
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0] == (
        f"Reading message states failed ({last}); 1 min left of outage_timeout (1 min), reading again in 25 s"
    )
    assert "35 s left of outage_timeout" in warnings[1]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [outage.verdict]


def test_a_good_read_ends_the_spell_and_the_next_one_gets_the_whole_budget(caplog):
    clock = Clock()
    outage = Outage(budget=30, log=LOG, clock=clock)
    outage.failed(unavailable(), interval=20)
    clock.now += 20
    with caplog.at_level(logging.INFO, logger="test_outage"):
        outage.answered()
    clock.now += 100

    assert outage.failed(PlivoConnectionError("connection reset", request_sent=True), interval=20) == 20
    clock.now += 20
    assert outage.failed(unavailable(), interval=20) == 10
    assert "Plivo answers status reads again after 20 s (1 failed)" in caplog.text


def test_a_permanent_error_fails_at_once():
    outage = Outage(budget=600, log=LOG, clock=Clock())
    refused = PlivoAuthenticationError(status_code=401, message="Authentication failed", endpoint="Message/")

    with pytest.raises(PlivoAuthenticationError):
        outage.failed(refused, interval=5)
    with pytest.raises(ValueError, match="a bug"):
        outage.failed(ValueError("a bug"), interval=5)
    assert outage.verdict is None


def test_a_budget_of_0_fails_at_the_first_transient_error():
    outage = Outage(budget=0, log=LOG, clock=Clock())

    with pytest.raises(PlivoRetryableAPIError):
        outage.failed(unavailable(), interval=5)


@pytest.mark.parametrize(("value", "seconds"), [(timedelta(minutes=10), 600.0), (90, 90.0), (0.5, 0.5)])
def test_outage_timeout_takes_a_timedelta_or_seconds(value, seconds):
    assert outage_seconds(value) == seconds


@pytest.mark.parametrize("value", [-1, timedelta(seconds=-1), "10m", True, float("inf")])
def test_a_bad_outage_timeout_is_named(value):
    with pytest.raises(ValueError, match="outage_timeout must be a timedelta or seconds, 0 or more"):
        outage_seconds(value)
