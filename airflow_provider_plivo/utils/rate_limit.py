"""Sliding-window request limits: the client's (shared by every thread of one hook) and the
sandbox's (which answers 429 beyond it, as Plivo does).

Plivo allows 300 API requests per 5 seconds per account and answers 429 beyond. Spacing our
own requests under that bound means a task never provokes a 429 on its own; a 429 that still
comes (other tasks share the account) is retried like any other.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class RateLimiter:
    """
    At most ``max_requests`` in any ``period`` seconds.

    :param max_requests: requests allowed per window.
    :param period: the window, in seconds.
    """

    def __init__(self, max_requests: int, period: float) -> None:
        if max_requests < 1 or period <= 0:
            raise ValueError(
                f"a rate limit needs 1 or more requests per period > 0, got {max_requests}/{period}"
            )
        self.max_requests = max_requests
        self.period = period
        self._times: deque[float] = deque()
        """When each counted request happened, oldest first."""
        self._in_flight = 0
        self._changed = threading.Condition()

    def try_acquire(self) -> float:
        """Count one request arriving now if it fits and return 0.0; otherwise count nothing and
        return the seconds until it would fit. (The server's view: it sees arrivals.)"""
        with self._changed:
            now = time.monotonic()
            self._expire(now)
            if len(self._times) < self.max_requests:
                self._times.append(now)
                return 0.0
            return self._times[0] + self.period - now

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request's place from before it is sent until it is answered (or fails), and
        date it by that moment. Plivo saw it no later than that, so by Plivo's clock the window
        never holds more than ``max_requests``, however late the request went out."""
        with self._changed:
            while True:
                now = time.monotonic()
                self._expire(now)
                if len(self._times) + self._in_flight < self.max_requests:
                    self._in_flight += 1
                    break
                self._changed.wait(self._times[0] + self.period - now if self._times else None)
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._times.append(time.monotonic())
                self._changed.notify_all()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
