"""PlivoMessageTrigger: wait for message delivery in the triggerer, holding no worker slot."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from airflow_provider_plivo.client import AsyncPlivoClient
    from airflow_provider_plivo.hooks.plivo import PlivoHook
    from airflow_provider_plivo.utils.message_rules import DeliveryWatch

__all__ = ["PlivoMessageTrigger"]


class PlivoMessageTrigger(BaseTrigger):
    """
    Poll Plivo every ``poll_interval`` seconds until every message is done or any failed, then
    fire one event: ``{"status": "success" | "failure" | "error", "states": {uuid: state},
    "message": str, "retryable": bool}``. ``retryable`` is true for an error a later try may not
    meet (network, 5xx after the hook's own retries).

    ``success_states`` None means Plivo's meaning per destination (see
    :class:`~airflow_provider_plivo.sensors.message.PlivoMessageSensor`). Each poll asks only
    about messages not yet settled, as many at a time as the hook's limiter allows. Everything
    runs on the triggerer's event loop without blocking it: the connection is fetched
    asynchronously and the calls go through
    :class:`~airflow_provider_plivo.client.AsyncPlivoClient` (httpx), with the hook's timeouts,
    retries and errors.
    """

    def __init__(
        self,
        *,
        message_uuids: Sequence[str],
        plivo_conn_id: str,
        success_states: Sequence[str] | None,
        failure_states: Sequence[str],
        poll_interval: float,
    ) -> None:
        super().__init__()
        self.message_uuids = list(message_uuids)
        self.plivo_conn_id = plivo_conn_id
        self.success_states = list(success_states) if success_states is not None else None
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
        from airflow_provider_plivo.client import is_transient
        from airflow_provider_plivo.exceptions import PlivoError
        from airflow_provider_plivo.hooks.plivo import PlivoHook
        from airflow_provider_plivo.utils.message_rules import DeliveryWatch

        hook = PlivoHook(self.plivo_conn_id)
        watch = DeliveryWatch(
            self.message_uuids, success_states=self.success_states, failure_states=self.failure_states
        )
        try:
            async with await hook.aget_client() as client:
                async for event in self._poll(hook, client, watch):
                    yield event
        except PlivoError as err:
            yield _event("error", watch.outcome().states, str(err), retryable=is_transient(err))

    async def _poll(
        self, hook: PlivoHook, client: AsyncPlivoClient, watch: DeliveryWatch
    ) -> AsyncIterator[TriggerEvent]:
        """Ask about the unsettled messages every ``poll_interval`` until one event settles it all."""
        reported = -1
        while True:
            outcome = watch.update(await hook.aget_messages(client, watch.unsettled()))
            if outcome.failures:
                yield _event("failure", outcome.states, outcome.describe_failures())
                return
            if outcome.done:
                yield _event("success", outcome.states)
                return
            done = len(outcome.states) - len(outcome.waiting)
            if done != reported:  # progress, not one line per poll from every waiting trigger
                self.log.info("%d of %d messages done", done, len(outcome.states))
                reported = done
            await asyncio.sleep(self.poll_interval)


def _event(
    status: str, states: dict[str, str], message: str = "", *, retryable: bool = False
) -> TriggerEvent:
    return TriggerEvent({"status": status, "states": states, "message": message, "retryable": retryable})
