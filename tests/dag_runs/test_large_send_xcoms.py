"""The XComs of a 100,000-number send stay within the sizes the README states."""

from __future__ import annotations

import json

import pytest

from airflow_provider_plivo.messages.delivery import sent_messages
from tests.support.dag_runs import task_states, xcom_value

README_LIMITS = {"return_value": 22, "messages": 30, "invalid_numbers": 17}
"""Characters a number, as the README's "XComs of large sends stay small" states them."""


@pytest.fixture
def plivo_sandbox_options() -> dict[str, object]:
    return {"kinder": True}


def test_a_100000_number_send_keeps_every_xcom_within_the_readme_limits(
    plivo_sandbox, run_dag, report_figure
):
    numbers = [
        f"+1{area}555{i:04d}"
        for area in (212, 310, 415, 617, 646, 702, 718, 773, 818, 917)
        for i in range(10_000)
    ]

    dag_run = run_dag("test_dags/large_send_dag.py", dst=numbers)

    assert task_states(dag_run) == {"send": "success"}
    sizes = {key: len(json.dumps(xcom_value(dag_run, "send", key=key))) for key in README_LIMITS}
    report_figure(
        "XComs of a 100,000-number send: "
        + ", ".join(f"{key} {size:,} characters" for key, size in sizes.items())
    )
    assert {key: size <= README_LIMITS[key] * len(numbers) for key, size in sizes.items()} == dict.fromkeys(
        README_LIMITS, True
    )
    messages = sent_messages(xcom_value(dag_run, "send", key="messages"))
    assert list(messages.values()) == numbers
    assert list(sent_messages(xcom_value(dag_run, "send"))) == list(messages)
    assert sorted(messages) == sorted(plivo_sandbox.messages)
