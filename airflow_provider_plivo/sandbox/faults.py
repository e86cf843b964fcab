"""Faults the sandbox can inject into upload and send requests, scripted by number or at random.

Each kind models something Plivo or the network between does; what it does to the store
matters for tests that count lost files and duplicates:

=================  ===================================================  ================
kind               the client sees                                      media stored?
=================  ===================================================  ================
``400``            HTTP 400 with Plivo's error body (not retryable)     no
``500``/``503``    HTTP 500/503 with Plivo's error body                 no
``429``            HTTP 429 "too many requests", no ``Retry-After``     no
``429-retry``      HTTP 429 with ``Retry-After: 1``                     no
``html-502``       HTTP 502 with an HTML page from a gateway            no
``truncated``      HTTP 200 whose JSON body is cut short                no
``reset``          the connection reset before any answer               no
``lost``           the connection reset after the upload was stored     yes
``hang``           no answer until ``hang_seconds`` pass, then a reset  no
``failed-object``  HTTP 200, but the first file's object has failed     all but that one
=================  ===================================================  ================

On sends (``message_faults``) the same kinds apply, "stored" meaning the message was queued,
except ``failed-object``.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

FAULT_KINDS = (
    "400",
    "500",
    "503",
    "429",
    "429-retry",
    "html-502",
    "truncated",
    "reset",
    "lost",
    "hang",
    "failed-object",
)
MESSAGE_FAULT_KINDS = tuple(kind for kind in FAULT_KINDS if kind != "failed-object")
"""Kinds a send can get: it has no per-file objects to fail."""
RANDOM_FAULT_KINDS = ("500", "503", "429", "reset", "lost")
"""Kinds drawn by ``fault_rate`` unless others are named: all recoverable by a retry."""


class FaultPlan:
    """Decides which upload request gets which fault; thread-safe.

    :param scripted: upload request number (1-based) -> fault kind.
    :param rate: chance, 0 to 1, that an unscripted upload request gets a random fault.
    :param seed: seed for the random faults, so a run can be repeated exactly.
    :param random_kinds: the kinds random faults are drawn from.
    :param kinds: the kinds this plan accepts.
    """

    def __init__(
        self,
        scripted: Mapping[int, str] | None = None,
        *,
        rate: float = 0.0,
        seed: int | None = None,
        random_kinds: Iterable[str] = RANDOM_FAULT_KINDS,
        kinds: Iterable[str] = FAULT_KINDS,
    ) -> None:
        self._kinds = tuple(kinds)
        self._scripted = dict(scripted or {})
        self._random_kinds = tuple(random_kinds)
        for kind in (*self._scripted.values(), *self._random_kinds):
            check_fault_kind(kind, self._kinds)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        self._rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._uploads = 0
        self.injected: list[tuple[int, str]] = []
        """(upload request number, kind) for every fault injected so far."""

    def script(self, faults: Mapping[int, str]) -> None:
        """Add scripted faults: upload request number (1-based, counted from the start) -> kind."""
        for kind in faults.values():
            check_fault_kind(kind, self._kinds)
        with self._lock:
            self._scripted.update(faults)

    def next_request(self) -> str | None:
        """Count one request and return the fault it gets, if any."""
        with self._lock:
            self._uploads += 1
            kind = self._scripted.get(self._uploads)
            if kind is None and self._rate and self._random.random() < self._rate:
                kind = self._random.choice(self._random_kinds)
            if kind is not None:
                self.injected.append((self._uploads, kind))
            return kind


def check_fault_kind(kind: str, kinds: Iterable[str] = FAULT_KINDS) -> str:
    """Return ``kind`` if it is one of ``kinds``; otherwise say which kinds are known."""
    known = tuple(kinds)
    if kind not in known:
        raise ValueError(f"unknown fault kind {kind!r}; known kinds: {', '.join(known)}")
    return kind
