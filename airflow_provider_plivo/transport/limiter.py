"""How many requests to one Plivo account a process keeps in flight and starts per period.

Plivo allows 100 simultaneous requests and 300 per 5 seconds per account, answers 429 beyond
either, and tells no one who else is using the account. A process alone should use all of that;
a process sharing the account with other tasks should take its part without a storm of 429s. No
fixed number does both, so the limiter learns, as TCP's congestion control and botocore's
"adaptive" retry mode do.

The parts, from the bottom:

* Pure pieces, each one rule, told the time (``now``, monotonic seconds) by their caller and
  holding no lock: :class:`ConcurrencyWindow`, :class:`AnswerWindow` (with :func:`rate_wait`),
  :class:`Pacer`, :class:`AccountShare`, :class:`RetryAfterPause`.
* :class:`AccountLimits`: those pieces put together for one account, within Plivo's hard limits
  (:data:`~airflow_provider_plivo.limits.ACCOUNT_MAX_IN_FLIGHT` in flight,
  :data:`~airflow_provider_plivo.limits.ACCOUNT_RATE_LIMIT` per
  :data:`~airflow_provider_plivo.limits.ACCOUNT_RATE_LIMIT_PERIOD`). Still pure.
* :class:`AccountLimiter`: the driver, one per account per process (:func:`account_limiter`):
  one lock, threads waiting on a Condition, coroutines on a Future woken by
  ``loop.call_soon_threadsafe`` when a place frees or after the known wait, never by polling.
* :class:`EndpointBudget`: one endpoint's own limit inside the account's (Plivo's message list,
  ``GET Message/``: 20 per minute), held by the :class:`AccountLimiter` beside its limits, so that
  a request to it takes a place from both under one lock. Its throttles are its own: a 429 from
  the list slows the list, never uploads or sends. Still pure.
* :class:`HookLimiter`: what a hook holds, its view of the account: the hook's own fixed ceilings
  (``max_concurrency``, ``rate_limit`` per ``rate_limit_period``) layered on the shared account.
  ``with limiter.slot(request) as slot: ...; slot.answered(status, retry_after)``, or ``aslot()``.

Every hook, trigger and notifier of an account in the process shares the account's limits and
learns from every answer; ``adaptive=False`` takes a hook's requests out of the account's learned
window (they keep to the hook's ceilings and Plivo's hard limits), but a ``Retry-After`` holds
every request of the account, adaptive or not.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import TYPE_CHECKING

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.limits import (
    ACCOUNT_MAX_IN_FLIGHT,
    ACCOUNT_RATE_LIMIT,
    ACCOUNT_RATE_LIMIT_PERIOD,
    MESSAGE_LIST_RATE_LIMIT,
    MESSAGE_LIST_RATE_LIMIT_PERIOD,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.transport.core import Request

__all__ = [
    "INITIAL_CONCURRENCY",
    "AccountLimiter",
    "AccountLimits",
    "AccountShare",
    "AnswerWindow",
    "BudgetSpent",
    "ConcurrencyWindow",
    "EndpointBudget",
    "HookLimiter",
    "Pacer",
    "RetryAfterPause",
    "Slot",
    "account_limiter",
    "rate_wait",
]

INITIAL_CONCURRENCY = 32
"""Requests in flight an account starts with: a third of Plivo's 100, so that three processes
starting together on one account stay within it, while a process alone sends 320 files in its
first round trip. (16, the fixed default before adaptation, needs a second round trip for 400.)"""

CONCURRENCY_CUT = 0.5
"""What a throttle leaves of the concurrency, as TCP halves its window on loss."""

PACING_BURST = 1 / 6
"""The part of the rate limit that may start at once; the rest of a period's worth is paced
evenly over the period (for Plivo's 300 per 5 s: 50 at once, then 50 per second; after a period
without a throttle, 60 per second, within 300 in any 5 s)."""

FAST_ANSWER = 1.5
"""While answers come within this many times the fastest round trip of the last period, the
concurrency may grow."""

SLOW_ANSWER = 2.0
"""Once answers come beyond this many times the fastest round trip of the last period, it takes
steps back."""

ROUND_TRIP_WEIGHT = 1 / 8
"""How much each answer moves the smoothed round trip (TCP's SRTT gain)."""

THROTTLE_STATUSES = (429, 503)
"""Answers that say the account is too busy (Plivo's limits, or Plivo itself)."""


class BudgetSpent(PlivoError):
    """A request that would rather not wait (``Request.waits_for_room`` False) found its
    endpoint's budget without room now: it was not sent."""


class Slot:
    """One request's place; tell it Plivo's answer when it comes (no answer leaves it neutral)."""

    def __init__(self, started: float, budget: EndpointBudget | None = None) -> None:
        self.started = started
        self.budget = budget
        """The endpoint budget it also holds a place of (the message list's), if any."""
        self.status: int | None = None
        self.retry_after: float | None = None

    def __repr__(self) -> str:
        of = f", {self.budget.name}" if self.budget else ""
        return f"Slot(started={self.started:g}, status={self.status}{of})"

    def answered(self, status: int, retry_after: float | None = None) -> None:
        """Plivo answered ``status``, with ``Retry-After`` (seconds) if it sent one."""
        self.status = status
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        return self.status in THROTTLE_STATUSES

    @property
    def clean(self) -> bool:
        """Answered, and not throttled: the request went through the account's limits."""
        return self.status is not None and self.status < 500 and not self.throttled


# -- pure pieces ------------------------------------------------------------------------------


class ConcurrencyWindow:
    """
    How many requests may be in flight, learned from answers.

    It starts at ``initial`` and grows by one per clean answer (it doubles every round trip)
    until the first throttle, then by one per round trip. It grows only while it alone holds the
    requests back (:meth:`started` saw it full while the pace had room) and answers come within
    :data:`FAST_ANSWER` times the fastest round trip of the last period (successful answers only:
    a refusal may come before the body is read); an answer more than :data:`SLOW_ANSWER` times
    that slow takes a step back (down to the start): requests are queueing, and every request on
    its way when the account fills comes back a 429. A throttle halves it; only a request
    started after the last cut can cut again, so that a burst of 429s from one round trip counts
    once. It never passes ``ceiling``.
    """

    def __init__(self, *, initial: int, ceiling: int, period: float) -> None:
        self.initial = min(initial, ceiling)
        self.ceiling = ceiling
        self.period = period
        self.window = float(self.initial)
        self.slow_start_until = math.inf
        """The concurrency up to which it grows by one per answer (until the first throttle)."""
        self.fastest: deque[tuple[float, float]] = deque()
        """(when, round trip) of successful answers in the last period whose round trip no later
        answer beat: the first is the fastest of the period (a sliding-window minimum)."""
        self.round_trip = 0.0
        """The round trip of successful answers, smoothed as TCP does (each answer weighs 1/8): one
        fast answer among slow ones says nothing about the queue."""
        self.filled = -math.inf
        """When a request last took the last place while the pace had room to spare: when the
        concurrency, and nothing else, held the requests back."""
        self.last_cut = -math.inf

    @property
    def concurrency(self) -> int:
        """Requests allowed in flight now."""
        return max(1, int(self.window))

    def started(self, now: float, in_flight: int, *, pace_has_room: bool) -> None:
        """A request started, leaving ``in_flight`` out."""
        if in_flight >= self.concurrency and pace_has_room:
            self.filled = now

    def may_cut(self, slot: Slot) -> bool:
        """Whether a throttle of ``slot`` is news: it started after the last cut."""
        return slot.started > self.last_cut

    def cut(self, now: float) -> None:
        self.window = max(1.0, self.window * CONCURRENCY_CUT)
        self.slow_start_until = self.window
        self.last_cut = now

    def grow(self, slot: Slot, now: float) -> None:
        """A clean answer: more if it alone held the requests back while the answer was awaited
        and the answer came about as fast as ever; less, down to the start, if much slower."""
        if slot.status is not None and slot.status < 300:
            self._time(now - slot.started, now)
        fastest = self.fastest[0][1] if self.fastest else math.inf
        if self.round_trip > SLOW_ANSWER * fastest:
            self.window = max(min(float(self.initial), self.window), self.window - 1.0)
        elif self.filled >= slot.started and self.round_trip <= FAST_ANSWER * fastest:
            step = 1.0 if self.window < self.slow_start_until else 1.0 / self.window
            self.window = min(float(self.ceiling), self.window + step)

    def _time(self, round_trip: float, now: float) -> None:
        """Learn from a successful answer's round trip: the smoothed round trip, and the fastest
        of the last period (older ones say nothing of the queue now)."""
        self.round_trip += (round_trip - self.round_trip) * (
            1.0 if self.round_trip == 0 else ROUND_TRIP_WEIGHT
        )
        while self.fastest and self.fastest[-1][1] >= round_trip:
            self.fastest.pop()
        self.fastest.append((now, round_trip))
        while self.fastest[0][0] <= now - self.period:
            self.fastest.popleft()


class AnswerWindow:
    """Every request answered (or failed) in the last ``period``, oldest first, dated by its answer:
    Plivo, which saw the request no later, then never counts more than a limit in a period."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.answers: deque[tuple[float, bool]] = deque()
        """(when, clean) per answer."""
        self.clean = 0
        """How many of :attr:`answers` are clean."""

    def __len__(self) -> int:
        return len(self.answers)

    def expire(self, now: float) -> None:
        while self.answers and self.answers[0][0] <= now - self.period:
            _, clean = self.answers.popleft()
            self.clean -= clean

    def add(self, now: float, *, clean: bool) -> None:
        self.expire(now)
        self.answers.append((now, clean))
        self.clean += clean

    def oldest(self) -> float:
        return self.answers[0][0]

    def oldest_clean(self) -> float:
        return next(when for when, clean in self.answers if clean)


def rate_wait(answers: AnswerWindow, in_flight: int, limit: int | None, now: float) -> float:
    """Seconds until one more request keeps within ``limit`` per period (counting those in flight
    as if answered now); 0 if it may start, inf if an answer must come first."""
    answers.expire(now)
    if limit is None or len(answers) + in_flight < limit:
        return 0.0
    return answers.oldest() + answers.period - now if answers else math.inf


class Pacer:
    """
    Requests started at once and then evenly: a sixth of ``rate_limit`` (:data:`PACING_BURST`)
    may start at once, the rest evenly over the period, so that when other tasks fill the account
    first, the requests already on their way are few. After a whole period without a throttle
    (:meth:`calm_again` restarts the count) the pace is a full ``rate_limit`` per period. Without
    a ``rate_limit`` there is no pacing.
    """

    def __init__(self, rate_limit: int | None, period: float, *, clock: Callable[[], float] = time.monotonic):
        self.period = period
        self.burst = self.full_pace = math.inf
        if rate_limit is not None:
            self.burst = max(1.0, rate_limit * PACING_BURST)
            self.full_pace = rate_limit / period
            """Requests started per second in the long run."""
        self.tokens = self.burst
        self.tokens_at = clock()
        self.calm_since: float | None = None
        """When the first request started, or the last cut came."""

    def pace(self, now: float) -> float:
        """Requests started per second once the burst is spent: until a whole period without a
        throttle, what is left of a period's worth after the burst (the first period then holds
        ``rate_limit`` in all, and tasks that meet on the account find few of each other's
        requests on their way); after that, a whole period's worth."""
        if self.calm_since is None or now - self.calm_since < self.period:
            return self.full_pace * (1 - PACING_BURST)
        return self.full_pace

    def wait(self, now: float) -> float:
        """Seconds until the pace allows one more request; 0 if it does now."""
        pace = self.pace(now)
        if pace < math.inf:
            self.tokens = min(self.burst, self.tokens + (now - self.tokens_at) * pace)
            self.tokens_at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / pace

    def take(self, now: float) -> None:
        """A request started (after :meth:`wait` said 0)."""
        if self.calm_since is None:
            self.calm_since = now
        self.tokens -= 1

    @property
    def has_room(self) -> bool:
        return self.tokens >= 1

    def calm_again(self, now: float) -> None:
        """A throttle: the gentler pace again, for a whole period."""
        self.calm_since = now


