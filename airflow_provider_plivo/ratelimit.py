"""A sliding-window request limiter, shared by every thread of one hook (and by the sandbox).

Plivo allows 300 API requests per 5 seconds per account and answers 429 beyond. Spacing our
own requests under that bound means a task never provokes a 429 on its own; a 429 that still
comes (other tasks share the account) is retried like any other.
"""

from __future__ import annotations

import threading
import time
from collections import deque

CLIENT_JITTER_SLACK = 0.1
"""Seconds clients add to Plivo's window, so that jitter between our send times and Plivo's
arrival times (thread scheduling, the network) cannot push one request too many into a window."""


class RateLimiter:
    """
    At most ``max_requests`` may start in any ``period`` (plus ``slack``) seconds.

    :param max_requests: requests allowed per window.
    :param period: the window, in seconds.
    :param slack: seconds added to the window (see :data:`CLIENT_JITTER_SLACK`).
    """

    def __init__(self, max_requests: int, period: float, *, slack: float = 0.0) -> None:
        if max_requests < 1 or period <= 0:
            raise ValueError(
                f"a rate limit needs at least 1 request per period > 0, got {max_requests}/{period}"
            )
        self.max_requests = max_requests
        self.period = period + slack
        self._started: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        """Count one request if it fits in the window now and return 0.0; otherwise count
        nothing and return the seconds until it would fit."""
        with self._lock:
            now = time.monotonic()
            while self._started and self._started[0] <= now - self.period:
                self._started.popleft()
            if len(self._started) < self.max_requests:
                self._started.append(now)
                return 0.0
            return self._started[0] + self.period - now

    def acquire(self) -> None:
        """Wait until one more request fits in the window, then count it."""
        while (delay := self.try_acquire()) > 0:
            time.sleep(delay)
