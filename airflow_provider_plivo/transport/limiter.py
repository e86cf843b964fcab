"""How many requests to one Plivo account a process keeps in flight and starts per period.

Plivo allows 100 simultaneous requests and 300 per 5 seconds per account, answers 429 beyond
either, and tells no one who else is using the account. A process alone should use all of that;
a process sharing the account with other tasks should take its part without a storm of 429s. No
fixed number does both, so the limiter learns, as TCP's congestion control and botocore's
"adaptive" retry mode do.

The parts, from the bottom:

* Pure pieces, each one rule, told the time (``now``, monotonic seconds) by their caller and
  holding no lock: :class:`ConcurrencyWindow`, :class:`AnswerWindow` (with :func:`rate_wait`),
  :class:`AccountShare`, :class:`StarvedProbe`, :class:`RetryAfterPause`.
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
    "RetryAfterPause",
    "Slot",
    "StarvedProbe",
    "account_limiter",
    "rate_wait",
    "wake",
]

INITIAL_CONCURRENCY = 20
"""Requests in flight an account starts with: a fifth of Plivo's 100, so that five processes
starting together on one account stay within it and six overshoot by a few, which each of them
learns its part of the account from (see :data:`SHARE_HEADROOM`); a process alone sends 400
files in two round trips (20, then 22)."""

GROWTH = 2.0
"""Requests in flight added per round trip until the first throttle, then one: growth that
overshoots the account's 100 by a few requests per round trip, never by a doubling of all of them
(six simulated tasks doubling from 16 sent 92 requests beyond it at once)."""

CONCURRENCY_CUT = 0.7
"""What a throttle leaves of the concurrency (TCP halves; here the share, not the concurrency,
keeps a throttled process within its part of the period, and a deeper cut only slows it)."""

SHARE_HEADROOM = 1.5
"""How far the part of the period a throttle leaves us is rounded up. The 429s of an account
full at once (100 in flight) say how many of our requests it held, so our part of its 300 per
5 s, if every sharer holds as many: 3 per request held. Parts that add up to less than the
account leave some of its period unused by anyone, which costs every sharer a whole period
more; parts that add up to more cost a 429 for every request beyond it. So the part is rounded up,
and during the throttle's hold the rounded-up rest goes one request at a time: where the parts
add up to less, it fills the period; where they add up to more, each sharer meets one 429 there
(which cuts its share to what it had), not a round trip of them."""

FAST_ANSWER = 1.5
"""While answers come within this many times the fastest round trip of the last period, the
concurrency may grow."""

SLOW_ANSWER = 2.0
"""Once answers come beyond this many times the fastest round trip of the last period, it takes
steps back."""

SLOW_ANSWER_STEP = 0.5
"""The step back per slow answer: about half the concurrency per round trip of slow answers."""

CONCURRENCY_FLOOR = 8
"""The fewest requests in flight slow answers step back to, below the start, and throttles cut
to: six processes on two cores keep most of their requests waiting for their own CPU, counted as
in flight but not yet sent, and every one of them comes back a 429 once the account's period is
full, where fewer in flight would have gone as fast. Not lower: answers also slow down for
reasons fewer requests do not cure (a busier Plivo, larger files), and a task alone would then
crawl; and twelve sharers at 8 each still keep within Plivo's 100 at once, while the share keeps
each to its part of the period. Cut below it, six deployment tasks met the second period at 5 in
flight each and sent it at half the pace of the first."""

ROUND_TRIP_WEIGHT = 1 / 8
"""How much each answer moves the smoothed round trip (TCP's SRTT gain)."""

PROBE_SPACING = 0.1
"""While the account gives us nothing but throttles, the time between probes, as a part of its
period (0.5 s of 5 s): soon enough that a task finds the period freeing within a few round trips,
seldom enough that a task started after the account spent its period meets about ten 429s
waiting, not one per round trip."""

THROTTLE_STATUSES = (429, 503)
"""Answers that say the account is too busy (Plivo's limits, or Plivo itself)."""


class BudgetSpent(PlivoError):
    """A request that would rather not wait (``Request.waits_for_room`` False) found its
    endpoint's budget without room now: it was not sent."""


class Slot:
    """One request's place; tell it Plivo's answer when it comes (no answer leaves it neutral)."""

    def __init__(self, started: float, budget: EndpointBudget | None = None, *, kind: str = "") -> None:
        self.started = started
        self.budget = budget
        self.kind = kind
        """What the request does (:attr:`Request.kind`): its round trip is judged among its kind's."""
        """The endpoint budget it also holds a place of (the message list's), if any."""
        self.status: int | None = None
        self.retry_after: float | None = None
        self.held = 0
        """The account's requests this process had in flight once this one started (itself
        included): what the account held of ours when it answered."""
        self.paced = False
        """It went beyond the part of the period we held, one at a time (:data:`SHARE_HEADROOM`)."""

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

    It starts at ``initial`` and grows by :data:`GROWTH` per round trip until the first throttle,
    then by one per round trip. It grows only while it alone holds the requests back
    (:meth:`started` saw it full) and answers come within :data:`FAST_ANSWER` times the fastest
    round trip of the last period (successful answers only: a refusal may come before the body is
    read); an answer more than :data:`SLOW_ANSWER` times that slow takes a step back
    (:data:`SLOW_ANSWER_STEP`, down to :data:`CONCURRENCY_FLOOR`): requests are queueing, here or
    at Plivo, and every request on its way when the account fills comes back a 429. A throttle
    leaves :data:`CONCURRENCY_CUT` of it, not below that floor; only a request started after the
    last cut can cut again, so that a burst of 429s from one round trip counts once. It never
    passes ``ceiling``.
    """

    def __init__(self, *, initial: int, ceiling: int, period: float) -> None:
        self.initial = min(initial, ceiling)
        self.ceiling = ceiling
        self.period = period
        self.window = float(self.initial)
        self.growth = GROWTH
        """Requests added per round trip: :data:`GROWTH` until the first throttle, then one."""
        self.fastest: dict[str, deque[tuple[float, float]]] = {}
        """By request kind: (when, round trip) of successful answers in the last period whose round
        trip no later answer beat: the first is the fastest of the period (a sliding-window minimum)."""
        self.round_trip: dict[str, float] = {}
        """By request kind: the round trip of successful answers, smoothed as TCP does (each answer
        weighs 1/8): one fast answer among slow ones says nothing about the queue."""
        self.filled = -math.inf
        """When a request last took the last place: when the concurrency held the requests back."""
        self.last_cut = -math.inf

    @property
    def concurrency(self) -> int:
        """Requests allowed in flight now."""
        return max(1, int(self.window))

    def started(self, now: float, in_flight: int) -> None:
        """A request started, leaving ``in_flight`` out."""
        if in_flight >= self.concurrency:
            self.filled = now

    def may_cut(self, slot: Slot) -> bool:
        """Whether a throttle of ``slot`` is news: it started after the last cut."""
        return slot.started > self.last_cut

    def cut(self, now: float) -> None:
        self._step_back(self.window * CONCURRENCY_CUT)
        self.growth = 1.0
        self.last_cut = now

    def _step_back(self, to: float) -> None:
        """Lower the window to ``to``, not below :data:`CONCURRENCY_FLOOR` (nor raise one below it)."""
        self.window = max(min(float(CONCURRENCY_FLOOR), self.window), to)

    def grow(self, slot: Slot, now: float) -> None:
        """A clean answer: more if it alone held the requests back while the answer was awaited
        and the answer came about as fast as ever; less, down to the start, if much slower."""
        if slot.status is not None and slot.status < 300:
            self._time(slot.kind, now - slot.started, now)
        fastest = self.fastest[slot.kind][0][1] if self.fastest.get(slot.kind) else math.inf
        round_trip = self.round_trip.get(slot.kind, 0.0)
        if round_trip > SLOW_ANSWER * fastest:
            self._step_back(self.window - SLOW_ANSWER_STEP)
        elif self.filled >= slot.started and round_trip <= FAST_ANSWER * fastest:
            self.window = min(float(self.ceiling), self.window + self.growth / self.window)

    def _time(self, kind: str, round_trip: float, now: float) -> None:
        """Learn from a successful answer's round trip: its kind's smoothed round trip, and the
        fastest of the last period (older ones say nothing of the queue now)."""
        smoothed = self.round_trip.get(kind, 0.0)
        self.round_trip[kind] = smoothed + (round_trip - smoothed) * (
            1.0 if smoothed == 0 else ROUND_TRIP_WEIGHT
        )
        fastest = self.fastest.setdefault(kind, deque())
        while fastest and fastest[-1][1] >= round_trip:
            fastest.pop()
        fastest.append((now, round_trip))
        while fastest[0][0] <= now - self.period:
            fastest.popleft()


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


class AccountShare:
    """
    The part of the account's period that is ours after a throttle.

    Plivo answers 429 alike when the period is full and when too many requests are in flight, so
    a throttle sets the share to the larger of two readings of what the account gave us: the
    clean answers of the last period (what we had of the period, if it was full), and what we
    had of the requests in flight (``held`` of ``max_in_flight``, if those were full) as a part
    of the period, rounded up by :data:`SHARE_HEADROOM` (the rest beyond what we held goes one
    request at a time while the hold lasts); and at least the new concurrency. Both
    readings are finished by the requests of the throttled round still on their way: each that
    comes back clean adds one to the first, each refused says the account held one fewer of ours.
    Processes that start together and fill the 100 at once so each learn a part near 1/N of the
    period, the same for all, before the period is full; without that reading, a process throttled
    early had only a few answers and kept to a few requests for the whole period, while the others
    finished. We then wait for our own requests to age out, not for everyone's. The share holds
    for one period, then grows by one per clean answer, back up to ``rate_limit``; the clean
    answers of the hold are credited when it ends: a share that filled during the hold gets no
    answer after it until its requests age out a period later, and so would not grow then (a task
    whose unlucky reading left it a small part kept to it for two periods more while the account
    stood idle). Without a ``rate_limit`` there is no share either.
    """

    def __init__(self, rate_limit: int | None, period: float, *, max_in_flight: int | None = None) -> None:
        self.rate_limit = rate_limit
        self.period = period
        self.share = math.inf if rate_limit is None else float(rate_limit)
        self.sure = self.share
        """The share before :data:`SHARE_HEADROOM`: beyond it, during a hold, one at a time."""
        self.per_held = 0.0
        """What one request held in flight is worth of the period (0: no in-flight reading)."""
        if rate_limit is not None and max_in_flight is not None:
            self.per_held = rate_limit / max_in_flight
        self.answered = self.held = self.floor = 0.0
        """The two readings of the last throttle, and its floor."""
        self.held_until = 0.0
        self.earned = 0.0
        """Clean answers since the last cut, credited to the share when its hold ends."""

    @property
    def rate(self) -> int | None:
        """Requests we may start per period now; None for no limit."""
        return None if math.isinf(self.share) else max(1, int(self.share))

    def wait(self, answers: AnswerWindow, in_flight: int, now: float) -> float:
        """Seconds until one more request keeps within the share; 0 if it may start now."""
        answers.expire(now)
        self._credit(now)
        if answers.clean + in_flight < self.share:
            if not in_flight or not self.paced(answers, in_flight, now):
                return 0.0
            return self.held_until - now  # or sooner, once the request in flight is answered
        wait = answers.oldest_clean() + self.period - now if answers.clean else math.inf
        return min(wait, self.held_until - now) if self.earned else wait

    def paced(self, answers: AnswerWindow, in_flight: int, now: float) -> bool:
        """Whether a request starting now, with ``in_flight`` others out, goes beyond the part
        we held during the hold: one of the rest that goes one at a time."""
        return now < self.held_until and answers.clean + in_flight >= self.sure

    def cut(self, now: float, *, clean: int, floor: float, held: int = 0, restart_hold: bool = True) -> None:
        """A throttle of a request that started with ``held`` of ours in flight (itself
        included), with ``clean`` answers in the last period; at least ``floor``. Within a hold,
        only a throttle of one of the paced rest restarts it (``restart_hold``): the part beyond
        what we held was too much, so the rest of the period is spent. A throttle within what we
        held says only that the period is still full, and the hold already ends about when it
        frees; restarting it kept a task that met a 429 or two at the start of the second period
        to a few requests for a third one."""
        if self.rate_limit is not None:
            self.answered, self.held, self.floor = float(clean), held * self.per_held, floor
            self._settle()
        if restart_hold or now >= self.held_until:
            self.held_until = now + self.period
        self.earned = 0.0

    def grow(self, slot: Slot, now: float, *, last_cut: float) -> None:
        """An answer: of the throttled round (started before the cut), it finishes the cut's
        readings; else a clean one adds one once the hold is over."""
        if math.isinf(self.share):
            return
        if slot.started < last_cut:
            if slot.clean:
                self.answered += 1.0
            elif slot.throttled:
                self.held = max(0.0, self.held - self.per_held)
            self._settle()
        elif slot.clean:
            self.earned += 1.0
            self._credit(now)

    def end_hold(self, now: float) -> None:
        """The cut's readings said nothing of our part: grow from the next clean answer on."""
        self.held_until = min(self.held_until, now)

    def _credit(self, now: float) -> None:
        if self.earned and now >= self.held_until:
            self.share = min(self.share + self.earned, float(self.rate_limit or math.inf))
            self.earned = 0.0

    def _settle(self) -> None:
        most = float(self.rate_limit or math.inf)
        self.sure = min(max(self.answered, self.held, self.floor), most)
        self.share = min(max(self.answered, self.held * SHARE_HEADROOM, self.floor), most)


class StarvedProbe:
    """
    Whether the account is spent for us: throttled with fewer clean answers in the last period
    than the requests we may have in flight (less than one round trip's worth).

    A task that starts after the others spent the account's period, or just as they fill it,
    gets nothing but 429s until their requests age out, at a moment it cannot know. Every one of
    those 429s would cut its concurrency and share again (a task started 1.5 s late cut down to 1
    in flight and 4 per period, and crawled on into a third period), and every request sent
    would be one more 429: a task with 5 answers and a share of 14 sent its 9 retries into the
    full period, then one 429 per round trip at 1 in flight. So while starved, the account's
    requests go one at a time, a probe every :data:`PROBE_SPACING` of the period; a probe's 429
    teaches nothing new. The first clean answer ends it: the account has room again. If the spell
    began with nothing answered at all, the cut's readings said nothing about our part, so the
    share's hold ends too (:meth:`fed`) and the share grows again from there.
    """

    def __init__(self, period: float) -> None:
        self.spacing = period * PROBE_SPACING
        self.starved = False
        self.empty = False
        """The spell began with no clean answer at all in the period: the cut read nothing."""
        self.next_probe = -math.inf

    def wait(self, in_flight: int, now: float) -> float:
        if not self.starved:
            return 0.0
        return math.inf if in_flight else max(0.0, self.next_probe - now)

    def throttled(self, now: float, *, clean: int, concurrency: int, retry_after: float | None) -> None:
        """A throttle, with ``clean`` answers in the last period and ``concurrency`` allowed in
        flight; a ``Retry-After`` Plivo sent replaces the spacing (it holds every request already)."""
        if clean < concurrency:
            if not self.starved:
                self.empty = clean == 0
            self.starved = True
            self.next_probe = now + (self.spacing if retry_after is None else 0.0)

    def fed(self) -> bool:
        """A clean answer: True if it ends a spell that began with nothing answered."""
        was, self.starved = self.starved and self.empty, False
        return was


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
    Adaptive requests also keep to the learned :class:`ConcurrencyWindow` and
    :class:`AccountShare`, and go one at a time while a :class:`StarvedProbe` says the account
    gives us nothing. Every answer teaches: a throttle of any request cuts (Plivo answers 429 for
    both limits alike; every 429 is taken as a full period), unless it is a probe's; a clean one
    may grow.
    """

    def __init__(
        self,
        *,
        max_in_flight: int = ACCOUNT_MAX_IN_FLIGHT,
        rate_limit: int | None = ACCOUNT_RATE_LIMIT,
        period: float = ACCOUNT_RATE_LIMIT_PERIOD,
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
        self.share = AccountShare(rate_limit, period, max_in_flight=max_in_flight)
        self.probe = StarvedProbe(period)
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
                math.inf if self.in_flight >= self.window.concurrency else 0.0,
                self.share.wait(self.answers, self.in_flight, now),
                self.probe.wait(self.in_flight, now),
            ]
        return max(waits)

    def start(self, now: float, *, adaptive: bool) -> bool:
        """A request started (after :meth:`wait` said 0); True if it is one of the share's paced
        rest (:meth:`AccountShare.paced`)."""
        paced = adaptive and self.share.paced(self.answers, self.in_flight, now)
        self.in_flight += 1
        if adaptive:
            self.window.started(now, self.in_flight)
        return paced

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
            probed = self.probe.starved
            self.probe.throttled(
                now,
                clean=self.answers.clean,
                concurrency=self.window.concurrency,
                retry_after=slot.retry_after,
            )
            if probed or not self.window.may_cut(slot):
                self.share.grow(slot, now, last_cut=self.window.last_cut)
                return False
            self.window.cut(now)
            self.share.cut(
                now,
                clean=self.answers.clean,
                floor=self.window.window,
                held=slot.held,
                restart_hold=slot.paced,
            )
            return True
        if slot.clean:
            if self.probe.fed():
                self.share.end_hold(now)
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
    had, for a period). No pacing: a poll asks how many pages it may read now
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
            self.share.cut(now, clean=self.answers.clean, floor=1.0)
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


def wake(future: asyncio.Future[None]) -> None:
    """Settle a waiting coroutine's future, unless it already is (a timer and a release may
    both wake it)."""
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
        self.limits = AccountLimits(max_in_flight=max_in_flight, rate_limit=rate_limit, period=period)
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
            timer = None if math.isinf(slot) else loop.call_later(slot, wake, future)
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
                loop.call_soon_threadsafe(wake, future)
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
    :param adaptive: keep also to what the account learned (its window and share); False
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
        paced = self.account.limits.start(now, adaptive=self.adaptive)
        if budget is not None:
            budget.start()
        slot = Slot(now, budget, kind=request.kind if request is not None else "")
        slot.held = self.account.limits.in_flight
        slot.paced = paced
        return slot

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
