"""PlivoMessageSensor: wait until sent messages are delivered, or fail as soon as one is not."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.utils.templating import string_list
from airflow_provider_plivo.version_compat import AirflowFailException, conf

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

__all__ = ["PlivoMessageSensor"]


class PlivoMessageSensor(BaseSensorOperator):
    """
    Wait until every message reached one of ``success_states``; fail at once, without Airflow
    retries, when any reached one of ``failure_states``, naming each failed number with Plivo's
    error code. Works in ``poke`` and ``reschedule`` mode; with ``deferrable=True`` the wait
    runs in the triggerer (:class:`~airflow_provider_plivo.triggers.message.PlivoMessageTrigger`).

    Returns (XCom ``return_value``) the final ``{message_uuid: message_state}``.

    :param message_uuids: (templated) UUIDs from
        :class:`~airflow_provider_plivo.operators.message.PlivoSendMessageOperator`, e.g. ``send.output``.
    :param plivo_conn_id: the ``plivo`` connection the messages were sent with.
    :param success_states: states that count as done (Plivo's: ``delivered``; add ``sent`` for
        carriers that report no delivery).
    :param failure_states: states that fail the task at once.
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("message_uuids", "plivo_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"message_uuids": "json"}
    ui_color = "#fef7e0"

    def __init__(
        self,
        *,
        message_uuids: str | Sequence[str],
        plivo_conn_id: str = PlivoHook.default_conn_name,
        success_states: Sequence[str] = ("delivered",),
        failure_states: Sequence[str] = ("failed", "undelivered", "rejected"),
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if overlap := set(success_states) & set(failure_states):
            raise ValueError(f"states cannot be both success and failure: {sorted(overlap)}")
        self.message_uuids = message_uuids
        self.plivo_conn_id = plivo_conn_id
        self.success_states = tuple(success_states)
        self.failure_states = tuple(failure_states)
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PlivoHook:
        return PlivoHook(self.plivo_conn_id)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_plivo.triggers.message import PlivoMessageTrigger

        self.defer(
            trigger=PlivoMessageTrigger(
                message_uuids=self._uuids(),
                plivo_conn_id=self.plivo_conn_id,
                success_states=self.success_states,
                failure_states=self.failure_states,
                poll_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def poke(self, context: Context) -> PokeReturnValue:
        outcome = self.hook.delivery_outcome(
            self._uuids(), success_states=self.success_states, failure_states=self.failure_states
        )
        if outcome.failures:
            raise AirflowFailException(outcome.describe_failures())
        self.log.info(
            "%d of %d messages done; waiting for %s",
            len(outcome.states) - len(outcome.waiting),
            len(outcome.states),
            ", ".join(f"{uuid} ({outcome.states[uuid]})" for uuid in outcome.waiting) or "nothing",
        )
        return PokeReturnValue(is_done=outcome.done, xcom_value=outcome.states)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, str]:
        """Resume after the trigger fired: succeed with the states, or fail with its message."""
        if event["status"] != "success":
            raise AirflowFailException(event["message"])
        self.log.info("All %d messages reached a success state", len(event["states"]))
        return dict(event["states"])

    def _uuids(self) -> list[str]:
        uuids = string_list(self.message_uuids, argument="message_uuids")
        if not uuids:
            raise ValueError("message_uuids is empty: there is no message to wait for")
        return uuids
