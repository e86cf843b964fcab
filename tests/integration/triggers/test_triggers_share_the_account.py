"""Deferred sensors of one account in one triggerer share one limiter: 200 triggers on one event
loop, as a triggerer runs them, against the sandbox."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.messages.delivery import FAILURE_STATES
from airflow_provider_plivo.transport.limiter import account_limiter
from airflow_provider_plivo.triggers.message import PlivoMessageTrigger
from tests.support.triggers import first_event

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox

TRIGGERS = 200


def test_200_deferred_sensors_for_one_account_share_one_limiter(plivo_sandbox_factory: Any):
    plivo_sandbox: PlivoSandbox = plivo_sandbox_factory(delivery_seconds=0.2)
    sent = PlivoHook().send_message(
        src="+14155550100", dst=[f"+1415555{n:04d}" for n in range(TRIGGERS)], text="hi"
    )
    triggers = [
        PlivoMessageTrigger(
            message_uuids=[uuid],
            plivo_conn_id="plivo_default",
            success_states=None,
            failure_states=FAILURE_STATES,
            poll_interval=0.2,
        )
        for uuid in sent
    ]

    async def run_all() -> list[dict[str, Any]]:
        return await asyncio.gather(*map(first_event, triggers))

    events = asyncio.run(run_all())

    assert [event["status"] for event in events] == ["success"] * TRIGGERS
    limiters = {id(trigger.hook.limiter.account) for trigger in triggers}
    assert limiters == {id(account_limiter(plivo_sandbox.url, "MASANDBOX00000000000"))}
    assert len({id(trigger.hook.limiter) for trigger in triggers}) == TRIGGERS  # each its own ceilings
    assert plivo_sandbox.peak_in_flight <= 100
