"""The shapes this provider hands to downstream tasks (XCom) and returns from the hook."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["MediaRecord", "MessageRecord"]


class MediaRecord(TypedDict):
    """One uploaded file: XCom key ``media`` of the upload operator, one per input file."""

    file: str
    """The file as the user named it (path or URI)."""
    media_id: str
    media_url: str | None
    """Where Plivo serves the file (Plivo's ``media_url``, or ``url`` in older answers)."""
    content_type: str | None
    size: int | None
    upload_time: str | None
    file_name: str
    """The base name sent to Plivo."""


class MessageRecord(TypedDict):
    """Who got which message: XCom key ``messages`` of the send operator, one per number."""

    number: str
    message_uuid: str
