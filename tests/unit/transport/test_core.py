"""The sans-I/O core, with no server: answers in, the next request out."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoAuthenticationError,
    PlivoConnectionError,
    PlivoResponseError,
    PlivoRetryableAPIError,
)
from airflow_provider_plivo.transport.core import (
    AnswerReader,
    Pages,
    Request,
    RetryPolicy,
    is_transient,
    paged,
    parse_response,
    retry_after_seconds,
    send_is_safe_to_retry,
)
from tests.support.plans import run_with


def answer(status: int, text: str = "{}", **headers: str) -> dict[str, Any]:
    return parse_response(status=status, reason="R", headers=headers, text=text, endpoint="GET Media/")


def test_a_204_is_success_with_nothing_to_say():
    assert answer(204, "") == {}


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, PlivoAuthenticationError),
        (403, PlivoAuthenticationError),
        (404, PlivoAPIError),
        (429, PlivoRetryableAPIError),
        (502, PlivoRetryableAPIError),
    ],
)
def test_errors_are_classified_and_carry_plivos_message(status, error):
    with pytest.raises(error) as raised:
        answer(status, '{"api_id": "a1", "error": "not found"}')

    assert type(raised.value) is error
    assert raised.value.message == "not found"


def test_a_body_that_is_not_json_is_a_response_error():
    with pytest.raises(PlivoResponseError, match="not its JSON"):
        answer(200, "<html>gateway</html>")


def test_retry_after_reads_seconds_and_http_dates_on_the_given_clock():
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    in_ten = format_datetime(datetime(2026, 12, 1, 12, 0, 10, tzinfo=timezone.utc), usegmt=True)

    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(in_ten, now=now.timestamp) == pytest.approx(10.0)
    assert retry_after_seconds("99999") == 300.0
    assert retry_after_seconds("soon") is None
    with pytest.raises(PlivoRetryableAPIError) as raised:
        answer(429, "{}", **{"Retry-After": "2"})
    assert raised.value.retry_after == 2.0


def test_backoff_doubles_with_jitter_and_retry_after_wins():
    policy = RetryPolicy(attempts=5, wait_initial=1.0, wait_max=30.0)
    throttle = PlivoRetryableAPIError(status_code=429, message="", endpoint="", retry_after=7.0)

    assert [policy.wait(n, None, jitter=lambda: 0.5) for n in (1, 2, 3, 6)] == [1.5, 2.5, 4.5, 30.0]
    assert policy.wait(1, throttle) == 7.0


def test_a_send_is_retried_only_where_plivo_surely_did_not_act():
    assert send_is_safe_to_retry(PlivoConnectionError("x", request_sent=False))
    assert not send_is_safe_to_retry(PlivoConnectionError("x", request_sent=True))
    assert send_is_safe_to_retry(PlivoRetryableAPIError(status_code=503, message="", endpoint=""))
    assert not send_is_safe_to_retry(PlivoRetryableAPIError(status_code=500, message="", endpoint=""))


def test_paging_follows_meta_next_to_the_last_page():
    pages = {0: ["a", "b"], 2: ["c"]}

    def respond(request: Request) -> dict[str, Any]:
        offset = request.params["offset"] if request.params else 0
        return {
            "meta": {"next": "more" if offset == 0 else None},
            "objects": [{"media_id": m} for m in pages[offset]],
        }

    assert [m["media_id"] for m in run_with(paged("Media/", {}, page_size=2), respond)] == ["a", "b", "c"]


@pytest.mark.parametrize("total_count", [None, "many", 10**9])
def test_paging_stops_on_a_server_that_ignores_offset(total_count):
    requests: list[Request] = []

    def respond(request: Request) -> dict[str, Any]:
        requests.append(request)
        return {"meta": {"next": "always", "total_count": total_count}, "objects": [{"media_id": "same"}]}

    assert run_with(paged("Media/", {}, page_size=20), respond) == [{"media_id": "same"}]
    assert len(requests) == 2


def test_a_cursor_stops_at_total_count_and_at_an_empty_page():
    pages = Pages("Media/", {"x": 1}, page_size=2)
    assert pages.request().params == {"x": 1, "limit": 2, "offset": 0}
    pages.take({"meta": {"next": "n", "total_count": 2}, "objects": [{"media_id": "a"}, {"media_id": "b"}]})
    assert pages.finished
    empty = Pages("Media/", {}, page_size=2)
    empty.take({"meta": {"next": "n"}, "objects": []})
    assert empty.finished


def test_an_error_thrown_into_a_plan_can_be_handled_there():
    def plan() -> Any:
        try:
            yield Request("GET", "Media/x/")
        except PlivoAPIError as err:
            return f"handled {err.status_code}"
        return "not reached"

    refused = PlivoAPIError(status_code=404, message="no", endpoint="GET Media/x/")
    assert run_with(plan(), lambda request: refused) == "handled 404"


@pytest.mark.parametrize(
    ("method", "path", "is_list"),
    [
        ("GET", "Message/", True),
        ("get", "Message", True),
        ("POST", "Message/", False),
        ("GET", "Message/00000000-0000-4000-8000-000000000001/", False),
        ("GET", "Message/00000000-0000-4000-8000-000000000001/Media/", False),
        ("GET", "Media/", False),
    ],
)
def test_only_get_message_list_takes_from_the_message_lists_budget(method, path, is_list):
    assert Request(method, path).message_list is is_list


def encoded(data: bytes, encoding: str) -> bytes:
    import zlib

    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw deflate": -zlib.MAX_WBITS}[encoding]
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("header", "encoding"),
    [(None, None), ("gzip", "gzip"), ("deflate", "deflate"), ("deflate", "raw deflate"), (" GZIP ", "gzip")],
)
def test_answers_are_decoded_by_the_core_in_pieces_as_they_arrive(header, encoding):
    data = b'{"objects": [' + b'{"media_id": "m"},' * 5_000 + b"{}]}"
    raw = data if encoding is None else encoded(data, encoding)
    reader = AnswerReader("GET Media/", header)

    for start in range(0, len(raw), 1_000):
        reader.feed(raw[start : start + 1_000])

    assert reader.body() == data


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_an_answer_over_the_limit_is_refused_for_good_however_it_is_encoded(encoding):
    reader = AnswerReader("GET Media/", encoding, limit=1_000)
    body = bytes(1_001)

    with pytest.raises(
        PlivoResponseError, match=r"GET Media/: Plivo's answer is larger than 1,000 bytes"
    ) as raised:
        reader.feed(body if encoding is None else encoded(body, "gzip"))

    assert not is_transient(raised.value)
    AnswerReader("GET Media/", encoding, limit=1_000).feed(
        bytes(1_000) if encoding is None else encoded(bytes(1_000), "gzip")
    )


def test_an_encoding_not_asked_for_or_a_broken_one_is_named():
    with pytest.raises(PlivoResponseError, match="in the encoding 'br', which was not asked for"):
        AnswerReader("GET Media/", "br")
    with pytest.raises(PlivoResponseError, match="could not be decoded"):
        AnswerReader("GET Media/", "gzip").feed(b"not gzip at all")


def test_a_response_error_can_say_it_is_not_worth_retrying():
    assert is_transient(PlivoResponseError("cut body"))
    assert not is_transient(PlivoResponseError("mispaired", retryable=False))
