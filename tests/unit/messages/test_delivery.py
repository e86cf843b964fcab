"""The delivery watch: judged by the numbers we sent, progress by state, Plivo's reasons in every
failure, ``read`` and ``deleted``, and a UUID Plivo does not know."""

from __future__ import annotations

import json

import pytest

from airflow_provider_plivo.messages.delivery import (
    FAILURE_STATES,
    DeliveryWatch,
    delivery_outcome,
    sent_messages,
)

US = "+14155550101"
UK = "+447700900123"
MASKED = "141XXXXX101"  # Plivo's to_number for a send with log=false: no country can be told
RECORDS = [{"number": US, "message_uuid": "u1"}, {"number": UK, "message_uuid": "u2"}]


def record(state: str, to: str = MASKED, **more: str) -> dict[str, str]:
    return {"message_state": state, "to_number": to, **more}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "given",
    [
        RECORDS,
        json.dumps(RECORDS),  # XComArg(send, key="messages") rendered into a template as JSON
        str(RECORDS),  # ... or as Python's repr
        tuple(RECORDS),
    ],
)
def test_the_sends_records_are_taken_as_they_are(given):
    assert sent_messages(given) == {"u1": US, "u2": UK}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["u1", "u2"], {"u1": None, "u2": None}),
        ("u1", {"u1": None}),
        ("['u1', 'u2']", {"u1": None, "u2": None}),
        ('["u1"]', {"u1": None}),
        ({"number": US, "message_uuid": "u1"}, {"u1": US}),
        ([{"message_uuid": "u1", "number": ""}], {"u1": None}),
    ],
)
def test_plain_uuids_keep_working(given, expected):
    assert sent_messages(given) == expected


def test_entries_that_are_neither_are_named_by_position():
    with pytest.raises(TypeError, match=r"not one: #1 \{'number': '\+1'\}, #2 7"):
        sent_messages(["u1", {"number": "+1"}, 7])
    with pytest.raises(TypeError, match="got int"):
        sent_messages(7)


def test_a_masked_us_number_is_done_at_sent_when_the_sensor_has_the_number_we_sent():
    watch = DeliveryWatch(sent_messages(RECORDS), success_states=None, failure_states=FAILURE_STATES)

    outcome = watch.update(
        {"u1": record("sent"), "u2": record("delivered", "447XXXXX123")}, asked=["u1", "u2"]
    )

    assert outcome.done
    assert outcome.states == {"u1": "sent", "u2": "delivered"}


def test_without_the_numbers_a_masked_us_number_waits_for_a_delivery_that_never_comes():
    watch = DeliveryWatch(["u1"], success_states=None, failure_states=FAILURE_STATES)

    outcome = watch.update({"u1": record("sent")}, asked=["u1"])

    assert outcome.waiting == ["u1"]


def test_a_uk_message_that_was_sent_is_not_done_until_delivered():
    watch = DeliveryWatch(sent_messages(RECORDS), success_states=None, failure_states=FAILURE_STATES)

    assert watch.update({"u1": record("sent"), "u2": record("sent")}, asked=["u1", "u2"]).waiting == ["u2"]


def test_read_counts_as_delivered_everywhere_and_deleted_fails():
    messages = {"u1": record("read", US), "u2": record("read", UK)}
    assert delivery_outcome(messages, success_states=None, failure_states=FAILURE_STATES).done

    deleted = delivery_outcome(
        {"u1": record("deleted", US, error_code="", error_message="")},
        success_states=None,
        failure_states=FAILURE_STATES,
    )
    assert deleted.failures == ["u1 to +14155550101 deleted (Plivo error code )"]


def test_every_failure_line_carries_plivos_error_code_and_reason_with_the_number_we_sent():
    watch = DeliveryWatch(sent_messages(RECORDS), success_states=None, failure_states=FAILURE_STATES)

    outcome = watch.update(
        {
            "u1": record("sent"),
            "u2": record(
                "failed", "447XXXXX123", error_code="450", error_message="Destination Country Disabled"
            ),
        },
        asked=["u1", "u2"],
    )

    assert outcome.failures == [
        "u2 to +447700900123 failed (Plivo error code 450: Destination Country Disabled)"
    ]
    assert outcome.describe_failures() == (
        "1 of 2 messages failed: u2 to +447700900123 failed (Plivo error code 450: Destination "
        "Country Disabled) (2 of 2 settled: 1 sent, 1 failed)"
    )


def test_progress_counts_the_settled_messages_by_state_most_common_first():
    states = ["sent"] * 1180 + ["delivered"] * 15 + ["failed"] * 5 + ["queued"] * 1300
    messages = {f"u{i}": record(state, US) for i, state in enumerate(states)}

    outcome = delivery_outcome(messages, success_states=None, failure_states=FAILURE_STATES)

    assert outcome.describe_progress() == "1,200 of 2,500 settled: 1,180 sent, 15 delivered, 5 failed"
    assert (
        delivery_outcome(
            {"u1": record("queued")}, success_states=None, failure_states=FAILURE_STATES
        ).describe_progress()
        == "0 of 1 settled"
    )


def test_an_unknown_uuid_is_asked_again_then_fails_by_name_and_the_others_are_still_reported():
    clock = Clock()
    watch = DeliveryWatch(
        {"u1": US, "u2": US, "gone": US}, success_states=None, failure_states=FAILURE_STATES, clock=clock
    )

    def poll(seconds_later: float, **answers: dict[str, str]):
        clock.now += seconds_later
        asked = watch.unsettled()
        return asked, watch.update(answers, asked=asked)

    asked, outcome = poll(0, u1=record("sent"), u2=record("queued"))
    assert (outcome.failures, watch.missing(), outcome.waiting) == ([], ["gone"], ["u2", "gone"])
    # Three polls are not enough within the first minute: Plivo may not list it yet.
    poll(10, u2=record("queued"))
    asked, outcome = poll(10, u2=record("queued"))
    assert asked == ["u2", "gone"]
    assert outcome.failures == []
    # A minute and three polls later it is not one of this account's messages.
    asked, outcome = poll(45, u2=record("queued"))
    assert outcome.failures == [
        "gone to +14155550101: Plivo does not know this message (not found on 4 polls over 65 s: "
        "sent from another account, or mistyped?)"
    ]
    assert outcome.states == {"u1": "sent", "u2": "queued", "gone": "not found"}
    assert outcome.describe_failures().endswith("(2 of 3 settled: 1 sent, 1 not found)")
    assert watch.unsettled() == ["u2"]  # the others are still watched, and not failed


def test_a_uuid_that_shows_up_late_is_judged_as_any_other():
    clock = Clock()
    watch = DeliveryWatch(["late"], success_states=None, failure_states=FAILURE_STATES, clock=clock)

    for _ in range(2):
        clock.now += 50
        watch.update({}, asked=["late"])
    clock.now += 50
    outcome = watch.update({"late": record("sent", US)}, asked=["late"])

    assert outcome.done
    assert watch.missing() == []


def test_a_few_quick_polls_do_not_fail_an_unknown_uuid_within_the_grace():
    clock = Clock()
    watch = DeliveryWatch(["slow"], success_states=None, failure_states=FAILURE_STATES, clock=clock)

    for _ in range(20):
        clock.now += 1
        outcome = watch.update({}, asked=["slow"])

    assert (outcome.failures, outcome.waiting) == ([], ["slow"])
