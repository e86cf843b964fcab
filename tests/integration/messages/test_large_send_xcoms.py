"""The XComs of a 100,000-number send stay within the sizes the README states.

Run through the operator's ``execute`` against the sandbox over HTTP, its XComs caught as
pushed (``dag.test()`` adds minutes of task state store calls to it and nothing to the XComs)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from airflow_provider_plivo.messages.delivery import sent_messages
from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

README_LIMITS = {"return_value": 22, "messages": 30, "invalid_numbers": 17}
"""Characters a number, as the README's "XComs of large sends stay small" states them."""


@pytest.fixture
def plivo_sandbox_options() -> dict[str, object]:
    # Fast enough for Plivo to dispatch 100,000 SMS within the expiry: one wave, no deferral.
    return {"kinder": True, "mps": 10_000}


class PushedXComs:
    """What a task instance is asked to push, by key."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_a_100000_number_send_keeps_every_xcom_within_the_readme_limits(plivo_sandbox, report_figure):
    areas = (212, 310, 415, 617, 646, 702, 718, 773, 818, 917)
    numbers = [f"+1{area}555{i:04d}" for area in areas for i in range(10_000)]
    ti = PushedXComs()
    operator = PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst=numbers,
        text="large send",
        hook_params={"max_concurrency": 10},
    )

    ti.pushed["return_value"] = operator.execute(cast("Any", {"ti": ti}))

    sizes = {key: len(json.dumps(ti.pushed[key])) for key in README_LIMITS}
    report_figure(
        "XComs of a 100,000-number send: "
        + ", ".join(f"{key} {size:,} characters" for key, size in sizes.items())
    )
    assert {key: size <= README_LIMITS[key] * len(numbers) for key, size in sizes.items()} == dict.fromkeys(
        README_LIMITS, True
    )
    messages = sent_messages(ti.pushed["messages"])
    assert list(messages.values()) == numbers
    assert list(sent_messages(ti.pushed["return_value"])) == list(messages)
    assert sorted(messages) == sorted(plivo_sandbox.messages)
