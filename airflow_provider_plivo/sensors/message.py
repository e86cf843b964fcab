"""PlivoMessageSensor: wait until sent messages are done, or fail as soon as one has failed."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_plivo._airflow.base import PlivoTask
from airflow_provider_plivo._airflow.fail_fast import fail_fast
from airflow_provider_plivo._airflow.outage import DEFAULT_OUTAGE_TIMEOUT, Outage, outage_seconds
from airflow_provider_plivo.exceptions import error_from_event
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.messages.delivery import FAILURE_STATES, DeliveryWatch, sent_messages
from airflow_provider_plivo.version_compat import AirflowFailException, conf

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

__all__ = ["FAILURE_STATES", "PlivoMessageSensor"]


class PlivoMessageSensor(PlivoTask, BaseSensorOperator):
    """
    Wait until every message is done; fail at once, without Airflow retries, when any reached one
    of ``failure_states``, naming each failed number with Plivo's error code.

    **When a message is done.** Carriers in the US and Canada send Plivo no delivery reports
    ("due to federal regulations"), so messages there, every MMS included, stay ``sent``; Plivo
    advises to "consider sent + delivered as delivered". By default a message to a US or
    Canadian number is therefore done at ``sent`` or ``delivered``, and a message elsewhere at
    ``delivered`` (``read``, WhatsApp's read receipt, counts as delivered everywhere). Give
    ``success_states`` to judge every message by those states instead.

    **Numbers we sent, not numbers Plivo shows.** Given the send's ``messages`` records
    (``XComArg(send, key="messages")``), the sensor judges each message by the number the send
    operator messaged. Given UUIDs only, it judges by Plivo's ``to_number``, which Plivo masks
    (``+141XXXXX528``) for a send with ``log=false``: a masked number has no country, so a US
    message would wait for a ``delivered`` that never comes there.

    **A UUID Plivo does not know** is named in the log and asked about again on the next polls
    (Plivo may not list a message the instant it is queued); still unknown after
    :data:`~airflow_provider_plivo.messages.delivery.UNKNOWN_MESSAGE_POLLS` polls over
    :data:`~airflow_provider_plivo.messages.delivery.UNKNOWN_MESSAGE_GRACE` seconds, it fails by
    name, and the failure reports where every other message stood (in ``reschedule`` mode,
    where each poke is a new process, counted from the first poke's date).

    Each poke logs the progress by state (``1,200 of 2,500 settled: 1,180 sent, 15 delivered, 5
    failed``); a failure names each failed message with Plivo's error code and reason
    (``error_message``, e.g. "Destination Country Disabled").

    Only messages not yet settled are asked about again, as many at a time as the hook's
    limiter allows (32 to start with). Works in ``poke`` and ``reschedule`` mode; with
    ``deferrable=True`` it pokes once on the worker (finishing there when every message is
    already done) and then waits in the triggerer
    (:class:`~airflow_provider_plivo.triggers.message.PlivoMessageTrigger`).

    **Outages.** A transient error while waiting (network, 429, 5xx, after the hook's own
    retries) does not fail the try at once: the sensor reads again after ``poke_interval`` (or
    sooner, so that the last read falls on the budget's end), logging each failure with its
    reason and the time left, until Plivo answers or ``outage_timeout`` has passed since the
    spell's first failure; then the try fails with the last error, so that Airflow's retries
    apply, in every mode alike (the task raises the same error class the trigger met). A good
    read ends the spell. Permanent errors (401/403, 400) fail the task at once. In ``poke`` and
    ``reschedule`` mode the poke rides the spell out itself, so a spell never spans a
    reschedule (a ``reschedule`` sensor holds its worker slot during an outage only); with
    ``deferrable=True`` the trigger does.

    **How long it waits.** Plivo dispatches an account's messages at its sending speed (the
    connection's ``mps``; at signup 5 SMS and 0.25 MMS a second) and queues the rest: 2,500 MMS
    take Plivo about 2 h 47 min. Unless ``timeout`` or ``poke_interval`` is given (as an
    argument or in ``default_args``), the first poke sets them from that time: the timeout to
    twice the dispatch time plus six hours for delivery reports, a poke every thirtieth of it
    (between a minute and half an hour), and logs both.

    Returns (XCom ``return_value``) the final ``{message_uuid: message_state}``.

    :param message_uuids: (templated) what
        :class:`~airflow_provider_plivo.operators.message.PlivoSendMessageOperator` sent: its
        ``messages`` records as they are (``XComArg(send, key="messages")``, a list of
        ``{"number", "message_uuid"}``, also as the JSON text templating renders), or its UUIDs
        (``send.output``).
    :param plivo_conn_id: (templated) the ``plivo`` connection the messages were sent with.
    :param success_states: states in which every message counts as done; None (the default)
        for Plivo's meaning per destination, above.
    :param failure_states: states that fail the task at once.
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    :param outage_timeout: how long a spell of transient errors may last, from its first failed
        read, before the try fails (a timedelta or seconds; default 10 minutes; 0 fails at the
        first one).
    :param hook_params: further :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook` arguments
        (retries, ceilings, ``adaptive``), also used by the trigger.
    """

    template_fields: Sequence[str] = ("message_uuids", "plivo_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"message_uuids": "json"}
    ui_color = "#fef7e0"

    def __init__(
        self,
        *,
        message_uuids: str | Sequence[str] | Sequence[Mapping[str, Any]],
        plivo_conn_id: str = PlivoHook.default_conn_name,
        success_states: Sequence[str] | None = None,
        failure_states: Sequence[str] = FAILURE_STATES,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        hook_params: dict[str, Any] | None = None,
        outage_timeout: timedelta | float = DEFAULT_OUTAGE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        # Timing the user left to Airflow's defaults follows how long Plivo needs to dispatch the
        # messages instead, known at the first poke. Airflow hands this class the task's and the
        # DAG's default_args merged, unapplied: its base class applies them.
        given = set(kwargs) | set(kwargs.get("default_args") or {})
        self._timing_from_dispatch = {"timeout", "poke_interval"} - given
        super().__init__(**kwargs)
        if overlap := set(success_states or ()) & set(failure_states):
            raise ValueError(f"states cannot be both success and failure: {sorted(overlap)}")
        self.message_uuids = message_uuids
        self._use_plivo(plivo_conn_id, hook_params)
        self.success_states = tuple(success_states) if success_states is not None else None
        self.failure_states = tuple(failure_states)
        self.deferrable = deferrable
        self.outage_timeout = outage_seconds(outage_timeout)

    @cached_property
    def watch(self) -> DeliveryWatch:
        """The states seen so far: in poke mode later pokes ask only about unsettled messages."""
        with fail_fast():
            messages = sent_messages(self.message_uuids, argument="message_uuids")
            if not messages:
                raise ValueError("message_uuids is empty: there is no message to wait for")
        return DeliveryWatch(messages, success_states=self.success_states, failure_states=self.failure_states)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        from airflow_provider_plivo.triggers.message import PlivoMessageTrigger

        unsettled = self.watch.unsettled()
        self.defer(
            trigger=PlivoMessageTrigger(
                message_uuids=unsettled,
                numbers=[self.watch.numbers[uuid] for uuid in unsettled],
                plivo_conn_id=self.plivo_conn_id,
                hook_params=self.hook_params,
                success_states=self.success_states,
                failure_states=self.failure_states,
                poll_interval=self.poke_interval,
                outage_timeout=self.outage_timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def poke(self, context: Context) -> PokeReturnValue:
        watch = self.watch
        if self.reschedule:
            self._count_earlier_pokes(context, watch)
        asked = watch.unsettled()
        with fail_fast():
            answers = self._read(asked)
            outcome = watch.update(answers, asked=asked)
        if self._timing_from_dispatch:
            self._time_by_dispatch(answers, len(outcome.states))
        if outcome.failures:
            raise AirflowFailException(outcome.describe_failures())
        if missing := watch.missing():
            self.log.warning(
                "Plivo does not know %d messages yet, asking again at the next polls: %s",
                len(missing),
                _sample(missing, outcome.states),
            )
        self.log.info(
            "%s%s",
            outcome.describe_progress(),
            f"; waiting for {_sample(outcome.waiting, outcome.states)}" if outcome.waiting else "",
        )
        return PokeReturnValue(is_done=outcome.done, xcom_value=outcome.states)

    def _read(self, asked: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Plivo's records of ``asked``, reading again through an outage within ``outage_timeout``."""
        outage = Outage(budget=self.outage_timeout, log=self.log)
        while True:
            try:
                answers = self.hook.get_messages(asked)
            except Exception as err:
                time.sleep(outage.failed(err, self.poke_interval))
                continue
            outage.answered()
            return answers

    def _time_by_dispatch(self, answers: Mapping[str, Mapping[str, Any]], count: int) -> None:
        """Set the timeout and poke interval the user did not set from the time Plivo needs to
        dispatch all ``count`` messages at the account's speed (the connection's ``mps``), by
        type (see :func:`~airflow_provider_plivo.messages.pacing.sensor_timing`). Messages not in
        ``answers`` (settled at an earlier poke in reschedule mode, or not known yet) count as the
        type most answers have, MMS (the slower) when none came: every poke of a run then
        arrives at about the same timing, which is measured from the first."""
        from airflow_provider_plivo.messages.pacing import duration, sensor_timing

        speed = self.hook.sending_speed
        types = [str(message.get("message_type") or "mms").lower() for message in answers.values()]
        usual = max(set(types), key=types.count) if types else "mms"
        types += [usual] * (count - len(types))
        dispatch = sum(speed.dispatch_seconds(1, message_type) for message_type in types)
        timing = sensor_timing(dispatch, time_scale=speed.time_scale)
        if "timeout" in self._timing_from_dispatch:
            self.timeout = timing.timeout
        if "poke_interval" in self._timing_from_dispatch:
            self.poke_interval = timing.poke_interval
        self._timing_from_dispatch = set()
        self.log.info(
            "Plivo needs about %s to dispatch %d messages at this account's speed: "
            "timeout %s, a poke every %s",
            duration(speed.real_seconds(dispatch)),
            count,
            duration(self.timeout),
            duration(self.poke_interval),
        )

    def _count_earlier_pokes(self, context: Context, watch: DeliveryWatch) -> None:
        """In ``reschedule`` mode each poke is a new process: tell the watch how long the
        messages were watched before, from the first poke's date Airflow keeps, so that a UUID
        Plivo does not know still fails. The earlier pokes are counted at one per
        ``poke_interval``, which a busy scheduler or ``exponential_backoff`` only thins out."""
        from datetime import datetime, timezone

        first = context["ti"].get_first_reschedule_date(context)
        if first is not None:
            seconds = max(0.0, (datetime.now(timezone.utc) - first).total_seconds())
            watch.watched_before(polls=int(seconds // max(self.poke_interval, 1e-3)), seconds=seconds)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, str]:
        """Resume after the trigger fired: succeed with the states, fail at once on a delivery
        failure or a permanent error, and fail the try (Airflow retries) on a transient one,
        raising the error the trigger met, with its class and attributes."""
        status = event["status"]
        if status == "success":
            self.log.info("All %d messages are done", len(event["states"]))
            return dict(event["states"])
        if status == "error":
            self.log.error("Waiting in the triggerer failed: %s", event["message"])
            with fail_fast():
                raise error_from_event(event["error"])
        raise AirflowFailException(event["message"])


def _sample(uuids: Sequence[str], states: dict[str, str], shown: int = 10) -> str:
    """The first few waiting messages with their states, so a long wait stays readable."""
    text = ", ".join(f"{uuid} ({states[uuid]})" for uuid in uuids[:shown])
    return text + (f" and {len(uuids) - shown} more" if len(uuids) > shown else "")
