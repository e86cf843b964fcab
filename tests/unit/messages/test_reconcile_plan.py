"""Reconciling a send whose answer never came, with no server: which messages in Plivo's list
are provably the lost request's, and when the plan refuses to guess."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.exceptions import PlivoReconciliationError
from airflow_provider_plivo.messages.sender import RECONCILE_MAX_PAGES, send_plan, sent_identity
from tests.support.plans import run_with

if TYPE_CHECKING:
    from airflow_provider_plivo.transport.core import Request

LOG = logging.getLogger("test")
SRC = "+14155550100"
A, B = "+14155550101", "+14155550102"
IST = timezone(timedelta(hours=5, minutes=30))


class FakePlivo:
    """Plivo's list, media and send endpoints over a list of message records, with a clock
    ``ahead`` of the worker's (negative: behind)."""

    def __init__(self, *, ahead: timedelta = timedelta(), date_header: bool = True) -> None:
        self.ahead = ahead
        self.date_header = date_header
        self.records: list[dict[str, Any]] = []  # oldest first
        self.times: dict[str, datetime] = {}
        self.media: dict[str, list[str]] = {}
        self.requests: list[Request] = []
        self.ignore_filters = False

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.ahead

    def message(
        self, to: str, *, src: str = SRC, type_: str = "sms", at: datetime | None = None, **more: Any
    ) -> str:
        uuid = f"u{len(self.records)}"
        self.times[uuid] = at or self.now()
        self.records.append(
            {
                "message_uuid": uuid,
                "from_number": src.lstrip("+"),
                "to_number": to.lstrip("+"),
                "message_type": type_,
                "message_direction": "outbound",
                "message_time": self.times[uuid].astimezone(IST).isoformat(sep=" "),
                **more,
            }
        )
        return uuid

    def __call__(self, request: Request) -> Any:
        self.requests.append(request)
        if request.on_headers is not None and self.date_header:
            request.on_headers({"Date": format_datetime(self.now().replace(microsecond=0), usegmt=True)})
        if request.path == "Media/":
            return {"meta": {}, "objects": []}
        if request.path.endswith("/Media/"):
            uuid = request.path.split("/")[1]
            return {"meta": {}, "objects": [{"media_id": m} for m in self.media.get(uuid, [])]}
        if request.method == "POST":
            numbers = request.json["dst"].split("<")
            return {"message_uuid": [self.message(n, type_=request.json.get("type", "sms")) for n in numbers]}
        params = dict(request.params or {})
        since = datetime.fromisoformat(params["message_time__gte"]).replace(tzinfo=timezone.utc)
        until = datetime.fromisoformat(params.get("message_time__lte", "9999-01-01")).replace(
            tzinfo=timezone.utc
        )
        listed = [
            r
            for r in reversed(self.records)
            if self.ignore_filters
            or (
                since <= self.times[r["message_uuid"]] <= until
                and r["message_type"] == params.get("message_type", r["message_type"])
            )
        ]
        offset, limit = params["offset"], params["limit"]
        page = listed[offset : offset + limit]
        more = offset + limit < len(listed)
        return {"meta": {"next": "more" if more else None}, "objects": page}

    def list_requests(self) -> int:
        return sum(r.path == "Message/" and r.method == "GET" for r in self.requests)

    def sends(self) -> list[list[str]]:
        return [r.json["dst"].split("<") for r in self.requests if r.method == "POST"]


class Ledger:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def lost(self, numbers: list[str], started: datetime, payload: dict[str, Any]) -> None:
        self.requests.append(
            {"numbers": numbers, "started": started.isoformat(), "sent": sent_identity(payload)}
        )

    def earlier_requests(self) -> list[dict[str, Any]]:
        return list(self.requests)

    def record_start(self, numbers: Any, started: datetime, *, sent: Any) -> int:
        self.requests.append({"numbers": list(numbers), "started": started.isoformat(), "sent": dict(sent)})
        return len(self.requests) - 1

    def record_answer(self, key: int, messages: Any, invalid_numbers: Any) -> None:
        self.requests[key] |= {"messages": list(messages), "invalid_numbers": list(invalid_numbers)}


