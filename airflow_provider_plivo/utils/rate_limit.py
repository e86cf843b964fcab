"""How many requests one hook keeps in flight and starts per period, shared by all its threads.

Plivo allows 100 simultaneous requests and 300 per 5 seconds per account, answers 429 beyond
either, and tells no one who else is using the account. A hook alone should use all of that; a
hook sharing the account with other tasks should take its part without a storm of 429s. No fixed
number does both, so the limiter learns, as TCP's congestion control and botocore's "adaptive"
retry mode do. It never passes ``max_concurrency`` in flight or ``rate_limit`` per period.

* **Concurrency** starts at :data:`INITIAL_CONCURRENCY` and grows by one per clean answer (it
  doubles every round trip) until the first throttle, then by one per round trip. It grows only
  while it alone holds the hook back and answers come within 1.5 times the fastest round trip
  of the last period (successful answers only: a refusal may come before the body is read); an
  answer more than twice that slow takes a step back (down to the start): requests are
  queueing, and every request on its way when the account fills comes back a 429. A throttle
  halves it.
* **Rate**: each request is dated by its answer, so that Plivo, which saw it no later, never
  counts more than ``rate_limit`` in a period. A sixth of ``rate_limit`` may start at once, the
  rest evenly over the period: when other tasks fill the account first, the requests already on
  their way are few. After a whole period without a throttle the pace is a full ``rate_limit``
  per period. A throttle sets this hook's share of the period to
  the clean answers it got in the last period (requests already on their way are added as they
  come back clean), the part of the account it had when the account was full, and at least its
  new concurrency: the hook then waits for its own requests to age out, not for everyone's. The
  share holds for one period, then grows by one per clean answer, back up to ``rate_limit``.
  Without a ``rate_limit`` there is no share either.
* A **throttle** is a 429 or a 503. Its ``Retry-After`` holds every new request of the hook,
  adaptive or not. Only a request started after the last cut can cut again, so that a burst of
  429s from one round trip counts once. Plivo answers 429 for both limits alike; every 429 is
  taken as a full period.

``adaptive=False`` keeps ``max_concurrency`` and ``rate_limit`` as fixed limits instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from airflow_provider_plivo.progress import Log

__all__ = ["INITIAL_CONCURRENCY", "RequestLimiter", "Slot"]

INITIAL_CONCURRENCY = 32
"""Requests in flight an adaptive hook starts with: a third of Plivo's 100, so that three tasks
starting together on one account stay within it, while a hook alone sends 320 files in its first
round trip. (16, the fixed default before adaptation, needs a second round trip for 400 files.)"""

CONCURRENCY_CUT = 0.5
"""What a throttle leaves of the concurrency, as TCP halves its window on loss."""

PACING_BURST = 1 / 6
"""The part of ``rate_limit`` an adaptive hook may start at once; the rest of a period's worth is
paced evenly over the period (for Plivo's 300 per 5 s: 50 at once, then 50 per second; after a
period without a throttle, 60 per second, within 300 in any 5 s)."""

FAST_ANSWER = 1.5
"""While answers come within this many times the fastest round trip of the last period, the
concurrency may grow."""

SLOW_ANSWER = 2.0
"""Once answers come beyond this many times the fastest round trip of the last period, it takes
steps back."""

ROUND_TRIP_WEIGHT = 1 / 8
"""How much each answer moves the smoothed round trip (TCP's SRTT gain)."""

ASYNC_POLL_SECONDS = 0.02
"""How often a coroutine waiting for an answer to free a place looks again: an answer wakes
threads, not coroutines. (A wait of known length is slept whole.)"""

THROTTLE_STATUSES = (429, 503)
"""Answers that say the account is too busy (Plivo's limits, or Plivo itself)."""


class Slot:
    """One request's place; tell it Plivo's answer when it comes (no answer leaves it neutral)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.status: int | None = None
        self.retry_after: float | None = None

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


class RequestLimiter:
    """
    The places for one hook's requests to Plivo, shared by all its threads (and coroutines).

    :param max_concurrency: the most requests in flight at once.
    :param rate_limit: the most requests started in any ``rate_limit_period``; None for none.
    :param rate_limit_period: the window of ``rate_limit``, in seconds.
    :param adaptive: learn from Plivo's answers, within those limits; False keeps them fixed.
    :param log: where throttles and the limits the hook settled on are reported.
    """

    def __init__(
        self,
        *,
        max_concurrency: int,
        rate_limit: int | None,
        rate_limit_period: float,
        adaptive: bool = True,
        log: Log | None = None,
    ) -> None:
        if max_concurrency < 1 or (rate_limit is not None and rate_limit < 1) or rate_limit_period <= 0:
            raise ValueError(
                "a request limit needs 1 or more requests in flight and per period > 0, got "
                f"{max_concurrency} in flight, {rate_limit}/{rate_limit_period}"
            )
        self.max_concurrency = max_concurrency
        self.rate_limit = rate_limit
        self.period = rate_limit_period
        self.adaptive = adaptive
        self.log = log
        self.throttles = 0
        """Throttled answers (429, 503) absorbed so far."""
        self._lock = threading.Condition()
        self._initial = min(INITIAL_CONCURRENCY, max_concurrency) if adaptive else max_concurrency
        self._window = float(self._initial)
        self._slow_start_until = math.inf
        """The concurrency up to which it grows by one per answer (until the first throttle)."""
        self._fastest: deque[tuple[float, float]] = deque()
        """(when, round trip) of successful answers in the last period whose round trip no later
        answer beat: the first is the fastest of the period (a sliding-window minimum)."""
        self._round_trip = 0.0
        """The round trip of successful answers, smoothed as TCP does (each answer weighs 1/8): one
        fast answer among slow ones says nothing about the queue."""
        self._filled = -math.inf
        """When a request last took the last place of the concurrency while the pace had room to
        spare: when the concurrency, and nothing else, held the hook back."""
        self._share = math.inf if rate_limit is None else float(rate_limit)
        self._share_held_until = 0.0
        self._last_cut = -math.inf
        self._paused_until = 0.0
        self._in_flight = 0
        self._answers: deque[tuple[float, bool]] = deque()
        """(when, clean) for every request answered or failed in the last period, oldest first."""
        self._clean = 0
        """How many of :attr:`_answers` are clean."""
        self._burst = self._full_pace = math.inf
        if adaptive and rate_limit is not None:
            self._burst = max(1.0, rate_limit * PACING_BURST)
            self._full_pace = rate_limit / rate_limit_period
            """Requests started per second in the long run."""
        self._calm_since: float | None = None
        """When the first request started, or the last cut came."""
        self._tokens = self._burst
        self._tokens_at = time.monotonic()
        self._reported = (self._initial, 0)

    def __repr__(self) -> str:
        return (
            f"RequestLimiter({self.concurrency} in flight of {self.max_concurrency}, "
            f"{self.rate} per {self.period:g} s of {self.rate_limit}, adaptive={self.adaptive})"
        )

    @property
    def concurrency(self) -> int:
        """Requests allowed in flight now."""
        return max(1, int(self._window))

    @property
    def rate(self) -> int | None:
        """Requests this hook may start per period now; None for no limit."""
        return None if math.isinf(self._share) else max(1, int(self._share))

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """Wait for a place, hold it while the request is out, and learn from its answer."""
        with self._lock:
            while not isinstance(slot := self._try_start(), Slot):
                self._lock.wait(None if math.isinf(slot) else slot)
        try:
            yield slot
        finally:
            self._finish(slot)

    @asynccontextmanager
    async def aslot(self) -> AsyncIterator[Slot]:
        """:meth:`slot` for a coroutine: waits without blocking the event loop."""
        import asyncio

        while True:
            with self._lock:
                slot = self._try_start()
            if isinstance(slot, Slot):
                break
            await asyncio.sleep(ASYNC_POLL_SECONDS if math.isinf(slot) else slot)
        try:
            yield slot
        finally:
            self._finish(slot)

    def _try_start(self) -> Slot | float:
        """Take a place, or return the seconds until one may be free (inf: an answer must come
        first). Called with the lock held."""
        now = time.monotonic()
        self._expire(now)
        pace = self._pace(now)
        if pace < math.inf:
            self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * pace)
            self._tokens_at = now
        waits = [math.inf] if self._in_flight >= self.concurrency else []
        if now < self._paused_until:
            waits.append(self._paused_until - now)
        if self.rate_limit is not None and len(self._answers) + self._in_flight >= self.rate_limit:
            waits.append(self._answers[0][0] + self.period - now if self._answers else math.inf)
        if self._clean + self._in_flight >= self._share:
            waits.append(self._oldest_clean() + self.period - now if self._clean else math.inf)
        if self._tokens < 1:
            waits.append((1 - self._tokens) / pace)
        if waits:
            return max(waits)
        if self._calm_since is None:
            self._calm_since = now
        self._in_flight += 1
        self._tokens -= 1
        if self._in_flight >= self.concurrency and self._tokens >= 1:
            self._filled = now
        return Slot(now)

    def _pace(self, now: float) -> float:
        """Requests started per second once the burst is spent: until the hook has gone a whole
        period without a throttle, what is left of a period's worth after the burst (the first
        period then holds ``rate_limit`` in all, and tasks that meet on the account find few of
        each other's requests on their way); after that, a whole period's worth."""
        if self._calm_since is None or now - self._calm_since < self.period:
            return self._full_pace * (1 - PACING_BURST)
        return self._full_pace

    def _finish(self, slot: Slot) -> None:
        """Release ``slot``'s place, adapt to its answer, and report a change when it matters."""
        with self._lock:
            now = time.monotonic()
            self._in_flight -= 1
            self._expire(now)
            self._answers.append((now, slot.clean))
            self._clean += slot.clean
            cut = False
            if slot.throttled:
                self.throttles += 1
                if slot.retry_after is not None:
                    self._paused_until = max(self._paused_until, now + slot.retry_after)
                cut = self.adaptive and slot.started > self._last_cut
                if cut:
                    self._cut(now)
            elif slot.clean and self.adaptive:
                self._grow(slot, now)
            self._lock.notify_all()
            # Once the hook falls idle (the end of a batch, or a pause), say where it settled if
            # its concurrency or throttles changed: the share alone grows with every clean answer.
            changed = (self.concurrency, self.throttles)
            settled = self._in_flight == 0 and changed != self._reported
            if cut or settled:
                self._reported = changed
                report = self.describe()
        if self.log is not None and (cut or settled):
            self.log.info(
                "%s: %s", f"Plivo throttled a request (HTTP {slot.status})" if cut else "Settled", report
            )

    def describe(self) -> str:
        """Where the hook stands, for the person watching the log."""
        return (
            f"at most {self.concurrency} requests to Plivo in flight and {self.rate or 'any number'} "
            f"per {self.period:g} s; {self.throttles} throttled answers (429, 503) absorbed"
        )

    def _grow(self, slot: Slot, now: float) -> None:
        """A clean answer. More concurrency if it alone held the hook back while the answer was
        awaited and the answer came about as fast as ever; less, down to the start, if it came
        much slower. More share once its hold is over, or at once for a request the account took
        before it was full (part of the share the account gave us)."""
        if slot.status is not None and slot.status < 300:
            self._time(now - slot.started, now)
        fastest = self._fastest[0][1] if self._fastest else math.inf
        if self._round_trip > SLOW_ANSWER * fastest:
            self._window = max(min(float(self._initial), self._window), self._window - 1.0)
        elif self._filled >= slot.started and self._round_trip <= FAST_ANSWER * fastest:
            step = 1.0 if self._window < self._slow_start_until else 1.0 / self._window
            self._window = min(float(self.max_concurrency), self._window + step)
        if (slot.started < self._last_cut or now >= self._share_held_until) and not math.isinf(self._share):
            self._share = min(self._share + 1.0, float(self.rate_limit or math.inf))

    def _time(self, round_trip: float, now: float) -> None:
        """Learn from a successful answer's round trip: the smoothed round trip, and the fastest
        of the last period (older ones say nothing of the queue now)."""
        self._round_trip += (round_trip - self._round_trip) * (
            1.0 if self._round_trip == 0 else ROUND_TRIP_WEIGHT
        )
        while self._fastest and self._fastest[-1][1] >= round_trip:
            self._fastest.pop()
        self._fastest.append((now, round_trip))
        while self._fastest[0][0] <= now - self.period:
            self._fastest.popleft()

    def _cut(self, now: float) -> None:
        """A throttle: halve the concurrency, and keep to the share the account gave us."""
        self._window = max(1.0, self._window * CONCURRENCY_CUT)
        self._slow_start_until = self._window
        if self.rate_limit is not None:
            self._share = max(float(self._clean), self._window)
        self._share_held_until = now + self.period
        self._last_cut = self._calm_since = now

    def _expire(self, now: float) -> None:
        while self._answers and self._answers[0][0] <= now - self.period:
            _, clean = self._answers.popleft()
            self._clean -= clean

    def _oldest_clean(self) -> float:
        return next(when for when, clean in self._answers if clean)
