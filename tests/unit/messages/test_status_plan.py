"""The message states plan with no server: list pages only as far as the list's budget has room,
single reads when the list is throttled, unknown messages left out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.exceptions import PlivoAPIError, PlivoRetryableAPIError
from airflow_provider_plivo.messages.status import message_states_plan
from airflow_provider_plivo.transport.limiter import BudgetSpent
from tests.support.plans import Lines, run_with

if TYPE_CHECKING:
    from airflow_provider_plivo.transport.core import Request

UUIDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100)]


class Plivo:
    """Answers as Plivo would for ``known`` messages (the list newest first), recording requests."""

    def __init__(self, known: list[str], *, list_answer: Exception | None = None) -> None:
        self.known = known
        self.list_answer = list_answer
        self.requests: list[Request] = []

    def record(self, uuid: str) -> dict[str, Any]:
        return {"message_uuid": uuid, "message_state": "sent", "message_time": "2026-12-01 10:00:00+05:30"}

    def __call__(self, request: Request) -> Any:
        self.requests.append(request)
        if request.message_list:
            if self.list_answer is not None:
                return self.list_answer
            assert request.params is not None
            offset, limit = request.params["offset"], request.params["limit"]
            newest_first = self.known[::-1]
            page = newest_first[offset : offset + limit]
            more = offset + limit < len(newest_first)
            return {"meta": {"next": "more" if more else None}, "objects": [self.record(u) for u in page]}
        uuid = request.path.split("/")[1]
        if uuid not in self.known:
            return PlivoAPIError(status_code=404, message="not found", endpoint=request.endpoint)
        return self.record(uuid)

    @property
    def list_pages(self) -> int:
        return sum(r.message_list for r in self.requests)

    @property
    def single_reads(self) -> int:
        return len(self.requests) - self.list_pages


def test_without_a_list_limit_the_list_brings_them_all():
    plivo = Plivo(UUIDS)

    states = run_with(message_states_plan(UUIDS), plivo)

    assert list(states) == UUIDS
    assert (plivo.single_reads, plivo.list_pages) == (1, 5)


def test_list_pages_are_read_only_as_far_as_the_budget_has_room_now():
    plivo = Plivo(UUIDS)

    states = run_with(message_states_plan(UUIDS, list_pages=2), plivo)

    assert list(states) == UUIDS
    assert plivo.list_pages == 2  # 40 messages from the list (the newest), the other 60 singly
    assert plivo.single_reads == 1 + 60 - 1  # the first message was on a page too


def test_no_room_in_the_list_reads_every_message_singly():
    plivo = Plivo(UUIDS)

    states = run_with(message_states_plan(UUIDS, list_pages=0), plivo)

    assert list(states) == UUIDS
    assert (plivo.single_reads, plivo.list_pages) == (100, 0)


def test_a_throttled_list_is_not_retried_and_single_reads_answer():
    throttled = PlivoRetryableAPIError(status_code=429, message="too many requests", endpoint="GET Message/")
    plivo = Plivo(UUIDS, list_answer=throttled)
    log = Lines()

    states = run_with(message_states_plan(UUIDS, list_pages=20, log=log), plivo)

    assert list(states) == UUIDS
    (page,) = [r for r in plivo.requests if r.message_list]
    assert not page.should_retry(throttled)  # a minute's budget is not waited out in retries
    assert page.should_retry(PlivoRetryableAPIError(status_code=503, message="busy", endpoint="GET Message/"))
    assert plivo.single_reads == 100
    assert log.lines == [
        "Plivo's message list is throttled (HTTP 429); reading the other 99 messages one by one"
    ]


def test_another_list_error_still_raises():
    refused = PlivoAPIError(status_code=400, message="bad filter", endpoint="GET Message/")

    with pytest.raises(PlivoAPIError, match="bad filter"):
        run_with(message_states_plan(UUIDS, list_pages=20), Plivo(UUIDS, list_answer=refused))


@pytest.mark.parametrize("list_pages", [0, 20])
def test_an_unknown_message_is_left_out_and_logged_not_raised(list_pages):
    asked = UUIDS[:30]
    unknown = asked[0]  # also the one the list search would start from
    plivo = Plivo([u for u in asked if u != unknown])
    log = Lines()

    states = run_with(message_states_plan(asked, list_pages=list_pages, log=log), plivo)

    assert list(states) == asked[1:]
    assert log.lines == [f"Plivo knows no message {unknown} (HTTP 404): left out of the states"]


def test_other_errors_of_single_reads_still_raise():
    def respond(request: Request) -> Any:
        return PlivoAPIError(status_code=400, message="refused", endpoint=request.endpoint)

    with pytest.raises(PlivoAPIError, match="refused"):
        run_with(message_states_plan(UUIDS[:3]), respond)


def test_a_page_that_finds_the_list_spent_meanwhile_gives_way_to_single_reads():
    plivo = Plivo(UUIDS, list_answer=BudgetSpent("GET Message/: not sent, no room now"))
    log = Lines()

    states = run_with(message_states_plan(UUIDS, list_pages=20, log=log), plivo)

    assert list(states) == UUIDS
    (page,) = [r for r in plivo.requests if r.message_list]
    assert not page.waits_for_room
    assert log.lines == ["Plivo's message list has no room now; reading the other 99 messages one by one"]
