"""How a sent message's state moves on the sandbox clock, and the test numbers that fail.

The US and Canada (+1) send no delivery reports, so Plivo leaves those messages at ``sent``;
elsewhere a carrier's receipt moves them to ``delivered``. The sandbox never promises more.
A message is ``queued`` for the first half of ``delivery_seconds``, ``sent`` from then, and in
its final state once ``delivery_seconds`` have passed. A test number that fails does so instead
of reaching ``sent`` (as a message Plivo or the carrier refuses does): a +1 message is done at
``sent``, so a failure after it would go unseen by a sensor that already succeeded.

The test numbers are tabled in :mod:`airflow_provider_plivo.sandbox.server`'s docstring
and the README. ``+61491570159`` lies in the range Australia keeps for fiction (0491 570 006 to
0491 570 159), so it reaches no one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime, timedelta

__all__ = ["TEST_NUMBER_FATES", "Fate", "Progress", "error_message", "fate_of", "progress"]


@dataclass(frozen=True)
class Fate:
    """Where a message to one number ends: its final state and Plivo's error code then."""

    final_state: str
    error_code: str | None


TEST_NUMBER_FATES: dict[str, Fate] = {
    "+15005550001": Fate("undelivered", "80"),
    "+15005550002": Fate("failed", "50"),
    "+15005550003": Fate("rejected", "100"),
    "+15005550005": Fate("delivered", "000"),
    "+61491570159": Fate("sent", None),
}
"""Destination number (E.164) -> its fate, for exercising every path a DAG can take."""

FAILURE_STATES = ("undelivered", "failed", "rejected")

_ERROR_MESSAGES = {
    "000": "Success",
    "50": "Invalid destination number",
    "80": "Destination temporarily unavailable",
    "100": "Message prohibited by carrier",
}


def fate_of(number: str) -> Fate:
    """The fate of a message to ``number`` (E.164): a test number's, else by country."""
    if number in TEST_NUMBER_FATES:
        return TEST_NUMBER_FATES[number]
    return Fate("sent", None) if number.startswith("+1") else Fate("delivered", "000")


def error_message(error_code: str | None) -> str | None:
    """Plivo's words for an error code; None while there is no code."""
    return None if error_code is None else _ERROR_MESSAGES.get(error_code, "Unknown error")


@dataclass(frozen=True)
class Progress:
    """Where a message stands at one moment."""

    state: str
    error_code: str | None
    sent_at: datetime | None
    """When it left ``queued``; None while queued."""
    updated_at: datetime
    """When its state last changed."""


def progress(fate: Fate, queued_at: datetime, now: datetime, delivery: timedelta) -> Progress:
    """Where a message queued at ``queued_at`` with ``fate`` stands at ``now``."""
    sent_at, final_at = queued_at + delivery / 2, queued_at + delivery
    if now < sent_at:
        return Progress("queued", None, None, queued_at)
    if fate.final_state in FAILURE_STATES:
        return Progress(fate.final_state, fate.error_code, None, sent_at)
    if now < final_at or fate.final_state == "sent":
        return Progress("sent", None, sent_at, sent_at)
    return Progress(fate.final_state, fate.error_code, sent_at, final_at)
