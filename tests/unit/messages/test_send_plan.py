"""The send plan with no server: splitting, pairing answers number by number, unknown media."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.exceptions import PlivoAPIError, PlivoResponseError, PlivoUnknownMediaError
from airflow_provider_plivo.messages.sender import number_batches, pair_answer, send_plan
from tests.support.plans import run_with

if TYPE_CHECKING:
    from airflow_provider_plivo.transport.core import Request

LOG = logging.getLogger("test")
NUMBERS = ["+14155550101", "+14155550102", "+14155550103"]


def test_numbers_go_in_requests_of_at_most_1000():
    assert [len(b) for b in number_batches([f"+1{n}" for n in range(2500)])] == [1000, 1000, 500]


def test_an_answer_is_paired_number_by_number_with_invalid_ones_left_out():
    pairing = pair_answer(NUMBERS, {"message_uuid": ["u1", "u3"], "invalid_number": ["14155550102"]})

    assert pairing.messages == [
        {"number": "+14155550101", "message_uuid": "u1"},
        {"number": "+14155550103", "message_uuid": "u3"},
    ]
    assert pairing.refused == ["+14155550102"]


@pytest.mark.parametrize(
    "answer", [{}, {"message_uuid": []}, {"message_uuid": "u1"}, {"message_uuid": [None]}]
)
def test_an_answer_without_uuids_for_its_numbers_never_passes_as_success(answer):
    with pytest.raises(PlivoResponseError):
        pair_answer(NUMBERS, answer)


def test_an_answer_whose_counts_do_not_pair_is_asked_about_message_by_message():
    def respond(request: Request) -> Any:
        if request.method == "POST":
            return {"message_uuid": ["u1", "u2"]}
        return {"to_number": {"Message/u1/": "14155550102", "Message/u2/": "14155550101"}[request.path]}

    sent = run_with(send_plan({"src": "+14155550100", "text": "hi"}, NUMBERS, log=LOG), respond)

    assert sent.messages == [
        {"number": "+14155550101", "message_uuid": "u2"},
        {"number": "+14155550102", "message_uuid": "u1"},
    ]


def test_plivo_refusing_the_media_ids_is_an_unknown_media_error():
    refused = PlivoAPIError(status_code=400, message="media not found or expired", endpoint="POST Message/")

    with pytest.raises(PlivoUnknownMediaError):
        run_with(
            send_plan({"src": "+1", "media_ids": ["m1"], "type": "mms"}, NUMBERS, log=LOG), lambda r: refused
        )


def test_a_permanent_refusal_decides_the_outcome_over_a_transient_failure():
    from airflow_provider_plivo.exceptions import PlivoConnectionError

    outcomes = iter(
        [
            PlivoConnectionError("reset", request_sent=True),
            PlivoAPIError(status_code=400, message="no", endpoint=""),
        ]
    )
    numbers = [f"+1415555{n:04d}" for n in range(1500)]

    with pytest.raises(PlivoAPIError):
        run_with(send_plan({"src": "+14155550100", "text": "hi"}, numbers, log=LOG), lambda r: next(outcomes))
