"""Log wording shared by the uploader and the sender."""

from __future__ import annotations


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``"1 file"``, ``"3 files"``, ``"2 retries"``."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"
