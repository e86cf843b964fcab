"""The upload reconciliation plan with no server: Plivo's media list in either order, read no
further than the window after the intent needs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.media.reconcile import RECONCILE_MAX_PAGES, InDoubt, reconcile_uploads
from tests.support.plans import Lines, run_with

if TYPE_CHECKING:
    from airflow_provider_plivo.transport.core import Request


def media(count: int, *, newest: datetime, step: timedelta = timedelta(seconds=1)) -> list[dict[str, Any]]:
    """``count`` objects, oldest first, the last uploaded at ``newest``: ``f{n}.jpg`` of ``n`` bytes."""
    return [
        {
            "media_id": f"id-{n}",
            "file_name": f"f{n}.jpg",
            "size": n,
            "upload_time": (newest - step * (count - 1 - n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        for n in range(count)
    ]


class MediaList:
    """Answers ``GET Media/`` pages from ``objects`` in the order given, with Plivo's Date."""

    def __init__(self, objects: list[dict[str, Any]], *, total_count: bool = True) -> None:
        self.objects = objects
        self.total_count = total_count
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> dict[str, Any]:
        assert (request.method, request.path) == ("GET", "Media/")
        self.requests.append(request)
        if request.on_headers:
            # Plivo's clock is the worker's here: no offset between the two.
            request.on_headers({"Date": format_datetime(datetime.now(timezone.utc), usegmt=True)})
        params = request.params or {}
        offset, limit = int(params["offset"]), int(params["limit"])
        assert 1 <= limit <= 20
        page = self.objects[offset : offset + limit]
        more = offset + limit < len(self.objects)
        meta: dict[str, Any] = {"limit": limit, "offset": offset, "next": "/Media?x" if more else None}
        if self.total_count:
            meta["total_count"] = len(self.objects)
        return {"meta": meta, "objects": page}


def in_doubt(*numbers: int, intended: datetime) -> list[InDoubt]:
    return [InDoubt(f"/data/f{n}.jpg", f"f{n}.jpg", n, intended) for n in numbers]


@pytest.mark.parametrize("total_count", [True, False])
@pytest.mark.parametrize("order", ["newest first", "oldest first"])
def test_the_window_after_the_intent_is_found_in_either_order_reading_few_pages(order, total_count):
    now = datetime.now(timezone.utc)
    # 4,000 objects a second apart; the last 30 are after the intent.
    objects = media(4000, newest=now)
    listing = MediaList(objects if order == "oldest first" else objects[::-1], total_count=total_count)
    intended = now - timedelta(seconds=29)
    doubt = in_doubt(3990, 3995, 3999, intended=intended)

    found = run_with(reconcile_uploads(doubt, Lines()), listing)

    assert sorted(found) == ["/data/f3990.jpg", "/data/f3995.jpg", "/data/f3999.jpg"]
    assert found["/data/f3995.jpg"]["media_id"] == "id-3995"
    # The clock, the window (30 objects and the margin, 2 or 3 pages) and, oldest first, a
    # bisection of 4,000 objects; never the 200 pages of the whole list.
    assert len(listing.requests) <= 30


def test_a_file_uploaded_before_the_intent_is_not_taken_for_it():
    now = datetime.now(timezone.utc)
    objects = media(100, newest=now)[::-1]
    listing = MediaList(objects)
    doubt = in_doubt(50, intended=now - timedelta(seconds=10))  # f50 went 49 s before now

    assert run_with(reconcile_uploads(doubt, Lines()), listing) == {}


def test_two_objects_alike_prove_nothing_and_a_file_of_another_size_is_not_it():
    now = datetime.now(timezone.utc)
    objects = media(10, newest=now)[::-1]
    objects.append({**objects[0], "media_id": "copy"})
    objects.append({**objects[1], "size": 999, "media_id": "other-size"})
    listing = MediaList(sorted(objects, key=lambda o: o["upload_time"], reverse=True))
    doubt = in_doubt(9, 8, 7, intended=now - timedelta(seconds=5))
    doubt[1] = doubt[1]._replace(size=999)

    found = run_with(reconcile_uploads(doubt, Lines()), listing)

    # f9: two copies, which is ours cannot be told; f8 of 999 bytes: one object; f7: one object.
    assert sorted(found) == ["/data/f7.jpg", "/data/f8.jpg"]
    assert found["/data/f8.jpg"]["media_id"] == "other-size"


def test_the_search_is_bounded_and_logs_its_progress():
    now = datetime.now(timezone.utc)
    objects = media(RECONCILE_MAX_PAGES * 20 + 100, newest=now, step=timedelta(milliseconds=1))[::-1]
    listing = MediaList(objects)
    log = Lines()

    found = run_with(reconcile_uploads(in_doubt(0, intended=now - timedelta(hours=1)), log), listing)

    assert found == {}
    assert len(listing.requests) == RECONCILE_MAX_PAGES + 1  # the clock, then the pages
    assert "Reconciling 1 file with Plivo's media list: page 1, 20 objects read, 0 candidates" in log.lines
    assert log.lines[-1].endswith(f"stopped at {RECONCILE_MAX_PAGES} pages): 0 found stored")
