"""A guard for tests of what must never block: they fail, instead of hanging the suite, where it would."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def never_blocked(seconds: int = 20) -> Iterator[None]:
    """Fail, rather than hang the suite, if the block does not return (an open() stuck on a FIFO)."""

    def stuck(*_: object) -> None:
        raise AssertionError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