def retry(plivo: FakePlivo, ledger: Ledger, payload: dict[str, Any], numbers: list[str]) -> Any:
    return run_with(send_plan(payload, numbers, log=LOG, ledger=ledger), plivo)


SMS = {"src": SRC, "text": "campaign"}


def test_plivos_clock_behind_the_workers_still_finds_the_lost_requests_messages():
    plivo, ledger = FakePlivo(ahead=-timedelta(minutes=3)), Ledger()
    started = datetime.now(timezone.utc)
    ledger.lost([A, B], started, SMS)
    uuids = [plivo.message(A), plivo.message(B)]

    sent = retry(plivo, ledger, SMS, [A, B])

    assert plivo.sends() == []
    assert list(sent) == uuids


def test_a_message_before_the_request_started_on_plivos_clock_is_not_ours():
    plivo, ledger = FakePlivo(ahead=timedelta(minutes=3)), Ledger()
    plivo.message(A, at=plivo.now() - timedelta(seconds=30))  # earlier, same sender and type
    ledger.lost([A], datetime.now(timezone.utc), SMS)

    retry(plivo, ledger, SMS, [A])

    assert plivo.sends() == [[A]]


@pytest.mark.parametrize(
    "other", [{"src": "+14155550199"}, {"type_": "mms"}, {"message_direction": "inbound"}]
)
def test_another_senders_message_or_type_or_direction_is_not_ours(other):
    plivo, ledger = FakePlivo(), Ledger()
    ledger.lost([A, B], datetime.now(timezone.utc), SMS)
    plivo.message(A, **other)

    retry(plivo, ledger, SMS, [A, B])

    assert plivo.sends() == [[A, B]]


def test_an_mms_counts_only_with_the_lost_requests_media():
    mms = {"src": SRC, "media_ids": ["m1", "m2"], "type": "mms"}
    plivo, ledger = FakePlivo(), Ledger()
    ledger.lost([A, B], datetime.now(timezone.utc), mms)
    ours = plivo.message(A, type_="mms")
    other = plivo.message(B, type_="mms")
    plivo.media = {ours: ["m2", "m1"], other: ["m9"]}

    sent = retry(plivo, ledger, mms, [A, B])

    assert plivo.sends() == [[B]]
    assert sent.messages[0] == {"number": A, "message_uuid": ours}


def test_a_powerpack_send_is_matched_by_the_records_powerpack():
    pack = {"powerpack_uuid": "pp-1", "text": "campaign"}
    plivo, ledger = FakePlivo(), Ledger()
    ledger.lost([A, B], datetime.now(timezone.utc), pack)
    ours = plivo.message(A, src="+14155550177", powerpack_id="pp-1")
    plivo.message(B, src="+14155550177", powerpack_id="pp-2")

    sent = retry(plivo, ledger, pack, [A, B])

    assert plivo.sends() == [[B]]
    assert list(sent) == [ours, "u2"]


def test_a_masked_number_is_matched_by_its_visible_digits():
    plivo, ledger = FakePlivo(), Ledger()
    c = "+14155550228"
    ledger.lost([A, c], datetime.now(timezone.utc), SMS)
    masked = plivo.message("+141XXXXX228")

    sent = retry(plivo, ledger, SMS, [A, c])

    assert plivo.sends() == [[A]]
    assert {"number": c, "message_uuid": masked} in sent.messages


def test_a_masked_number_fitting_two_numbers_in_doubt_raises_and_sends_nothing():
    plivo, ledger = FakePlivo(), Ledger()
    c, d = "+14155550228", "+14155551228"
    ledger.lost([c, d], datetime.now(timezone.utc), SMS)
    plivo.message("+141XXXXX228")

    with pytest.raises(PlivoReconciliationError) as raised:
        retry(plivo, ledger, SMS, [A, c, d])

    assert plivo.sends() == []
    assert set(raised.value.numbers) == {c, d}
    assert "masked number 141XXXXX228 fits 2 numbers in doubt" in str(raised.value)
    assert "Plivo's console" in str(raised.value)