class AccountShare:
    """
    The part of the account's period that is ours after a throttle.

    A throttle sets it to the clean answers of the last period (requests already on their way are
    added as they come back clean), the part of the account we had when it was full, and at least
    the new concurrency: we then wait for our own requests to age out, not for everyone's. The
    share holds for one period, then grows by one per clean answer, back up to ``rate_limit``.
    Without a ``rate_limit`` there is no share either.
    """

    def __init__(self, rate_limit: int | None, period: float) -> None:
        self.rate_limit = rate_limit
        self.period = period
        self.share = math.inf if rate_limit is None else float(rate_limit)
        self.held_until = 0.0

    @property
    def rate(self) -> int | None:
        """Requests we may start per period now; None for no limit."""
        return None if math.isinf(self.share) else max(1, int(self.share))

    def wait(self, answers: AnswerWindow, in_flight: int, now: float) -> float:
        """Seconds until one more request keeps within the share; 0 if it may start now."""
        answers.expire(now)
        if answers.clean + in_flight < self.share:
            return 0.0
        return answers.oldest_clean() + self.period - now if answers.clean else math.inf

    def cut(self, now: float, *, clean: int, concurrency: float) -> None:
        if self.rate_limit is not None:
            self.share = max(float(clean), concurrency)
        self.held_until = now + self.period

    def grow(self, slot: Slot, now: float, *, last_cut: float) -> None:
        """A clean answer: one more once the hold is over, or at once for a request the account
        took before the cut (part of the share the account gave us)."""
        if (slot.started < last_cut or now >= self.held_until) and not math.isinf(self.share):
            self.share = min(self.share + 1.0, float(self.rate_limit or math.inf))


