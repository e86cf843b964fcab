"""PlivoHook.send_message / get_message over real HTTP against the sandbox."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoConnectionError,
    PlivoMessageValidationError,
    PlivoRetryableAPIError,
    PlivoUnknownMediaError,
)
from airflow_provider_plivo.hooks.plivo import PlivoHook

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox

SRC = "+14155550100"
DST = ["+14155550101", "+14155550102"]


def hook() -> PlivoHook:
    return PlivoHook(retry_wait_initial=0.01, retry_wait_max=0.05)


def sends(sandbox: PlivoSandbox) -> list[int]:
    return [r.status for r in sandbox.requests if r.method == "POST" and r.path.endswith("/Message/")]


def test_one_request_carries_every_number_and_every_media_id(plivo_sandbox, make_media):
    media_ids = [r["media_id"] for r in hook().upload_media(make_media(3))]

    uuids = hook().send_message(src=SRC, dst=DST, text="hello", media_ids=media_ids)

    (request,) = [r for r in plivo_sandbox.requests if r.path.endswith("/Message/")]
    assert request.json == {
        "src": SRC,
        "dst": "+14155550101<+14155550102",
        "text": "hello",
        "type": "mms",
        "media_ids": media_ids,
    }
    assert len(uuids) == 2
    assert {plivo_sandbox.messages[u].to_number for u in uuids} == set(DST)


def test_numbers_joined_with_the_separator_are_split_wherever_they_come(plivo_sandbox):
    uuids = hook().send_message(src=SRC, dst=["+14155550101<+14155550102", "+14155550103"], text="hi")

    assert len(uuids) == 3
    (request,) = [r for r in plivo_sandbox.requests if r.path.endswith("/Message/")]
    assert request.json["dst"] == "+14155550101<+14155550102<+14155550103"


@pytest.mark.parametrize(
    ("number", "final"),
    [
        ("+14155550101", ("sent", "14155550101", None)),  # US and Canada: no delivery reports
        ("+61491570006", ("delivered", "61491570006", "000")),
    ],
)
def test_messages_move_from_queued_to_sent_and_on_where_carriers_report(plivo_sandbox, number, final):
    (uuid,) = hook().send_message(src=SRC, dst=number, text="hi")

    assert hook().get_message(uuid)["message_state"] == "queued"
    plivo_sandbox.advance_clock(timedelta(seconds=0.6))
    assert hook().get_message(uuid)["message_state"] == "sent"
    plivo_sandbox.advance_clock(timedelta(hours=1))
    message = hook().get_message(uuid)
    assert (message["message_state"], message["to_number"], message["error_code"]) == final


@pytest.mark.parametrize(
    ("number", "state", "code"),
    [
        ("+15005550001", "undelivered", "80"),
        ("+15005550002", "failed", "50"),
        ("+15005550003", "rejected", "100"),
    ],
)
def test_test_numbers_end_in_failure_states(plivo_sandbox, number, state, code):
    (uuid,) = hook().send_message(src=SRC, dst=number, text="hi")
    plivo_sandbox.advance_clock(timedelta(seconds=2))

    message = hook().get_message(uuid)
    assert (message["message_state"], message["error_code"]) == (state, code)


def test_expired_media_is_refused_with_the_6_hour_rule(plivo_sandbox, make_media):
    media_ids = [r["media_id"] for r in hook().upload_media(make_media(2))]
    plivo_sandbox.advance_clock(timedelta(hours=6, seconds=1))

    with pytest.raises(PlivoUnknownMediaError) as raised:
        hook().send_message(src=SRC, dst=DST[0], media_ids=media_ids)

    assert "media not found or expired" in str(raised.value)
    assert "within 6 hours of upload" in str(raised.value)
    assert sends(plivo_sandbox) == [400]


def test_media_used_in_a_message_does_not_expire(plivo_sandbox, make_media):
    media_ids = [r["media_id"] for r in hook().upload_media(make_media(1))]
    hook().send_message(src=SRC, dst=DST[0], media_ids=media_ids)
    plivo_sandbox.advance_clock(timedelta(hours=7))

    assert len(hook().send_message(src=SRC, dst=DST[1], media_ids=media_ids)) == 1


def test_invalid_message_is_refused_before_sending(plivo_sandbox):
    with pytest.raises(PlivoMessageValidationError, match=r"not in E\.164 form"):
        hook().send_message(src=SRC, dst=["4155550101"], text="hi")

    assert plivo_sandbox.requests == []


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"dst": 14155550101}, "dst must be a string or a list of strings"),
        ({"dst": None}, "dst is required"),
        ({"dst": [["+14155550101"]]}, "dst must hold only strings; not strings: #0 is list"),
        ({"dst": {"+14155550101": 1}}, "got dict"),
        ({"dst": DST, "media_ids": [1, 2]}, "media IDs are the strings an upload returns"),
    ],
)
def test_fields_of_the_wrong_type_are_refused_by_name_before_sending(plivo_sandbox, fields, named):
    with pytest.raises(PlivoMessageValidationError, match=re.escape(named)) as raised:
        hook().send_message(**{"src": SRC, "text": "hi", **fields})

    assert "6 hours" not in str(raised.value)
    assert plivo_sandbox.requests == []


@pytest.mark.parametrize("fault", ["429", "429-retry", "503"])
def test_send_is_retried_when_plivo_surely_did_not_act(plivo_sandbox, fault):
    plivo_sandbox.script_faults({1: fault}, endpoint="message")

    uuids = hook().send_message(src=SRC, dst=DST, text="hi")

    assert sends(plivo_sandbox)[-1] == 202
    assert len(sends(plivo_sandbox)) == 2
    assert len(plivo_sandbox.messages) == 2
    assert set(uuids) == set(plivo_sandbox.messages)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500", PlivoRetryableAPIError),
        ("html-502", PlivoRetryableAPIError),
        ("reset", PlivoConnectionError),
        ("lost", PlivoConnectionError),
        ("400", PlivoAPIError),
    ],
)
def test_send_is_not_retried_once_the_request_may_have_arrived(plivo_sandbox, fault, error):
    plivo_sandbox.script_faults({1: fault}, endpoint="message")

    with pytest.raises(error):
        hook().send_message(src=SRC, dst=DST, text="hi")

    assert len(sends(plivo_sandbox)) == 1


def test_send_timeout_is_not_retried(plivo_sandbox_factory):
    sandbox = plivo_sandbox_factory(message_faults={1: "hang"}, hang_seconds=5, timeout=0.5)

    with pytest.raises(PlivoConnectionError, match=r"did not answer within 0\.5 s"):
        hook().send_message(src=SRC, dst=DST, text="hi")

    assert len(sends(sandbox)) == 1


def test_send_to_an_unreachable_server_is_retried(plivo_down):
    with pytest.raises(PlivoConnectionError) as raised:
        PlivoHook(retry_attempts=2, retry_wait_initial=0.01).send_message(src=SRC, dst=DST, text="hi")

    assert raised.value.request_sent is False
