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


def checked_problems(**fields: Any) -> list[str]:
    from airflow_provider_plivo.messages.rules import checked_message

    with pytest.raises(PlivoMessageValidationError) as raised:
        checked_message(**{"src": "+14155550100", "text": "hi", **fields})
    return raised.value.problems


@pytest.mark.parametrize(
    ("dst", "expected"),
    [
        (
            14155550101,
            "dst must be a string or a list of strings (a number, a list of numbers, or numbers "
            "joined with '<'), got int 14155550101 (a number rendered as a native object loses "
            "its '+': quote it)",
        ),
        (None, "dst is required (a number, a list of numbers, or numbers joined with '<'), got None"),
        (
            ["+14155550101", ["+14155550102", "+14155550103"]],
            "dst must hold only strings; not strings: #1 is list ['+14155550102', '+14155550103'] "
            "(give one flat list of numbers as strings)",
        ),
        (
            {"number": "+14155550101"},
            "dst must be a string or a list of strings (a number, a list of numbers, or numbers "
            "joined with '<'), got dict {'number': '+14155550101'}",
        ),
        (
            ["+14155550101", 14155550102],
            "dst must hold only strings; not strings: #1 is int 14155550102 (a number rendered as a "
            "native object loses its '+': quote it)",
        ),
    ],
)
def test_a_dst_of_the_wrong_type_is_named_with_its_item_and_type(dst, expected):
    assert checked_problems(dst=dst) == [expected]


def test_media_ids_that_are_not_strings_say_media_ids_come_from_an_upload():
    (problem,) = checked_problems(dst="+14155550101", media_ids=[1, 2])

    assert problem == (
        "media_ids must hold only strings; not strings: #0 is int 1, #1 is int 2: media IDs are the "
        "strings an upload returns (PlivoMediaUploadOperator's output, or media_id in "
        "hook.upload_media's records)"
    )
    assert "6 hours" not in problem


def test_every_field_is_reported_together_with_the_wrong_types_first():
    assert checked_problems(
        src=14155550100,
        dst=["+14155550101", None, "4155550102"],
        text="x" * 1601,
        media_urls={"a": 1},
    ) == [
        "dst must hold only strings; not strings: #1 is NoneType None "
        "(give one flat list of numbers as strings)",
        "media_urls must be a string or a list of strings (media URLs), got dict {'a': 1}",
        "src must be a string, got int 14155550100 "
        "(a number rendered as a native object loses its '+': quote it)",
        "text is 1,601 characters; Plivo takes at most 1,600",
    ]


def test_a_list_of_many_wrong_items_names_the_first_ten_and_counts_the_rest():
    (problem,) = checked_problems(dst=list(range(25)))

    assert "#9 is int 9 and 15 more" in problem
    assert "#10" not in problem


@pytest.mark.parametrize(
    "number",
    [
        "+\u0661\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0661",  # Arabic-Indic
        "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff11",  # fullwidth
        "+1415555\uff10101",  # one fullwidth digit among ASCII ones
    ],
)
def test_unicode_digits_fail_the_e164_check_by_name(number):
    assert problems(dst=[number]) == [
        f"dst number {number!r} is not in E.164 form: it holds digits other than 0-9 "
        "(Arabic-Indic, fullwidth...); write it with ASCII digits (e.g. +14155550101)"
    ]


def test_a_number_without_a_country_code_is_a_problem_named_not_a_parse_error():
    assert problems(dst=["+99912345678", "+14155550101"]) == [
        "dst number +99912345678 does not start with a country code (e.g. +1, +44)"
    ]


def test_north_american_numbers_read_without_parsing_are_what_phonenumbers_parses():
    import random

    import phonenumbers

    from airflow_provider_plivo.messages.rules import number_problem

    rng = random.Random(20)
    numbers = [f"+1{rng.randrange(2_000_000_000, 10_000_000_000)}" for _ in range(3_000)]

    def parsed_problem(number: str, *, is_mms: bool) -> str | None:
        parsed = phonenumbers.parse(number)
        if not phonenumbers.is_valid_number(parsed):
            return f"dst number {number} is not a valid North American number (area code or exchange)"
        if is_mms and phonenumbers.region_code_for_number(parsed) not in ("US", "CA"):
            return f"dst number {number}: Plivo sends MMS only to the US and Canada (+1)"
        return None

    for is_mms in (False, True):
        verdicts = [number_problem(n, is_mms=is_mms) for n in numbers]
        assert verdicts == [parsed_problem(n, is_mms=is_mms) for n in numbers]
        # Both kinds were compared:
        assert None in verdicts
        assert any(verdicts)
