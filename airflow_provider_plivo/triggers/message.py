"""PlivoMessageTrigger: wait for message delivery in the triggerer, holding no worker slot."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

__all__ = ["PlivoMessageTrigger"]


class PlivoMessageTrigger(BaseTrigger):
    """
    Poll Plivo every ``poll_interval`` seconds until every message reached a success state or
    any reached a failure state, then fire one event: ``{"status": "success" | "failure" |
    "error", "states": {uuid: state}, "message": str}``.

    The connection is fetched asynchronously; the HTTP calls run in a worker thread so the
    triggerer's event loop never blocks.
    """

    def __init__(
        self,
        *,
        message_uuids: Sequence[str],
        plivo_conn_id: str,
        success_states: Sequence[str],
        failure_states: Sequence[str],
        poll_interval: float,
    ) -> None:
        super().__init__()
        self.message_uuids = list(message_uuids)
        self.plivo_conn_id = plivo_conn_id
        self.success_states = list(success_states)
        self.failure_states = list(failure_states)
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "message_uuids": self.message_uuids,
                "plivo_conn_id": self.plivo_conn_id,
                "success_states": self.success_states,
                "failure_states": self.failure_states,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_plivo.exceptions import PlivoError
        from airflow_provider_plivo.hooks.plivo import PlivoHook

        hook = PlivoHook(self.plivo_conn_id)
        try:
            await hook.aload_connection()
            while True:
                outcome = await asyncio.to_thread(
                    hook.delivery_outcome,
                    self.message_uuids,
                    success_states=self.success_states,
                    failure_states=self.failure_states,
                )
                if outcome.failures:
                    yield TriggerEvent(
                        {
                            "status": "failure",
                            "states": outcome.states,
                            "message": outcome.describe_failures(),
                        }
                    )
                    return
                if outcome.done:
                    yield TriggerEvent({"status": "success", "states": outcome.states, "message": ""})
                    return
                await asyncio.sleep(self.poll_interval)
        except PlivoError as err:
            yield TriggerEvent({"status": "error", "states": {}, "message": str(err)})
