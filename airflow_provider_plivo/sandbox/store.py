"""What the sandbox holds: uploaded media, sent messages and the sandbox clock; thread-safe.

Messages are kept in the order they were queued, which is also the order of their times (each is
stamped under the store's lock as it goes in), with one such list per message type beside it. A
list request then finds its window of times by bisection instead of testing every message; only
filters on a message's current state or error code, which move on the clock, look at each message
in the window.
"""

from __future__ import annotations

import bisect
import operator
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from airflow_provider_plivo.limits import MEDIA_EXPIRY_HOURS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = ["MessageQuery", "SandboxStore", "StoredMedia", "StoredMessage"]


@dataclass(frozen=True)
class StoredMedia:
    """One uploaded file as the sandbox keeps it."""

    media_id: str
    file_name: str
    content_type: str
    data: bytes
    upload_time: datetime


@dataclass(frozen=True)
class StoredMessage:
    """One message (one destination number) as the sandbox keeps it.

    Numbers are kept as sent, with their '+' (``to_number`` in E.164), or masked as Plivo stores
    them for a send with ``log=false`` (``+141XXXXX528``); Plivo's records drop the '+'.
    """

    message_uuid: str
    from_number: str
    to_number: str
    text: str
    message_type: str
    media_ids: tuple[str, ...]
    queued_at: datetime
    final_state: str
    error_code: str | None
    """Plivo's error code once the final state is reached."""
    dequeued_at: datetime
    """When it leaves ``queued``: sent at the account's speed, or failed (expired, too large)."""
    units: int = 1
    charged: bool = True
    """False for messages Plivo fails before sending (expired in the queue, too large)."""


@dataclass(frozen=True)
class MessageQuery:
    """What a message list asks for: time bounds (operator, moment), a type, a direction."""

    bounds: Sequence[tuple[Callable[[datetime, datetime], bool], datetime]] = ()
    message_type: str | None = None
    message_direction: str | None = None


def _queued_at(message: StoredMessage) -> datetime:
    return message.queued_at


class SandboxStore:
    """Media, messages and the clock of one sandbox."""

    def __init__(self, *, clock_offset: timedelta = timedelta()) -> None:
        self._lock = threading.Lock()
        self._clock_offset = clock_offset
        self._media: dict[str, StoredMedia] = {}
        self._used_media: set[str] = set()
        self._messages: dict[str, StoredMessage] = {}
        self._in_order: list[StoredMessage] = []
        self._by_type: dict[str, list[StoredMessage]] = {}

    # -- the clock ----------------------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox clock: real UTC time plus however far :meth:`advance_clock` moved it."""
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        return datetime.now(timezone.utc) + self._clock_offset

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox clock by ``delta``: forward (past the 6-hour media expiry) or back."""
        with self._lock:
            self._clock_offset += delta

    # -- media --------------------------------------------------------------------------------

    def add_media(self, files: Iterable[tuple[str, str, bytes]]) -> list[StoredMedia]:
        """Store ``(file name, content type, data)`` files under fresh media IDs, uploaded now."""
        with self._lock:
            now = self._now()
            stored = [StoredMedia(str(uuid.uuid4()), name, kind, data, now) for name, kind, data in files]
            self._media.update((media.media_id, media) for media in stored)
        return stored

    def all_media(self) -> dict[str, StoredMedia]:
        """Every media file ever stored, expired or not (a snapshot)."""
        with self._lock:
            return dict(self._media)

    def live_media(self) -> dict[str, StoredMedia]:
        """The media Plivo still holds: used in a message, or uploaded within 6 hours."""
        with self._lock:
            cutoff = self._now() - timedelta(hours=MEDIA_EXPIRY_HOURS)
            return {
                media_id: media
                for media_id, media in self._media.items()
                if media_id in self._used_media or media.upload_time >= cutoff
            }

    # -- messages -----------------------------------------------------------------------------

    def add_messages(
        self, build: Callable[[datetime], Sequence[StoredMessage]], media_ids: Iterable[str]
    ) -> Sequence[StoredMessage]:
        """Queue the messages ``build`` makes for the time now, and mark ``media_ids`` used.

        The time is read under the lock, so the order messages go in is the order of their times.
        """
        with self._lock:
            queued = build(self._now())
            self._used_media.update(media_ids)
            for message in queued:
                self._messages[message.message_uuid] = message
                # insort, not append: a clock that steps back must not unsort the lists.
                bisect.insort_right(self._in_order, message, key=_queued_at)
                bisect.insort_right(
                    self._by_type.setdefault(message.message_type, []), message, key=_queued_at
                )
        return queued

    def message(self, message_uuid: str) -> StoredMessage | None:
        with self._lock:
            return self._messages.get(message_uuid)

    def all_messages(self) -> dict[str, StoredMessage]:
        """Every message sent so far, by message UUID, in the order queued (a snapshot)."""
        with self._lock:
            return dict(self._messages)

    def message_count(self) -> int:
        with self._lock:
            return len(self._messages)

    def newest_first(self, query: MessageQuery) -> Sequence[StoredMessage]:
        """The messages ``query`` asks for, newest first, without looking at each of them."""
        with self._lock:
            if query.message_direction not in (None, "outbound"):
                return ()
            listed = (
                self._in_order if query.message_type is None else self._by_type.get(query.message_type, [])
            )
            low, high = 0, len(listed)
            for compare, moment in query.bounds:
                if compare is operator.gt:
                    low = max(low, bisect.bisect_right(listed, moment, key=_queued_at))
                elif compare is operator.ge:
                    low = max(low, bisect.bisect_left(listed, moment, key=_queued_at))
                elif compare is operator.lt:
                    high = min(high, bisect.bisect_left(listed, moment, key=_queued_at))
                else:
                    high = min(high, bisect.bisect_right(listed, moment, key=_queued_at))
            return listed[low:high][::-1]
