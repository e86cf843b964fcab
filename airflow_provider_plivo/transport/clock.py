"""Plivo's clock and Plivo's times: how far Plivo's clock is from the worker's (its ``Date``
header), and the times Plivo writes in its records, read alike for messages and media.

Both reconciliations (a send whose answer never came, an upload whose task was killed) search a
Plivo list from the moment a request went, and that moment was taken on the worker's clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_plivo.transport.core import Request

if TYPE_CHECKING:
    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.transport.core import Plan

__all__ = ["RECONCILE_MARGIN", "UNKNOWN_CLOCK_MARGIN", "PlivoClock", "plivo_clock", "plivo_time", "utc_now"]

RECONCILE_MARGIN = timedelta(seconds=2)
"""How much earlier than a lost request's start on Plivo's clock a record may be dated and still
be its own. The offset between the clocks is read when reconciling (see :func:`plivo_clock`),
in bounds that already allow for the ``Date`` header's whole seconds and the request's time in
flight; this covers how far the worker's clock may drift from Plivo's between the lost request
and the retry: a clock kept by NTP slews at most 0.5 ms a second, 1.8 s an hour."""

UNKNOWN_CLOCK_MARGIN = timedelta(minutes=15)
"""The allowance when Plivo's answer gives no ``Date``: clocks of machines without NTP drift
minutes, and a record that lies outside it is taken as not ours."""

_PLIVO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r" ?(?:(Z)|([+-])(\d{2}):?(\d{2})?)?",
    re.IGNORECASE,
)


class PlivoClock(NamedTuple):
    """Plivo's clock as one of its answers showed it (its ``Date`` header), against the worker's."""

    ahead: timedelta
    """How far Plivo's clock is ahead of the worker's at least (negative: behind)."""
    now: datetime
    """Plivo's time once the answer came, at most (on Plivo's clock)."""


def plivo_clock(log: Log) -> Plan[PlivoClock | None]:
    """Plivo's clock, read from the ``Date`` header of the cheapest read there is (one media
    object): None when the answer has no readable ``Date``.

    ``Date`` has whole seconds and was written somewhere between asking and hearing back, so
    Plivo's time at any worker time ``t`` is at least ``t + (Date - answer time)``, and Plivo's
    time when the answer came at most ``Date`` plus one second.
    """
    from email.utils import parsedate_to_datetime

    dates: list[str] = []
    yield Request(
        "GET",
        "Media/",
        params={"limit": 1, "offset": 0},
        on_headers=lambda h: dates.append(h.get("Date", "")),
    )
    answered = utc_now()
    try:
        date = parsedate_to_datetime(dates[-1]) if dates and dates[-1] else None
    except (TypeError, ValueError):
        date = None
    if date is None or date.tzinfo is None:
        log.warning("Plivo's answer has no readable Date header: its clock is not known")
        return None
    return PlivoClock(ahead=date - answered, now=date + timedelta(seconds=1))


def plivo_time(value: object) -> datetime | None:
    """A time as Plivo writes it, as an aware datetime; None when ``value`` is not one.

    Plivo writes ``message_time``, ``message_sent_time`` and ``message_updated_time`` with a
    space, in the account's offset, dropping the fraction's trailing zeros
    (``2024-08-21 18:28:51.94772+05:30``) or the whole fraction (``2017-05-22 21:36:14+05:30``),
    and upload times with ``T`` and ``Z`` (``2021-02-17T07:16:09.153289Z``). Parsed by hand, not
    with :meth:`datetime.fromisoformat`, which before Python 3.11 takes only 3 or 6 fraction
    digits and no ``Z``. A time without an offset is read as UTC; digits beyond the
    microsecond are dropped.
    """
    match = _PLIVO_TIME.fullmatch(str(value).strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_hours, off_minutes = match.groups()
    offset = timedelta(hours=int(off_hours or 0), minutes=int(off_minutes or 0))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:  # a field out of range (month 13, offset 24 hours...)
        return None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
