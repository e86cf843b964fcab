"""How a sent message's state moves on the sandbox clock, and the test numbers that fail.

The US and Canada (+1) send no delivery reports, so Plivo leaves those messages at ``sent``;
elsewhere a carrier's receipt moves them to ``delivered``. The sandbox never promises more.
A message is ``queued`` for the first half of ``delivery_seconds``, then leaves the queue: it is
``sent`` from then, and in its final state once the second half has passed. A test number that
fails does so instead of reaching ``sent`` (as a message Plivo or the carrier refuses does): a +1
message is done at ``sent``, so a failure after it would go unseen by a sensor that already
succeeded.

Plivo sends each account's messages at its outbound speed per message type (MPS: 5 SMS and 0.25
MMS a second at signup) and queues the rest: :class:`DispatchQueue` gives each message the moment
it leaves the queue, in queue order, one every ``1 / mps`` seconds. A message still queued after
its ``message_expiry`` (10,800 s unless the send says otherwise) never leaves: it ends ``failed``
with error 420 at its expiry, takes no place in the queue and is not charged. Stepping the sandbox
clock back makes the messages already queued wait that much longer, as their moments stay put.

The test numbers are tabled in :mod:`airflow_provider_plivo.sandbox.server`'s docstring
and the README. ``+61491570159`` lies in the range Australia keeps for fiction (0491 570 006 to
0491 570 159), so it reaches no one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

__all__ = [
    "EXPIRED",
    "TEST_NUMBER_FATES",
    "TOO_LARGE",
    "DispatchQueue",
    "Fate",
    "Progress",
    "error_message",
    "fate_of",
    "progress",
    "shown_states",
]


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
    "+15005550006": Fate("read", "000"),
    "+15005550007": Fate("deleted", None),
    "+61491570159": Fate("sent", None),
}
"""Destination number (E.164) -> its fate, for exercising every path a DAG can take."""

EXPIRED = Fate("failed", "420")
"""A message still queued at its ``message_expiry``: failed, not charged."""
TOO_LARGE = Fate("failed", "120")
"""A message whose text and attachments exceed 5 MB: failed, not charged."""

FAILURE_STATES = ("undelivered", "failed", "rejected")

_ERROR_MESSAGES = {
    "000": "Success",
    "50": "Invalid destination number",
    "80": "Destination temporarily unavailable",
    "100": "Message prohibited by carrier",
    "120": "Message size exceeds the 5 MB limit",
    "420": "Message expired",
}


def fate_of(number: str) -> Fate:
    """The fate of a message to ``number`` (E.164): a test number's, else by country."""
    if number in TEST_NUMBER_FATES:
        return TEST_NUMBER_FATES[number]
    return Fate("sent", None) if number.startswith("+1") else Fate("delivered", "000")


def error_message(error_code: str | None, *, recorded: bool = False) -> str | None:
    """Plivo's words for an error code; None while there is no code. ``recorded``: as Plivo's
    recorded records have it, ``""`` where there is no error (no code, or ``000``)."""
    if recorded and error_code in (None, "000"):
        return ""
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


def progress(
    fate: Fate, queued_at: datetime, dequeued_at: datetime, now: datetime, delivery: timedelta
) -> Progress:
    """Where a message queued at ``queued_at``, leaving the queue at ``dequeued_at``, with ``fate``
    stands at ``now``; ``delivery`` is the whole of ``delivery_seconds`` (on the scaled clock)."""
    final_at = dequeued_at + delivery / 2
    if now < dequeued_at:
        return Progress("queued", None, None, queued_at)
    if fate.final_state in FAILURE_STATES:
        return Progress(fate.final_state, fate.error_code, None, dequeued_at)
    if now < final_at or fate.final_state == "sent":
        return Progress("sent", None, dequeued_at, dequeued_at)
    return Progress(fate.final_state, fate.error_code, dequeued_at, final_at)


def shown_states(fate: Fate) -> tuple[tuple[str, str | None], ...]:
    """Every (state, error code) :func:`progress` gives a message of ``fate`` at some moment: what
    a state filter may find among such messages (the list's index skips the others)."""
    if fate.final_state in FAILURE_STATES:
        return ("queued", None), (fate.final_state, fate.error_code)
    if fate.final_state == "sent":
        return ("queued", None), ("sent", None)
    return ("queued", None), ("sent", None), (fate.final_state, fate.error_code)


@dataclass(frozen=True)
class Slot:
    """When a message leaves the queue, and whether it expired there instead of being sent."""

    dequeued_at: datetime
    expired: bool = False


class DispatchQueue:
    """
    The account's outbound queue, one per message type; thread-safe.

    :param mps: messages per second by type; None sends every message as soon as it is processed.
    :param time_scale: the queue runs this many times faster (dispatch and expiry alike).
    :param processing: how long a message is queued before it can leave, with an empty queue.
    """

    def __init__(self, mps: Mapping[str, float] | None, *, time_scale: float, processing: timedelta) -> None:
        self._mps = mps
        self._time_scale = time_scale
        self._processing = processing
        self._next_free: dict[str, datetime] = {}
        """Per type: the earliest moment the next message may leave the queue."""
        self._lock = threading.Lock()

    def schedule(self, message_type: str, queued_at: datetime, expiry_seconds: float) -> Slot:
        """Queue one message; when it leaves, and whether it expires first (taking no place)."""
        earliest = queued_at + self._processing
        if self._mps is None:
            return Slot(earliest)
        expiry = timedelta(seconds=expiry_seconds / self._time_scale)
        with self._lock:
            leaves = max(earliest, self._next_free.get(message_type, earliest))
            if leaves - queued_at > expiry:
                return Slot(queued_at + expiry, expired=True)
            rate = self._mps[message_type] * self._time_scale
            self._next_free[message_type] = leaves + timedelta(seconds=1 / rate)
            return Slot(leaves)
