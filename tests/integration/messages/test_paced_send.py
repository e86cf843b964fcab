"""The send operator's waves driven by hand, as Airflow before 3.3 runs them (no task state
store: each wave's answer in an XCom of the task), against the sandbox at signup speed on a
fast clock; and ``message_expiry`` on the wire."""

from __future__ import annotations

import time
from typing import Any

import pytest

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1 has it only in airflow.exceptions
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

SRC = "+14155550100"


class TaskInstance:
    """What the operator uses of ``context["ti"]``: its own XComs."""

    task_id = "send"
    map_index = -1

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, *, task_ids: str, key: str, map_indexes: int) -> Any:
        assert (task_ids, map_indexes) == (self.task_id, self.map_index)
        return self.xcoms.get(key)


def run_deferring(operator: PlivoSendMessageOperator, ti: TaskInstance) -> tuple[Any, int]:
    """Run ``operator`` as Airflow does, waiting out each deferral; its result and how often it deferred."""
    context: Any = {"ti": ti}
    method, deferrals = None, 0
    while True:
        try:
            result = operator.execute(context) if method is None else method(context, event=None)
        except TaskDeferred as deferred:
            deferrals += 1
            time.sleep(max(0.0, deferred.trigger.moment.timestamp() - time.time()))
            method = getattr(operator, deferred.method_name)
        else:
            return result, deferrals


def numbers(count: int) -> list[str]:
    return [f"+1{code}55501{n:02d}" for code in (201, 202, 203, 205, 206, 207) for n in range(100)][:count]


def test_without_a_task_state_store_the_waves_go_through_the_tasks_xcoms(plivo_sandbox_factory):
    # 600 MMS at 0.25 a second with a 1,000 s expiry: waves of 225, 225 and 150; 1,000 s last 0.5 s.
    sandbox = plivo_sandbox_factory(mps={"sms": 5.0, "mms": 0.25}, time_scale=2_000)
    audience = numbers(600)
    operator = PlivoSendMessageOperator(
        task_id="send", src=SRC, dst=audience, text="hi", message_params={"type": "mms"}, message_expiry=1_000
    )
    ti = TaskInstance()

    uuids, deferrals = run_deferring(operator, ti)

    assert deferrals == 2
    assert sorted(ti.xcoms) == ["invalid_numbers", "messages", "plivo_wave_1", "plivo_wave_2"]
    assert [r["number"] for r in ti.xcoms["messages"]] == audience
    assert uuids == [r["message_uuid"] for r in ti.xcoms["messages"]]
    stored = list(sandbox.messages.values())
    assert sorted(m.to_number for m in stored) == sorted(audience)
    assert [m.to_number for m in stored if m.error_code == "420"] == []
    sends = [r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/Message/")]
    assert sorted(len(r.json["dst"].split("<")) for r in sends) == [150, 225, 225]
    assert {r.json["message_expiry"] for r in sends} == {1_000}


def test_without_message_expiry_none_is_sent(plivo_sandbox):
    operator = PlivoSendMessageOperator(task_id="send", src=SRC, dst=numbers(2), text="hi")

    uuids, deferrals = run_deferring(operator, TaskInstance())

    assert (len(uuids), deferrals) == (2, 0)
    (send,) = [r for r in plivo_sandbox.requests if r.method == "POST" and r.path.endswith("/Message/")]
    assert "message_expiry" not in send.json


@pytest.mark.parametrize("pacing", [True, False])
def test_a_campaign_plivo_dispatches_in_time_goes_at_once_either_way(plivo_sandbox, pacing):
    operator = PlivoSendMessageOperator(task_id="send", src=SRC, dst=numbers(300), text="hi", pacing=pacing)

    uuids, deferrals = run_deferring(operator, TaskInstance())

    assert (len(uuids), deferrals) == (300, 0)