class RetryAfterPause:
    """A throttle's ``Retry-After`` holds every new request until it is over."""

    def __init__(self) -> None:
        self.until = -math.inf

    def hold(self, now: float, seconds: float) -> None:
        self.until = max(self.until, now + seconds)

    def wait(self, now: float) -> float:
        return max(0.0, self.until - now)


class AccountLimits:
    """
    Everything one account's requests in this process keep to, and learn; pure (no lock, told
    the time).

    Plivo's hard limits hold for every request: ``max_in_flight`` at once and ``rate_limit`` per
    ``period`` (:func:`rate_wait`, requests dated by their answer), and a ``Retry-After`` pause.
    Adaptive requests also keep to the learned :class:`ConcurrencyWindow`, the :class:`Pacer` and
    the :class:`AccountShare`. Every answer teaches: a throttle of any request cuts (Plivo answers
    429 for both limits alike; every 429 is taken as a full period), a clean one may grow.
    """

    def __init__(
        self,
        *,
        max_in_flight: int = ACCOUNT_MAX_IN_FLIGHT,
        rate_limit: int | None = ACCOUNT_RATE_LIMIT,
        period: float = ACCOUNT_RATE_LIMIT_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_limits("an account limit", max_in_flight, rate_limit, period)
        self.max_in_flight = max_in_flight
        self.rate_limit = rate_limit
        self.period = period
        self.in_flight = 0
        self.throttles = 0
        """Throttled answers (429, 503) absorbed by the account in this process."""
        self.answers = AnswerWindow(period)
        self.window = ConcurrencyWindow(initial=INITIAL_CONCURRENCY, ceiling=max_in_flight, period=period)
        self.pacer = Pacer(rate_limit, period, clock=clock)
        self.share = AccountShare(rate_limit, period)
        self.pause = RetryAfterPause()

    def wait(self, now: float, *, adaptive: bool) -> float:
        """Seconds until a request may start (inf: an answer must come first); 0 if it may now."""
        waits = [
            math.inf if self.in_flight >= self.max_in_flight else 0.0,
            self.pause.wait(now),
            rate_wait(self.answers, self.in_flight, self.rate_limit, now),
        ]
        if adaptive:
            waits += [
                self.pacer.wait(now),  # first: it refills whatever else holds the request back
                math.inf if self.in_flight >= self.window.concurrency else 0.0,
                self.share.wait(self.answers, self.in_flight, now),
            ]
        return max(waits)

    def start(self, now: float, *, adaptive: bool) -> None:
        """A request started (after :meth:`wait` said 0)."""
        self.in_flight += 1
        if adaptive:
            self.pacer.take(now)
            self.window.started(now, self.in_flight, pace_has_room=self.pacer.has_room)

    def finish(self, slot: Slot, now: float) -> bool:
        """``slot``'s request is over: release its place and learn from its answer. True if it cut.

        A throttle of a request under an endpoint budget is that endpoint's (Plivo's message
        list answers 429 beyond its own 20 per minute while the account has room): it counts
        here as a request, and teaches nothing, so that uploads and sends keep their pace."""
        self.in_flight -= 1
        self.answers.add(now, clean=slot.clean)
        if slot.throttled and slot.budget is not None:
            return False
        if slot.throttled:
            self.throttles += 1
            if slot.retry_after is not None:
                self.pause.hold(now, slot.retry_after)
            if not self.window.may_cut(slot):
                return False
            self.window.cut(now)
            self.share.cut(now, clean=self.answers.clean, concurrency=self.window.window)
            self.pacer.calm_again(now)
            return True
        if slot.clean:
            self.window.grow(slot, now)
            self.share.grow(slot, now, last_cut=self.window.last_cut)
        return False

    def describe(self) -> str:
        rate = self.share.rate
        return (
            f"{self.in_flight} in flight of {self.window.concurrency} (Plivo allows "
            f"{self.max_in_flight}), {rate or 'any number'} per {self.period:g} s, "
            f"{self.throttles} throttled answers"
        )


class EndpointBudget:
    """
    One endpoint's own limit inside the account's, for every hook, trigger and notifier of the
    account in the process; pure (no lock, told the time), held by the :class:`AccountLimiter`.

    Plivo's message list (``GET Message/``) allows 20 requests per minute besides the account's
    300 per 5 s. Every request to it keeps to ``rate_limit`` per ``period``
    (:func:`rate_wait`, dated by the answer) and to a ``Retry-After`` it sent (without one, a 429
    holds it for the time one place takes to free: ``period / rate_limit``); adaptive requests
    also to an :class:`AccountShare` its throttles teach (a 429 leaves the part of the period we
    had, for a period). No :class:`Pacer`: a poll asks how many pages it may read now
    (:meth:`room`) and reads them at once; spread over the minute, 20 would make every poll wait.
    Without a ``rate_limit`` only a ``Retry-After`` holds its requests, but its throttles are
    still its own.
    """

    def __init__(self, *, name: str, rate_limit: int | None, period: float) -> None:
        _check_limits(f"the {name}'s limit", 1, rate_limit, period)
        self.name = name
        self.rate_limit = rate_limit
        self.period = period
        self.in_flight = 0
        self.throttles = 0
        """Throttled answers (429, 503) from this endpoint in this process."""
        self.answers = AnswerWindow(period)
        self.share = AccountShare(rate_limit, period)
        self.pause = RetryAfterPause()
        self.last_cut = -math.inf

    def keep_within(self, rate_limit: int, period: float) -> None:
        """A hook of the account names this limit: keep within it and any named before (the
        fewest requests over the longest period), since Plivo counts them all together."""
        if self.rate_limit is None:
            self.period = period
        self.rate_limit = self.share.rate_limit = min(self.rate_limit or rate_limit, rate_limit)
        self.period = self.answers.period = self.share.period = max(self.period, period)
        self.share.share = min(self.share.share, float(self.rate_limit))

    def wait(self, now: float, *, adaptive: bool) -> float:
        """Seconds until a request may start (inf: an answer must come first); 0 if it may now."""
        waits = [self.pause.wait(now), rate_wait(self.answers, self.in_flight, self.rate_limit, now)]
        if adaptive:
            waits.append(self.share.wait(self.answers, self.in_flight, now))
        return max(waits)

    def room(self, now: float, *, adaptive: bool) -> int | None:
        """How many requests may start now, without waiting; None for no limit."""
        if self.pause.wait(now) > 0:
            return 0
        if self.rate_limit is None:
            return None
        self.answers.expire(now)
        room = self.rate_limit - len(self.answers) - self.in_flight
        if adaptive:
            room = min(room, math.ceil(self.share.share - self.answers.clean - self.in_flight))
        return max(0, room)

    def start(self) -> None:
        self.in_flight += 1

    def finish(self, slot: Slot, now: float) -> bool:
        """``slot``'s request is over; learn from its answer. True if it cut the share."""
        self.in_flight -= 1
        self.answers.add(now, clean=slot.clean)
        if slot.throttled:
            self.throttles += 1
            if slot.retry_after is not None:
                self.pause.hold(now, slot.retry_after)
            elif self.rate_limit is not None:
                # Plivo's window is full, with requests we cannot see: at its pace, one place
                # frees every period / limit seconds (3 s of 20 per minute); asking sooner is a 429.
                self.pause.hold(now, self.period / self.rate_limit)
            if slot.started <= self.last_cut:  # one round of 429s counts once
                return False
            self.share.cut(now, clean=self.answers.clean, concurrency=1.0)
            self.last_cut = now
            return True
        if slot.clean:
            self.share.grow(slot, now, last_cut=self.last_cut)
        return False

    def describe(self) -> str:
        rate = self.share.rate or self.rate_limit or "any number"
        return (
            f"the {self.name}: {self.in_flight} in flight, {rate} per {self.period:g} s "
            f"(Plivo allows {self.rate_limit or 'any number'}), {self.throttles} throttled answers"
        )


# -- the driver: one per account per process ----------------------------------------------------


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AccountLimiter:
    """
    One account's :class:`AccountLimits` for every thread and coroutine of the process.

    Threads wait on a Condition; coroutines on a Future registered here, woken through their own
    loop's ``call_soon_threadsafe`` when a request finishes (a place may be free), or by a timer
    after the known wait. A woken waiter asks again, so a cancelled one holds nothing. Get it with
    :func:`account_limiter`; hooks use it through a :class:`HookLimiter`.
    """

    def __init__(
        self,
        *,
        max_in_flight: int = ACCOUNT_MAX_IN_FLIGHT,
        rate_limit: int | None = ACCOUNT_RATE_LIMIT,
        period: float = ACCOUNT_RATE_LIMIT_PERIOD,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        self.name = name
        self.clock = clock
        self.limits = AccountLimits(
            max_in_flight=max_in_flight, rate_limit=rate_limit, period=period, clock=clock
        )
        self.message_list = EndpointBudget(
            name="message list", rate_limit=None, period=MESSAGE_LIST_RATE_LIMIT_PERIOD
        )
        """The message list's own budget: its limit is the strictest a hook named
        (:meth:`limit_message_list`), none until one did."""
        self._lock = threading.Condition()
        self._waiters: dict[asyncio.Future[None], asyncio.AbstractEventLoop] = {}

    def __repr__(self) -> str:
        return f"AccountLimiter({self.name or 'an account'}: {self.describe()})"

    def describe(self) -> str:
        with self._lock:
            return f"{self.limits.describe()}; {self.message_list.describe()}"

    def limit_message_list(self, rate_limit: int | None, period: float) -> None:
        """A hook of the account says Plivo allows its message list ``rate_limit`` requests per
        ``period``: every list request of the process keeps within it (and within the limits
        other hooks named). None adds no limit."""
        if rate_limit is not None:
            with self._lock:
                self.message_list.keep_within(rate_limit, period)

    def message_list_room(self, *, adaptive: bool = True) -> int | None:
        """Message list requests that may start now without waiting; None for no list limit."""
        with self._lock:
            return self.message_list.room(self.clock(), adaptive=adaptive)

    @property
    def waiting(self) -> int:
        """Coroutines waiting for a place now."""
        with self._lock:
            return len(self._waiters)

    def acquire(self, view: HookLimiter, request: Request | None = None) -> Slot:
        """Block this thread until ``view`` may start ``request``; its slot.

        :raises BudgetSpent: ``request`` would rather not wait, and its endpoint's budget has no
            room now.
        """
        with self._lock:
            while not isinstance(slot := view.try_start(self.clock(), request), Slot):
                self._lock.wait(None if math.isinf(slot) else slot)
        return slot

    async def aacquire(self, view: HookLimiter, request: Request | None = None) -> Slot:
        """:meth:`acquire` for a coroutine: waits on a Future, never blocking the loop."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                slot = view.try_start(self.clock(), request)
                if isinstance(slot, Slot):
                    return slot
                future: asyncio.Future[None] = loop.create_future()
                self._waiters[future] = loop
            timer = None if math.isinf(slot) else loop.call_later(slot, _wake, future)
            try:
                await future
            finally:
                if timer is not None:
                    timer.cancel()
                with self._lock:
                    self._waiters.pop(future, None)

    def release(self, view: HookLimiter, slot: Slot) -> None:
        """``slot``'s request is over: learn, wake every waiter, and let ``view`` report."""
        with self._lock:
            report = view.finish(slot, self.clock())
            self._lock.notify_all()
            waiters, self._waiters = self._waiters, {}
        for future, loop in waiters.items():
            with suppress(RuntimeError):  # that loop is closed: nobody is waiting there any more
                loop.call_soon_threadsafe(_wake, future)
        if report is not None:
            view.report(report)


_ACCOUNTS: dict[tuple[str, str], AccountLimiter] = {}
_ACCOUNTS_LOCK = threading.Lock()


def account_limiter(base_url: str, auth_id: str) -> AccountLimiter:
    """The one :class:`AccountLimiter` of this process for the account ``auth_id`` at
    ``base_url``, within Plivo's account limits (100 in flight, 300 per 5 s)."""
    key = (base_url.rstrip("/"), auth_id)
    with _ACCOUNTS_LOCK:
        if key not in _ACCOUNTS:
            _ACCOUNTS[key] = AccountLimiter(name=auth_id)
        return _ACCOUNTS[key]


# -- a hook's view ------------------------------------------------------------------------------


class HookLimiter:
    """
    A hook's requests to its account: the hook's fixed ceilings on the account's shared limits.

    :param account: the account's limiter (:func:`account_limiter`), shared in the process.
    :param max_concurrency: the most of this hook's requests in flight at once.
    :param rate_limit: the most of this hook's requests per ``rate_limit_period``; None for none.
    :param rate_limit_period: the window of ``rate_limit``, in seconds.
    :param adaptive: keep also to what the account learned (its window, pace and share); False
        keeps only the hook's ceilings and Plivo's hard limits (a ``Retry-After`` still holds).
    :param message_list_rate_limit: the most message list requests (``GET Message/``) Plivo
        allows the account per ``message_list_rate_limit_period``, shared by the process (see
        :meth:`AccountLimiter.limit_message_list`); None for no limit of the list's own.
    :param message_list_rate_limit_period: the window of ``message_list_rate_limit``, in seconds.
    :param log: where throttles this hook's requests met, and where it settled, are reported.
    """

    def __init__(
        self,
        account: AccountLimiter,
        *,
        max_concurrency: int,
        rate_limit: int | None,
        rate_limit_period: float,
        adaptive: bool = True,
        message_list_rate_limit: int | None = MESSAGE_LIST_RATE_LIMIT,
        message_list_rate_limit_period: float = MESSAGE_LIST_RATE_LIMIT_PERIOD,
        log: Log | None = None,
    ) -> None:
        _check_limits("a request limit", max_concurrency, rate_limit, rate_limit_period)
        account.limit_message_list(message_list_rate_limit, message_list_rate_limit_period)
        self.account = account
        self.max_concurrency = max_concurrency
        self.rate_limit = rate_limit
        self.period = rate_limit_period
        self.adaptive = adaptive
        self.log = log
        self.throttles = 0
        """Throttled answers (429, 503) this hook's requests met."""
        self.in_flight = 0
        self.answers = AnswerWindow(rate_limit_period)
        self._reported = (self.concurrency, 0)

    def __repr__(self) -> str:
        return (
            f"HookLimiter({self.concurrency} in flight of {self.max_concurrency}, "
            f"{self.rate} per {self._rate_period():g} s of {self.rate_limit}, adaptive={self.adaptive}; "
            f"{self.account!r})"
        )

    @property
    def concurrency(self) -> int:
        """This hook's requests allowed in flight now."""
        limits = self.account.limits
        ceiling = limits.window.concurrency if self.adaptive else limits.max_in_flight
        return min(self.max_concurrency, ceiling)

    @property
    def rate(self) -> int | None:
        """This hook's requests allowed per period now; None for no limit."""
        own = math.inf if self.rate_limit is None else float(self.rate_limit)
        share = self.account.limits.share.share if self.adaptive else math.inf
        return None if math.isinf(min(own, share)) else max(1, int(min(own, share)))

    def _rate_period(self) -> float:
        """The period of :attr:`rate`: the account's when its share is the lower."""
        share = self.account.limits.share.share if self.adaptive else math.inf
        return self.account.limits.period if share < (self.rate_limit or math.inf) else self.period

    def describe(self) -> str:
        """Where the hook and the account stand, for the person watching the log."""
        return (
            f"at most {self.concurrency} requests to Plivo in flight and {self.rate or 'any number'} "
            f"per {self._rate_period():g} s; {self.throttles} throttled answers (429, 503) absorbed; "
            f"the account in this process: {self.account.limits.describe()}; "
            f"{self.account.message_list.describe()}"
        )

    def message_list_room(self) -> int | None:
        """Message list requests this hook may start now without waiting (what a poll may read
        from the list); None for no limit of the list's own."""
        return self.account.message_list_room(adaptive=self.adaptive)

    @contextmanager
    def slot(self, request: Request | None = None) -> Iterator[Slot]:
        """Wait for a place for ``request`` (from the message list's budget too, if it is one of
        its requests), hold it while the request is out, and learn from its answer."""
        slot = self.account.acquire(self, request)
        try:
            yield slot
        finally:
            self.account.release(self, slot)

    @asynccontextmanager
    async def aslot(self, request: Request | None = None) -> AsyncIterator[Slot]:
        """:meth:`slot` for a coroutine: waits without blocking the event loop."""
        slot = await self.account.aacquire(self, request)
        try:
            yield slot
        finally:
            self.account.release(self, slot)

    def try_start(self, now: float, request: Request | None = None) -> Slot | float:
        """Take a place for ``request`` (also from the message list's budget, for one of its
        requests), or return the seconds until one may be free (inf: an answer must come first).
        Pure: the caller holds the account's lock (:class:`AccountLimiter` does).

        :raises BudgetSpent: ``request`` would rather not wait, and the list's budget has no room.
        """
        budget = self.account.message_list if request is not None and request.message_list else None
        budget_wait = budget.wait(now, adaptive=self.adaptive) if budget is not None else 0.0
        if budget_wait > 0 and request is not None and not request.waits_for_room:
            raise BudgetSpent(f"{request.endpoint}: not sent, {budget and budget.describe()}: no room now")
        wait = max(
            math.inf if self.in_flight >= self.max_concurrency else 0.0,
            rate_wait(self.answers, self.in_flight, self.rate_limit, now),
            self.account.limits.wait(now, adaptive=self.adaptive),
            budget_wait,
        )
        if wait > 0:
            return wait
        self.in_flight += 1
        self.account.limits.start(now, adaptive=self.adaptive)
        if budget is not None:
            budget.start()
        return Slot(now, budget)

    def finish(self, slot: Slot, now: float) -> str | None:
        """Release ``slot``'s place and let the account learn from its answer; the line to log, if
        any: a cut, or where the hook settled once it fell idle (the end of a batch, or a pause)
        if its concurrency or throttles changed: the share alone grows with every clean answer.
        Pure, like :meth:`try_start`."""
        self.in_flight -= 1
        self.answers.add(now, clean=slot.clean)
        self.throttles += slot.throttled
        budget_cut = slot.budget is not None and slot.budget.finish(slot, now)
        cut = self.account.limits.finish(slot, now)
        if budget_cut and slot.budget is not None:
            return (
                f"Plivo throttled a {slot.budget.name} request (HTTP {slot.status}), which slows "
                f"only {slot.budget.name} requests: {self.describe()}"
            )
        changed = (self.concurrency, self.throttles)
        if not cut and (self.in_flight or changed == self._reported):
            return None
        self._reported = changed
        return f"{f'Plivo throttled a request (HTTP {slot.status})' if cut else 'Settled'}: {self.describe()}"

    def report(self, line: str) -> None:
        if self.log is not None:
            self.log.info("%s", line)


def _check_limits(what: str, in_flight: int, rate_limit: int | None, period: float) -> None:
    if in_flight < 1 or (rate_limit is not None and rate_limit < 1) or period <= 0:
        raise ValueError(
            f"{what} needs 1 or more requests in flight and per period > 0, got "
            f"{in_flight} in flight, {rate_limit}/{period}"
        )
