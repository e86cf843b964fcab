"""The sandbox's own account limits: 429 beyond N requests in any window, or beyond M at once, as
Plivo does beyond 300 per 5 s and 100 simultaneous requests; and the message list's own window
(Plivo's 20 per minute), which a list request must pass besides the account's.

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
    """At most ``max_requests`` arrivals in any ``period`` seconds: asked with :meth:`has_room`,
    counted with :meth:`count`; thread-safe."""

    max_requests: int
    period: float
    _arrivals: deque[float] = field(default_factory=deque, init=False, repr=False)
    """When each admitted request arrived, oldest first."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.period <= 0:
            raise ValueError(f"the sandbox's rate limit needs N >= 1 requests per S > 0 seconds, got {self}")

    def has_room(self, now: float) -> bool:
        """Whether one more arrival at ``now`` (monotonic) fits in the window."""
        with self._lock:
            while self._arrivals and self._arrivals[0] <= now - self.period:
                self._arrivals.popleft()
            return len(self._arrivals) < self.max_requests

    def count(self, now: float) -> None:
        """Count one arrival at ``now``, once :meth:`has_room` said it fits."""
        with self._lock:
            self._arrivals.append(now)


class AccountLimits:
    """
    Both of an account's limits; thread-safe.

    :param rate_limit: ``(requests, seconds)``: at most that many arrivals per window; None for none.
    :param max_in_flight: at most that many admitted requests being answered at once; None for none.
    :param message_list_rate_limit: ``(requests, seconds)`` for the message list on its own, on top
        of ``rate_limit``; None for none.
    """

    def __init__(
        self,
        rate_limit: tuple[int, float] | None,
        max_in_flight: int | None,
        message_list_rate_limit: tuple[int, float] | None = None,
    ) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"the sandbox's in-flight limit needs 1 or more requests, got {max_in_flight}")
        self.window = SlidingWindow(*rate_limit) if rate_limit else None
        self.list_window = SlidingWindow(*message_list_rate_limit) if message_list_rate_limit else None
        self.max_in_flight = max_in_flight
        self._in_flight = 0
        self._lock = threading.Lock()

    def admit(self, *, message_list: bool = False) -> bool:
        """Admit one request arriving now (True; :meth:`release` it once answered) or refuse it.

        A ``message_list`` request needs room in both windows; it is counted in both or in neither.
        """
        windows = [self.window, self.list_window if message_list else None]
        with self._lock:
            if self.max_in_flight is not None and self._in_flight >= self.max_in_flight:
                return False
            now = time.monotonic()
            if not all(window.has_room(now) for window in windows if window is not None):
                return False
            for window in windows:
                if window is not None:
                    window.count(now)
            self._in_flight += 1
            return True

    def release(self) -> None:
        """An admitted request was answered."""
        with self._lock:
            self._in_flight -= 1
