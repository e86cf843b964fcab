"""Sending speed and queue expiry: how long Plivo needs to dispatch a campaign, how many of its
messages would expire in Plivo's queue, and the waves that keep every message inside its expiry.

Plivo dispatches each account's messages at its outbound MPS (messages per second; 5 for SMS
and 0.25 for MMS at signup, raised on request) and queues the rest; a message still queued
``message_expiry`` seconds after Plivo accepted it (10,800 by default) fails with error 420 and
is not charged ("Messages per Second" and "Message Expiry" on Plivo's support site). At 0.25 MPS
an account dispatches 2,700 MMS in three hours, so 7,300 of a 10,000-number campaign would
expire. Sent in waves that each drain before their expiry, waiting between them the time the
previous wave needs to drain, every message leaves the queue in time.

Pure arithmetic, without Airflow or I/O: every number comes in as an argument, times are seconds
(``time.time()`` values where a moment is meant), and the connection's extras are read by
:meth:`SendingSpeed.from_extras`.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.limits import (
    DEFAULT_MESSAGE_EXPIRY,
    MAX_MESSAGE_EXPIRY,
    MIN_MESSAGE_EXPIRY,
    SIGNUP_MPS,
)
from airflow_provider_plivo.progress import counted

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "WAVE_MARGIN",
    "SendingSpeed",
    "SensorTiming",
    "checked_expiry",
    "duration",
    "sensor_timing",
]

WAVE_MARGIN = 0.1
"""The share of the expiry a wave leaves unused: a wave holds what Plivo dispatches in 90 % of
the expiry (2,430 MMS at 0.25 MPS and 10,800 s). The estimate assumes our messages have the
account's MPS to themselves from the moment they are queued; the margin (18 minutes at the
default expiry) absorbs what that leaves out: other sends on the account (or its subaccounts'
share) queued meanwhile, Plivo's dispatch running a little below the nominal rate, and the
seconds a wave's requests take to reach Plivo. A larger margin costs little (more, smaller
waves and a slightly longer campaign); none at all would expire the last messages of a wave at
the first hiccup."""

SENSOR_POKES_PER_DISPATCH = 30
"""About how often a sensor looks while Plivo dispatches: every thirtieth of the dispatch time."""

SENSOR_MIN_POKE_INTERVAL = 60.0
SENSOR_MAX_POKE_INTERVAL = 1_800.0
"""A sensor's default poke interval stays within Airflow's own default (a minute) and half an
hour: each poke over a large audience costs many requests of the account's budget."""

SENSOR_DELIVERY_ALLOWANCE = 6 * 3_600.0
"""Seconds a sensor waits by default beyond twice the dispatch time, for delivery reports: they
come from carriers (outside the US and Canada) minutes to hours after dispatch, later for a
handset that is switched off."""

_EXTRA_EXAMPLE = '{"sms": 5, "mms": 0.25}'


