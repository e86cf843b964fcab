"""PlivoMessageTrigger: wait for message delivery in the triggerer, holding no worker slot."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_plivo._airflow.base import PlivoHookUser
from airflow_provider_plivo._airflow.outage import DEFAULT_OUTAGE_TIMEOUT, Outage, outage_seconds

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from airflow_provider_plivo.hooks.plivo import PlivoHook
    from airflow_provider_plivo.messages.delivery import DeliveryWatch
    from airflow_provider_plivo.transport.async_client import AsyncPlivoClient

__all__ = ["PlivoMessageTrigger"]


class PlivoMessageTrigger(PlivoHookUser, BaseTrigger):
    """
    Poll Plivo every ``poll_interval`` seconds until every message is done or any failed, then
    fire one event: ``{"status": "success" | "failure" | "error", "states": {uuid: state},
    "message": str}``; an error event also carries ``error``, the error's class and attributes
    (:func:`~airflow_provider_plivo.exceptions.error_to_event`), whatever the exception was.

    ``success_states`` None means Plivo's meaning per destination (see
    :class:`~airflow_provider_plivo.sensors.message.PlivoMessageSensor`), judged by ``numbers``
    (the number each of ``message_uuids`` was sent to, in the same order; None where unknown)
    rather than Plivo's ``to_number``, which a send with ``log=false`` masks. The numbers travel
    as a list beside the UUIDs, not as records, to keep the trigger's stored arguments small
    (about 16 bytes a message). Each poll asks only about messages not yet settled, as many at
    a time as the hook's limiter allows, and the progress by state is logged when it changed; a
    UUID Plivo does not know is asked about on a few more polls, then fails by name (see the
    sensor). A spell of transient errors is ridden out for ``outage_timeout`` seconds from its
    first failed poll, as the sensor does; past it the error event carries the last error.
    Everything runs on the triggerer's event loop without blocking it: the connection
    is fetched asynchronously and the calls go through
    :class:`~airflow_provider_plivo.transport.client.AsyncPlivoClient` (httpx), with the hook's
    timeouts, retries and errors.
    """

    def __init__(
        self,
        *,
        message_uuids: Sequence[str],
        plivo_conn_id: str,
        success_states: Sequence[str] | None,
        failure_states: Sequence[str],
        poll_interval: float,
        numbers: Sequence[str | None] | None = None,
        hook_params: dict[str, Any] | None = None,
        outage_timeout: float = DEFAULT_OUTAGE_TIMEOUT.total_seconds(),
    ) -> None:
        super().__init__()
        self.message_uuids = list(message_uuids)
        self.numbers = list(numbers) if numbers is not None and any(numbers) else None
        if self.numbers is not None and len(self.numbers) != len(self.message_uuids):
            raise ValueError(
                f"numbers must match message_uuids one to one: {len(self.numbers)} numbers "
                f"for {len(self.message_uuids)} messages"
            )
        self._use_plivo(plivo_conn_id, hook_params)
        self.success_states = list(success_states) if success_states is not None else None
        self.failure_states = list(failure_states)
        self.poll_interval = poll_interval
        self.outage_timeout = outage_seconds(outage_timeout)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "message_uuids": self.message_uuids,
                "numbers": self.numbers,
                "plivo_conn_id": self.plivo_conn_id,
                "success_states": self.success_states,
                "failure_states": self.failure_states,
                "poll_interval": self.poll_interval,
                "hook_params": self.hook_params,
                "outage_timeout": self.outage_timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_plivo.exceptions import error_to_event
        from airflow_provider_plivo.messages.delivery import DeliveryWatch

        watch = DeliveryWatch(
            dict(zip(self.message_uuids, self.numbers or [None] * len(self.message_uuids), strict=True)),
            success_states=self.success_states,
            failure_states=self.failure_states,
        )
        outage = Outage(budget=self.outage_timeout, log=self.log)
        try:
            async with await self.hook.aget_client() as client:
                async for event in self._poll(self.hook, client, watch, outage):
                    yield event
        except Exception as err:  # any error ends the wait with an event, never silently
            self.log.warning("Waiting for %d messages failed: %s", len(self.message_uuids), err)
            yield TriggerEvent(
                {
                    "status": "error",
                    "states": watch.outcome().states,
                    "message": outage.verdict or str(err),
                    "error": error_to_event(err),
                }
            )

    async def _poll(
        self, hook: PlivoHook, client: AsyncPlivoClient, watch: DeliveryWatch, outage: Outage
    ) -> AsyncIterator[TriggerEvent]:
        """Ask about the unsettled messages every ``poll_interval`` until one event settles it all."""
        reported = ""
        while True:
            asked = watch.unsettled()
            try:
                answers = await hook.aget_messages(client, asked)
            except Exception as err:
                await asyncio.sleep(outage.failed(err, self.poll_interval))
                continue
            outage.answered()
            outcome = watch.update(answers, asked=asked)
            if outcome.failures:
                yield _event("failure", outcome.states, outcome.describe_failures())
                return
            if outcome.done:
                yield _event("success", outcome.states)
                return
            progress = outcome.describe_progress()
            missing = watch.missing()
            if missing:
                more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                progress += f"; Plivo does not know {len(missing)} yet: {', '.join(missing[:10])}{more}"
            if progress != reported:  # progress, not one line per poll from every waiting trigger
                self.log.info("%s", progress)
                reported = progress
            await asyncio.sleep(self.poll_interval)


def _event(status: str, states: dict[str, str], message: str = "") -> TriggerEvent:
    return TriggerEvent({"status": status, "states": states, "message": message})
