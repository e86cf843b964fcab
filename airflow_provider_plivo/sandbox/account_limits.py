"""The sandbox's own account limits: 429 beyond N requests in any window, or beyond M at once, as
Plivo does beyond 300 per 5 s and 100 simultaneous requests.

The server's view differs from a client's: it only counts arrivals and refuses the surplus, where
a client waits for room. So the sandbox keeps these counters instead of borrowing the client's
limiter, and neither side's change can hide a bug in the other. A refused request counts toward
neither limit: Plivo answers it at once, without doing its work.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["AccountLimits", "SlidingWindow"]


@dataclass
class SlidingWindow:
    """Admits at most ``max_requests`` arrivals in any ``period`` seconds; thread-safe."""

    max_requests: int
    period: float
    _arrivals: deque[float] = field(default_factory=deque, init=False, repr=False)
    """When each admitted request arrived, oldest first."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.period <= 0:
            raise ValueError(f"the sandbox's rate limit needs N >= 1 requests per S > 0 seconds, got {self}")

    def admit(self) -> bool:
        """Count one request arriving now and return True if the window has room; else False."""
        with self._lock:
            now = time.monotonic()
            while self._arrivals and self._arrivals[0] <= now - self.period:
                self._arrivals.popleft()
            if len(self._arrivals) >= self.max_requests:
                return False
            self._arrivals.append(now)
            return True


class AccountLimits:
    """
    Both of an account's limits; thread-safe.

    :param rate_limit: ``(requests, seconds)``: at most that many arrivals per window; None for none.
    :param max_in_flight: at most that many admitted requests being answered at once; None for none.
    """

    def __init__(self, rate_limit: tuple[int, float] | None, max_in_flight: int | None) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"the sandbox's in-flight limit needs 1 or more requests, got {max_in_flight}")
        self.window = SlidingWindow(*rate_limit) if rate_limit else None
        self.max_in_flight = max_in_flight
        self._in_flight = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Admit one request arriving now (True; :meth:`release` it once answered) or refuse it."""
        with self._lock:
            if self.max_in_flight is not None and self._in_flight >= self.max_in_flight:
                return False
            if self.window is not None and not self.window.admit():
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        """An admitted request was answered."""
        with self._lock:
            self._in_flight -= 1
