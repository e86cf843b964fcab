"""The message rules checked before sending, and how delivery states are judged."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_plivo.exceptions import PlivoMessageValidationError
from airflow_provider_plivo.messages.delivery import delivery_outcome
from airflow_provider_plivo.messages.rules import message_payload


def payload(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "src": "+14155550100",
        "dst": ["+14155550101"],
        "text": "hi",
        "media_ids": [],
        "media_urls": [],
        "powerpack_uuid": None,
        "params": {},
    }
    return message_payload(**{**fields, **overrides})


def problems(**overrides: Any) -> list[str]:
    with pytest.raises(PlivoMessageValidationError) as raised:
        payload(**overrides)
    return raised.value.problems


def test_mms_payload_joins_numbers_and_sets_the_type():
    body = payload(dst=["+14155550101", "+14155550102"], media_ids=["m1", "m2"], params={"log": False})

    assert body == {
        "src": "+14155550100",
        "dst": "+14155550101<+14155550102",
        "text": "hi",
        "type": "mms",
        "media_ids": ["m1", "m2"],
        "log": False,
    }


def test_sms_payload_leaves_type_and_media_out():
    assert payload() == {"src": "+14155550100", "dst": "+14155550101", "text": "hi"}


def test_powerpack_replaces_src():
    assert payload(src=None, powerpack_uuid="pp-1")["powerpack_uuid"] == "pp-1"


def test_alphanumeric_sender_id_is_accepted_for_sms_only():
    assert payload(src="ACME", dst=["+447700900123"])["src"] == "ACME"
    assert problems(src="ACME", media_ids=["m1"]) == [
        "src 'ACME' is not a number in E.164 form (+ country code and number, e.g. +14155550100)"
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"src": None}, ["src (the sending number) or powerpack_uuid is required"]),
        ({"powerpack_uuid": "pp-1"}, ["give src or powerpack_uuid, not both"]),
        ({"dst": []}, ["dst needs at least one destination number"]),
        (
            {"dst": ["+14155550101", "4155550102", "+1 415 555"]},
            [
                "dst number '4155550102' is not in E.164 form (e.g. +14155550101)",
                "dst number '+1 415 555' is not in E.164 form (e.g. +14155550101)",
            ],
        ),
        ({"text": "x" * 1601}, ["text is 1,601 characters; Plivo takes at most 1,600"]),
        ({"text": None}, ["a message needs text, media, or both"]),
        (
            {"media_ids": [f"m{i}" for i in range(8)], "media_urls": ["u1", "u2", "u3"]},
            ["11 media given (media_ids and media_urls together); a message takes at most 10"],
        ),
        (
            {"media_ids": ["m1"], "dst": ["+447700900123"]},
            ["dst number +447700900123: Plivo sends MMS only to the US and Canada (+1)"],
        ),
        (
            {"media_ids": ["m1"], "params": {"type": "sms"}},
            ["type 'sms' cannot carry media; use 'mms' or leave type out"],
        ),
    ],
)
def test_each_rule_names_the_problem(overrides, expected):
    assert problems(**overrides) == expected


def test_every_problem_is_reported_at_once():
    found = problems(src=None, dst=["bad"], text="x" * 2000)

    assert len(found) == 3
    assert "nothing was sent" in str(PlivoMessageValidationError(found))


def test_delivery_outcome_waits_succeeds_and_fails():
    def judge(*states: str):
        messages = {
            f"u{i}": {"message_state": s, "to_number": f"+1415555010{i}", "error_code": "80"}
            for i, s in enumerate(states)
        }
        return delivery_outcome(
            messages, success_states=("delivered",), failure_states=("failed", "undelivered")
        )

    waiting = judge("delivered", "sent")
    assert (waiting.done, waiting.waiting, waiting.failures) == (False, ["u1"], [])
    assert judge("delivered", "delivered").done
    failed = judge("delivered", "undelivered", "queued")
    assert not failed.done
    assert failed.failures == ["u1 to +14155550101 undelivered (Plivo error code 80)"]
    assert (
        failed.describe_failures()
        == "1 of 3 messages failed: u1 to +14155550101 undelivered (Plivo error code 80) "
        "(2 of 3 settled: 1 delivered, 1 undelivered)"
    )
