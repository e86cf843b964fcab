"""Finding the files a killed try may have stored: a plan of the core (see
:mod:`airflow_provider_plivo.transport.core`), written once for both drivers.

An upload records which files are about to go before each wave of requests (its *intent*), and
each file's media record once Plivo answered. A try killed in between (SIGKILL, a lost worker)
leaves files with intent but no record: Plivo may or may not have stored them. A later try
looks for them in Plivo's media list, by file name, size and an upload time no earlier than the
intent, and reuses what it finds; what it cannot find is uploaded again.

Media, unlike messages, is free to duplicate (an unused copy expires after 6 hours and costs
nothing), so where the list cannot prove a file was not stored, it is uploaded again rather than
the task failing: a copy too many at worst, never a file missing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_plivo.limits import MEDIA_PAGE_SIZE
from airflow_provider_plivo.progress import counted
from airflow_provider_plivo.transport.clock import (
    RECONCILE_MARGIN,
    UNKNOWN_CLOCK_MARGIN,
    plivo_clock,
    plivo_time,
)
from airflow_provider_plivo.transport.core import Pages, Request

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.transport.core import Plan

__all__ = ["RECONCILE_MAX_PAGES", "InDoubt", "reconcile_uploads"]

RECONCILE_MAX_PAGES = 250
"""The most pages of Plivo's media list one reconciliation reads (5,000 media, about 4 s at
Plivo's 300 requests per 5 s); files not settled by then are uploaded again."""


class InDoubt(NamedTuple):
    """A file an earlier try was about to upload, with no record that Plivo stored it."""

    source: str
    file_name: str
    """The name Plivo stores it under (the file's base name)."""
    size: int
    intended: datetime
    """When its wave was about to go, on the worker's clock (UTC)."""


class _Found(NamedTuple):
    """What the list showed for one (file name, size) in doubt."""

    sources: list[str]
    objects: list[dict[str, Any]]


def reconcile_uploads(in_doubt: Sequence[InDoubt], log: Log) -> Plan[dict[str, dict[str, Any]]]:
    """Plivo's media object for each file of ``in_doubt`` that Plivo's media list proves stored:
    source -> object. The others are not in the answer: upload them again.

    A file is proved stored when exactly one object in the list has its name and size and an
    upload time no earlier than its intent on Plivo's clock (less :data:`RECONCILE_MARGIN`), and
    no other file in doubt has that name and size (two would be told apart by nothing).

    Plivo documents no order for the list. It is read from the start: newest first (what the
    sandbox and Plivo's recordings show), it ends at the first object older than the window;
    oldest first, the window's start is found by bisecting offsets, then read to the end. At
    most :data:`RECONCILE_MAX_PAGES` pages either way.
    """
    clock = yield from plivo_clock(log)
    margin = RECONCILE_MARGIN if clock else UNKNOWN_CLOCK_MARGIN
    ahead = clock.ahead if clock else timedelta()
    since = {f.source: f.intended + ahead - margin for f in in_doubt}
    start = min(since.values())
    found: dict[tuple[str, int], _Found] = {}
    for f in in_doubt:
        found.setdefault((f.file_name, f.size), _Found([], [])).sources.append(f.source)

    def take(objects: Sequence[dict[str, Any]]) -> None:
        for obj in objects:
            entry = found.get((str(obj.get("file_name") or ""), _size(obj.get("size"))))
            uploaded = plivo_time(obj.get("upload_time"))
            if entry is None or uploaded is None or not obj.get("media_id"):
                continue
            if any(uploaded >= since[source] for source in entry.sources):
                entry.objects.append(obj)

    pages = Pages("Media/", {}, page_size=MEDIA_PAGE_SIZE)
    read = count = 0
    order: str | None = None
    times: list[datetime] = []
    while not pages.finished and count < RECONCILE_MAX_PAGES:
        objects = pages.take((yield pages.request()))
        count, read = count + 1, read + len(objects)
        take(objects)
        times.extend(t for t in map(plivo_time, (o.get("upload_time") for o in objects)) if t)
        order = order or _order(times)
        _progress(log, in_doubt, count, read, found)
        if order == "newest first" and times and times[-1] < start:
            break  # every later object is older still
        if order == "oldest first" and count == 1 and times[-1] < start and not pages.finished:
            # The window is at the far end: find where it starts instead of reading up to it.
            offset, probes = yield from _window_start(pages.offset, start)
            count += probes
            pages.offset = max(pages.offset, offset)
    complete = pages.finished or (order == "newest first" and bool(times) and times[-1] < start)
    proved: dict[str, dict[str, Any]] = {}
    for entry in found.values():
        if len(entry.sources) == 1 and len(entry.objects) == 1:
            proved[entry.sources[0]] = entry.objects[0]
    log.info(
        "Reconciled %s with Plivo's media list (%s, %d list requests, %s read%s): %d found stored",
        counted(len(in_doubt), "file"),
        order or "order not seen",
        count,
        counted(read, "object"),
        "" if complete else f"; stopped at {RECONCILE_MAX_PAGES} pages",
        len(proved),
    )
    return proved


def _window_start(known: int, start: datetime) -> Plan[tuple[int, int]]:
    """In a list read oldest first whose objects before offset ``known`` are all older than
    ``start``: an offset at or before the first object of ``start`` or later, and the requests
    it took (one object each, offsets doubling past the end, then halving back)."""
    low, high, probes = known, None, 0
    step = max(known, MEDIA_PAGE_SIZE)
    while high is None or high - low > MEDIA_PAGE_SIZE:
        probe = low + step if high is None else (low + high) // 2
        answer = yield Request("GET", "Media/", params={"limit": 1, "offset": probe})
        probes += 1
        objects = [o for o in answer.get("objects") or [] if isinstance(o, dict)]
        moment = plivo_time(objects[0].get("upload_time")) if objects else None
        if objects and moment is not None and moment < start:
            low = probe
            step *= 2
        else:
            high = probe
    return low, probes


def _order(times: Sequence[datetime]) -> str | None:
    """How the list is sorted, once the times read so far show it (None while they are equal)."""
    for earlier, later in pairwise(times):
        if later < earlier:
            return "newest first"
        if later > earlier:
            return "oldest first"
    return None


def _progress(
    log: Log, in_doubt: Sequence[InDoubt], page: int, read: int, found: Mapping[tuple[str, int], _Found]
) -> None:
    log.info(
        "Reconciling %s with Plivo's media list: page %d, %s read, %d candidates",
        counted(len(in_doubt), "file"),
        page,
        counted(read, "object"),
        sum(len(entry.objects) for entry in found.values()),
    )


def _size(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return -1
