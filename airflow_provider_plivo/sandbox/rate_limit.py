"""The sandbox's own account limit: 429 beyond N requests in any window, as Plivo does beyond 300/5 s.

The server's view differs from a client's: it only counts arrivals and refuses the surplus, where
a client waits for room. So the sandbox keeps this counter instead of borrowing the client's
limiter, and neither side's change can hide a bug in the other.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["SlidingWindow"]


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
