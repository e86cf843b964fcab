"""What the sandbox holds: uploaded media, sent messages and the sandbox clock; thread-safe.

Lists are answered from indexes, so a page costs about one page's work however many messages and
media are held. Messages are kept in the order they were queued, which is also the order of their
times (each is stamped under the store's lock as it goes in), with one such list per message type
and one per type and fate (final state and error code) beside it. A list request finds its window
of times by bisection and takes its page by position. Filters on a message's current state or
error code, which move on the clock, merge only the lists of the fates that can show that state,
newest first, and stop once the page (and whether another follows) is known, unless the answer
must count every match. Media are kept newest first, with the media a message used beside them:
the live ones are the recent part of the one and the older part of the other.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import operator
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from airflow_provider_plivo.limits import MEDIA_EXPIRY_HOURS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

__all__ = ["MessageQuery", "SandboxStore", "StateFilter", "StoredMedia", "StoredMessage"]


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


@dataclass(frozen=True)
class StateFilter:
    """A filter on what moves with the clock: which fates (final state, error code) can match at
    all, which match once reached, when a message that left the queue by then has surely reached
    its fate, and whether a message matches now."""

    fates: Callable[[str, str | None], bool]
    final: Callable[[str, str | None], bool]
    settled_by: datetime
    matches: Callable[[StoredMessage], bool]


def _queued_at(message: StoredMessage) -> datetime:
    return message.queued_at


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SandboxStore:
    """Media, messages and the clock of one sandbox."""

    def __init__(self, *, clock_offset: timedelta = timedelta()) -> None:
        self._lock = threading.Lock()
        self._clock_offset = clock_offset
        self._media: dict[str, StoredMedia] = {}
        self._media_listed: list[StoredMedia] = []
        """Every media file, newest first."""
        self._used_media: set[str] = set()
        self._used_listed: list[StoredMedia] = []
        """The media used in a message, newest first: kept past the 6-hour expiry."""
        self._media_order: dict[str, int] = {}
        """Each file's place among all uploaded: one upload's files list in the order they came."""
        self._messages: dict[str, StoredMessage] = {}
        self._in_order: list[StoredMessage] = []
        self._by_type: dict[str, list[StoredMessage]] = {}
        self._by_fate: dict[tuple[str, str, str | None], list[StoredMessage]] = {}
        """Per (type, final state, error code), in the order queued."""
        self._left_by: dict[tuple[str, str, str | None], list[datetime]] = {}
        """Beside each of :attr:`_by_fate`'s lists: the latest ``dequeued_at`` of its messages up to
        each one, so the messages settled in their fate are a prefix found by bisection."""
        self._sequence: dict[str, int] = {}
        """Each message's place in :attr:`_in_order` among those of its time: merges keep it."""
        self._count = itertools.count()

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
            for media in stored:
                self._media_order[media.media_id] = next(self._count)
                bisect.insort_right(self._media_listed, media, key=self._newest_first)
        return stored

    def all_media(self) -> dict[str, StoredMedia]:
        """Every media file ever stored, expired or not (a snapshot)."""
        with self._lock:
            return dict(self._media)

    def live_media(self, media_ids: Iterable[str]) -> dict[str, StoredMedia]:
        """Those of ``media_ids`` Plivo still holds: used in a message, or uploaded within 6 hours."""
        with self._lock:
            cutoff = self._now() - timedelta(hours=MEDIA_EXPIRY_HOURS)
            return {
                media_id: media
                for media_id in media_ids
                if (media := self._media.get(media_id)) is not None
                and (media_id in self._used_media or media.upload_time >= cutoff)
            }

    def media_page(self, offset: int, limit: int) -> tuple[list[StoredMedia], int]:
        """The live media at ``offset`` (newest first, one upload's files in their order), at most
        ``limit`` of them, and how many are live."""
        with self._lock:
            edge = (_EPOCH - (self._now() - timedelta(hours=MEDIA_EXPIRY_HOURS)), math.inf)
            recent = bisect.bisect_right(self._media_listed, edge, key=self._newest_first)
            old_used = self._used_listed[
                bisect.bisect_right(self._used_listed, edge, key=self._newest_first) :
            ]
            page = self._media_listed[offset : min(recent, offset + limit)]
            page += old_used[max(0, offset - recent) : max(0, offset + limit - recent)]
            return page, recent + len(old_used)

    def _newest_first(self, media: StoredMedia) -> tuple[timedelta, float]:
        """Sorts media newest first, and those of one moment (one upload) in the order they came."""
        return _EPOCH - media.upload_time, self._media_order[media.media_id]

    # -- messages -----------------------------------------------------------------------------

    def add_messages(
        self, build: Callable[[datetime], Sequence[StoredMessage]], media_ids: Iterable[str]
    ) -> Sequence[StoredMessage]:
        """Queue the messages ``build`` makes for the time now, and mark ``media_ids`` used.

        The time is read under the lock, so the order messages go in is the order of their times.
        """
        with self._lock:
            queued = build(self._now())
            for media_id in set(media_ids) - self._used_media:
                if (media := self._media.get(media_id)) is not None:
                    bisect.insort_right(self._used_listed, media, key=self._newest_first)
            self._used_media.update(media_ids)
            for message in queued:
                self._messages[message.message_uuid] = message
                self._sequence[message.message_uuid] = next(self._count)
                fate = (message.message_type, message.final_state, message.error_code)
                # insort, not append: a clock that steps back must not unsort the lists.
                for listed in (self._in_order, self._by_type.setdefault(message.message_type, [])):
                    bisect.insort_right(listed, message, key=_queued_at)
                listed = self._by_fate.setdefault(fate, [])
                at = bisect.bisect_right(listed, message.queued_at, key=_queued_at)
                listed.insert(at, message)
                left_by = self._left_by.setdefault(fate, [])
                left_by.insert(at, message.dequeued_at)
                for later in range(max(at, 1), len(left_by)):
                    left_by[later] = max(left_by[later - 1], listed[later].dequeued_at)
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

    def message_page(
        self,
        query: MessageQuery,
        offset: int,
        limit: int,
        *,
        state: StateFilter | None = None,
        count: bool = True,
    ) -> tuple[list[StoredMessage], int]:
        """The messages ``query`` (and ``state``, if given) asks for at ``offset``, newest first, at
        most ``limit`` of them, and how many match: all of them with ``count``, else only as many
        as tell whether another page follows (``offset + limit + 1`` at most)."""
        with self._lock:
            if query.message_direction not in (None, "outbound"):
                return [], 0
            if state is None:
                listed = (
                    self._in_order
                    if query.message_type is None
                    else self._by_type.get(query.message_type, [])
                )
                low, high = _window(listed, query)
                newest = high - offset
                return listed[max(low, newest - limit) : max(low, newest)][::-1], high - low
            sources: list[Iterator[StoredMessage]] = []
            total = 0
            for fate, listed in self._by_fate.items():
                message_type, final_state, error_code = fate
                if query.message_type not in (None, message_type) or not state.fates(final_state, error_code):
                    continue
                low, high = _window(listed, query)
                settled = min(max(low, bisect.bisect_right(self._left_by[fate], state.settled_by)), high)
                # Newest first: those still on their way are tested one by one; the settled ones
                # all match or none do.
                moving = filter(state.matches, _reversed(listed, settled, high))
                if state.final(final_state, error_code):
                    sources.append(itertools.chain(moving, _reversed(listed, low, settled)))
                    total += settled - low
                else:
                    sources.append(moving)
                if count:
                    total += sum(1 for at in range(settled, high) if state.matches(listed[at]))
            sequence = self._sequence
            merged = heapq.merge(
                *sources, key=lambda m: (m.queued_at, sequence[m.message_uuid]), reverse=True
            )
            page = list(itertools.islice(merged, offset, offset + limit))
            if count:
                return page, total
            # Without the count, only whether another page follows: one more match says so.
            return page, offset + len(page) + len(list(itertools.islice(merged, 1))) if page else offset


def _window(listed: Sequence[StoredMessage], query: MessageQuery) -> tuple[int, int]:
    """Where the messages of ``query``'s time bounds lie in ``listed`` (in the order queued)."""
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
    return low, high


def _reversed(listed: Sequence[StoredMessage], low: int, high: int) -> Iterator[StoredMessage]:
    """``listed[low:high]`` newest first, read one by one: a merge may stop after a few."""
    return (listed[at] for at in range(high - 1, low - 1, -1))
