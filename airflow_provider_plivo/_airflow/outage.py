"""Riding out a Plivo outage while a sensor or its trigger waits: the one place that decides,
after a failed status read, whether to read again or to fail the try.

A spell of transient errors (network, 429, 5xx: :func:`~airflow_provider_plivo.transport.core.is_transient`)
is timed from its first failed read and ends at the next good one. Within ``outage_timeout`` of
its start each failure is logged with its reason and the time left, and the wait reads again;
a failure at or past it fails the try with that last error, so Airflow's retries apply. Any
other error (401/403, 400, a bug) is raised at once. The hook's own retries run inside each
read; this budget spans reads, so a short outage no longer costs a try.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_plivo.messages.pacing import duration
from airflow_provider_plivo.progress import Log
from airflow_provider_plivo.transport.core import is_transient

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DEFAULT_OUTAGE_TIMEOUT", "Outage", "outage_seconds"]

DEFAULT_OUTAGE_TIMEOUT = timedelta(minutes=10)
"""Long enough for the outages Plivo's status page shows as "degraded" for a few minutes, short
enough that a wait for a Plivo that is really down still fails within the hour."""


def outage_seconds(value: timedelta | float) -> float:
    """``outage_timeout`` in seconds; a clear error for anything but a non-negative duration."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < float("inf"):
        raise ValueError(f"outage_timeout must be a timedelta or seconds, 0 or more, got {value!r}")
    return float(seconds)


class _Log(Log, Protocol):
    def error(self, msg: str, /, *args: Any) -> object: ...


class Outage:
    """The current spell of failed status reads of one wait (none at first).

    :param budget: ``outage_timeout`` in seconds; 0 fails at the first transient error.
    :param log: where each failure and the recovery are told.
    :param clock: seconds, monotonic: a spell lives within one process (the poke or the trigger).
    """

    def __init__(self, *, budget: float, log: _Log, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._log = log
        self._clock = clock
        self._started: float | None = None
        self._failures = 0
        self.verdict: str | None = None
        """Set when a spell outlasted the budget: the failure's reason with the spell and the budget."""

    def answered(self) -> None:
        """A good read: the spell, if any, is over."""
        if self._started is not None:
            self._log.info(
                "Plivo answers status reads again after %s (%d failed)",
                duration(self._clock() - self._started),
                self._failures,
            )
        self._started = None
        self._failures = 0

    def failed(self, err: BaseException, interval: float) -> float:
        """Count a failed read; return how long to wait before reading again (``interval``, or
        less so that the last read falls on the budget's end). Raise ``err`` when it is not
        transient, or when the spell has lasted the whole budget."""
        if not is_transient(err):
            raise err
        now = self._clock()
        if self._started is None:
            self._started = now
        self._failures += 1
        lasted = now - self._started
        left = self.budget - lasted
        if left <= 0:
            self.verdict = (
                f"Plivo status reads have failed for {duration(lasted)} ({self._failures} polls), "
                f"past outage_timeout ({duration(self.budget)}); the last error: {err}"
            )
            self._log.error("%s", self.verdict)
            raise err
        wait = min(interval, left)
        self._log.warning(
            "Reading message states failed (%s); %s left of outage_timeout (%s), reading again in %s",
            err,
            duration(left),
            duration(self.budget),
            duration(wait),
        )
        return wait