@dataclass(frozen=True)
class SendingSpeed:
    """An account's outbound speed: messages per second by message type, as Plivo dispatches them.

    ``time_scale`` (1 unless a sandbox sets it) runs the clock faster: every wait this class
    computes in real seconds is Plivo's time divided by it, so that a sandbox can dispatch a
    3-hour campaign in seconds. Plivo's own figures (:meth:`dispatch_seconds`, expiries) stay in
    Plivo's time.
    """

    mps: Mapping[str, float] = field(default_factory=lambda: dict(SIGNUP_MPS))
    time_scale: float = 1.0

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], *, conn_id: str) -> SendingSpeed:
        """The speed a ``plivo`` connection's extras describe: ``mps`` (a number for every type,
        or ``{"sms": x, "mms": y}``; a type not given keeps Plivo's signup figure) and
        ``time_scale`` (default 1).

        :raises PlivoError: naming the connection and the extra, when either is not a positive
            finite number (per type).
        """
        mps = dict(SIGNUP_MPS)
        raw = extras.get("mps")
        if isinstance(raw, str) and raw.strip().startswith("{"):
            # A URI-form connection carries every extra as a string.
            with contextlib.suppress(ValueError):  # not JSON: refused below, as given
                raw = json.loads(raw)
        if isinstance(raw, Mapping):
            unknown = sorted(str(key) for key in raw if key not in SIGNUP_MPS)
            if unknown:
                raise PlivoError(
                    f"Connection {conn_id!r}: extra 'mps' names unknown message types "
                    f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(SIGNUP_MPS))} "
                    f"(e.g. {_EXTRA_EXAMPLE})"
                )
            for message_type, value in raw.items():
                mps[message_type] = _positive(
                    value, conn_id=conn_id, extra="mps", of=f"{message_type.upper()} messages per second"
                )
        elif raw not in (None, ""):  # an empty form field is no value
            rate = _positive(raw, conn_id=conn_id, extra="mps", of="messages per second")
            mps = dict.fromkeys(SIGNUP_MPS, rate)
        scale = extras.get("time_scale")
        time_scale = 1.0 if scale in (None, "") else _positive(scale, conn_id=conn_id, extra="time_scale")
        return cls(mps=mps, time_scale=time_scale)

    def per_second(self, message_type: str) -> float:
        """Plivo's dispatch rate for ``message_type`` (``"sms"`` or ``"mms"``)."""
        return self.mps.get(message_type, SIGNUP_MPS["sms"])

    def dispatch_seconds(self, count: int, message_type: str) -> float:
        """Seconds (Plivo's time) Plivo needs to dispatch ``count`` messages queued at once."""
        return count / self.per_second(message_type)

    def dispatched_within(self, seconds: float, message_type: str) -> int:
        """How many messages queued at once leave Plivo's queue within ``seconds``."""
        # The epsilon keeps 0.25 x 10,800 at 2,700 where float arithmetic lands just below.
        return math.floor(self.per_second(message_type) * seconds + 1e-9)

    def expiring(self, count: int, message_type: str, expiry: float) -> int:
        """How many of ``count`` messages queued at once would still be queued after ``expiry``
        seconds, and fail with error 420."""
        return max(0, count - self.dispatched_within(expiry, message_type))

    def wave_size(self, message_type: str, expiry: float) -> int:
        """The most messages one wave may hold: what Plivo dispatches in the expiry less
        :data:`WAVE_MARGIN` (never fewer than one: a lone message leaves an empty queue at once)."""
        return max(1, self.dispatched_within(expiry * (1 - WAVE_MARGIN), message_type))

    def waves(self, count: int, message_type: str, expiry: float) -> list[int]:
        """The sizes of the waves that send ``count`` messages, each within its expiry: full
        waves, the last one holding the rest. One wave when Plivo dispatches them all in time."""
        if not self.expiring(count, message_type, expiry):
            return [count]
        size = self.wave_size(message_type, expiry)
        return [min(size, count - start) for start in range(0, count, size)]

    def real_seconds(self, plivo_seconds: float) -> float:
        """Plivo's ``plivo_seconds`` on the real clock: divided by :attr:`time_scale`."""
        return plivo_seconds / self.time_scale

    def drained_at(self, sends: Iterable[tuple[float, int]], message_type: str) -> float:
        """The moment (real clock) Plivo's queue holds none of our messages any more, given the
        ``(moment, count)`` of each of our sends; 0 when there was none.

        Messages queue behind those still waiting: a send adds its dispatch time to the later of
        its own moment and the end of the queue before it.
        """
        end = 0.0
        for moment, count in sorted(sends):
            end = max(end, moment) + self.real_seconds(self.dispatch_seconds(count, message_type))
        return end

    def describe(self, count: int, message_type: str) -> str:
        """``"2,500 MMS at 0.25 per second: Plivo needs about 2 h 47 min to dispatch them"``."""
        return (
            f"{count:,} {message_type.upper()} at {self.per_second(message_type):g} per second: "
            f"Plivo needs about {duration(self.dispatch_seconds(count, message_type))} "
            f"to dispatch {'it' if count == 1 else 'them'}"
        )

    def expiry_problem(self, count: int, message_type: str, expiry: float) -> str | None:
        """Why ``count`` messages cannot go at once without pacing, and the ways out; None when
        none would expire."""
        expiring = self.expiring(count, message_type, expiry)
        if not expiring:
            return None
        kind = message_type.upper()
        fits = self.dispatched_within(expiry, message_type)
        return (
            f"{count:,} {kind} at {self.per_second(message_type):g} per second, message expiry "
            f"{expiry:,g} s: {expiring:,} of {count:,} would expire in Plivo's queue (failed, "
            f"error 420) as Plivo dispatches only {counted(fits, 'message')} within the expiry. "
            "Ways out: pacing=True (send in waves that each drain before their expiry, deferred "
            "between them); a higher MPS from Plivo, set in the connection's extra 'mps' (e.g. "
            f"{_EXTRA_EXAMPLE}); a longer message_expiry (at most {MAX_MESSAGE_EXPIRY:,} s); or a "
            f"smaller audience (at most {fits:,} numbers at this speed and expiry)"
        )