def test_two_messages_that_could_be_ours_raise_naming_both():
    plivo, ledger = FakePlivo(), Ledger()
    ledger.lost([A, B], datetime.now(timezone.utc), SMS)
    first, second = plivo.message(A), plivo.message(A)  # B is never found: the search reads on

    with pytest.raises(PlivoReconciliationError) as raised:
        retry(plivo, ledger, SMS, [A, B])

    assert f"2 messages could be ours: {second}, {first}" in raised.value.numbers[A]
    assert plivo.sends() == []


def test_the_search_stops_once_every_number_is_settled():
    plivo, ledger = FakePlivo(), Ledger()
    # A second ago, so that messages dated after it are in the past too: the search's upper
    # bound is Plivo's now, and a message dated ahead of it is rightly not in the window.
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    ledger.lost([A, B], started, SMS)
    for n in range(100):  # others' traffic in the window, older than ours
        plivo.message(f"+1415557{n:04d}", at=started + timedelta(milliseconds=100))
    plivo.message(A, at=started + timedelta(milliseconds=200))
    plivo.message(B, at=started + timedelta(milliseconds=200))
    for n in range(200):  # and newer
        plivo.message(f"+1415556{n:04d}")

    retry(plivo, ledger, SMS, [A, B])

    assert plivo.list_requests() == 11  # 200 newer, then ours on the 11th page of 16
    assert plivo.sends() == []


def test_a_server_ignoring_the_filters_is_read_only_to_the_windows_edge():
    plivo, ledger = FakePlivo(), Ledger()
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    for n in range(200):
        plivo.message(f"+1415556{n:04d}", at=old)
    ledger.lost([A, B], datetime.now(timezone.utc), SMS)
    plivo.ignore_filters = True

    retry(plivo, ledger, SMS, [A, B])

    assert plivo.list_requests() == 1
    assert plivo.sends() == [[A, B]]


def test_the_search_is_bounded_and_what_it_did_not_reach_stays_in_doubt():
    plivo, ledger = FakePlivo(), Ledger()
    ledger.lost([A], datetime.now(timezone.utc), SMS)
    for n in range(RECONCILE_MAX_PAGES * 20 + 20):
        plivo.message(f"+1415556{n:04d}")

    with pytest.raises(PlivoReconciliationError, match="the search ended before"):
        retry(plivo, ledger, SMS, [A])

    assert plivo.list_requests() == RECONCILE_MAX_PAGES
    assert plivo.sends() == []


def test_without_a_date_header_a_wide_allowance_still_finds_a_skewed_clocks_messages(caplog):
    plivo, ledger = FakePlivo(ahead=-timedelta(minutes=3), date_header=False), Ledger()
    ledger.lost([A], datetime.now(timezone.utc), SMS)
    plivo.message(A)

    with caplog.at_level(logging.WARNING):
        retry(plivo, ledger, SMS, [A])

    assert plivo.sends() == []
    assert "no readable Date header" in caplog.text


def test_the_filters_are_utc_bounds_around_the_request_on_plivos_clock():
    plivo, ledger = FakePlivo(ahead=-timedelta(minutes=3)), Ledger()
    started = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    ledger.lost([A], started, SMS)

    retry(plivo, ledger, SMS, [A])

    (listing,) = [r for r in plivo.requests if r.path == "Message/" and r.method == "GET"]
    assert listing.params is not None
    since = datetime.fromisoformat(listing.params["message_time__gte"]).replace(tzinfo=timezone.utc)
    until = datetime.fromisoformat(listing.params["message_time__lte"]).replace(tzinfo=timezone.utc)
    assert started - timedelta(minutes=3, seconds=5) <= since <= started - timedelta(minutes=3)
    assert plivo.now() - timedelta(seconds=5) <= until <= plivo.now() + timedelta(seconds=2)
