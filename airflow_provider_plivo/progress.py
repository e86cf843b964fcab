"""How progress is worded for the person watching a long job: counts, retry summaries, and the
logger protocol the transport, media and message layers report through."""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

__all__ = ["Log", "count_reasons", "counted"]


class Log(Protocol):
    """What the layers below the hook log through: a :class:`logging.Logger`, or a hook's ``log``."""

    def info(self, msg: str, /, *args: Any) -> object: ...

    def warning(self, msg: str, /, *args: Any) -> object: ...


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``"1 file"``, ``"3 files"``, ``"2 retries"``."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def count_reasons(reasons: list[str]) -> str:
    """``"2 x HTTP 503, 1 x connection error"``."""
    return ", ".join(f"{count} x {reason}" for reason, count in Counter(reasons).items())