class SensorTiming(NamedTuple):
    """A sensor's default ``timeout`` and ``poke_interval``, in real seconds."""

    timeout: float
    poke_interval: float


def sensor_timing(dispatch_seconds: float, *, time_scale: float = 1.0) -> SensorTiming:
    """The default timeout and poke interval of a sensor waiting for messages that Plivo needs
    ``dispatch_seconds`` (Plivo's time, e.g. :meth:`SendingSpeed.dispatch_seconds`) to dispatch.

    - ``timeout``: twice the dispatch time (the account's MPS may be shared with other sends,
      which slows ours) plus :data:`SENSOR_DELIVERY_ALLOWANCE` (six hours) for delivery reports.
      A message still queued at its expiry fails (error 420), which the sensor reports, so the
      wait is bounded by the dispatch, not by the expiry.
    - ``poke_interval``: a thirtieth of the dispatch time, kept between a minute (Airflow's
      default) and half an hour: a poke over thousands of messages costs many requests.

    Both in real seconds: divided by ``time_scale`` (the connection's extra, 1 unless a sandbox
    runs the clock faster).
    """
    poke = min(
        max(dispatch_seconds / SENSOR_POKES_PER_DISPATCH, SENSOR_MIN_POKE_INTERVAL), SENSOR_MAX_POKE_INTERVAL
    )
    timeout = 2 * dispatch_seconds + SENSOR_DELIVERY_ALLOWANCE
    return SensorTiming(timeout=timeout / time_scale, poke_interval=poke / time_scale)


def checked_expiry(value: Any) -> int | None:
    """A send's ``message_expiry`` as whole seconds, or None when not given.

    :raises ValueError: not a whole number of seconds from 5 to 10,800.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # a templated value arrives as a string
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (MIN_MESSAGE_EXPIRY <= value <= MAX_MESSAGE_EXPIRY)
    ):
        raise ValueError(
            f"message_expiry must be a whole number of seconds from {MIN_MESSAGE_EXPIRY} to "
            f"{MAX_MESSAGE_EXPIRY:,} (Plivo's range; the default is {DEFAULT_MESSAGE_EXPIRY:,}), "
            f"got {value!r}"
        )
    return value


def duration(seconds: float) -> str:
    """``"2 h 47 min"``, ``"12 min 30 s"``, ``"41 s"``, ``"9.7 s"``: rounded to what a reader needs."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3_600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _positive(value: Any, *, conn_id: str, extra: str, of: str = "") -> float:
    """``value`` as a positive finite float, or an error naming the connection and the extra."""
    number = -1.0
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError):
            number = float(value)
    if not 0 < number < math.inf:
        raise PlivoError(
            f"Connection {conn_id!r}: extra {extra!r} must be a positive number"
            + (f" of {of}" if of else "")
            + (f" (one for every type, or per type, e.g. {_EXTRA_EXAMPLE})" if extra == "mps" else "")
            + f"; got {value!r}"
        )
    return number
