"""PlivoSendMessageOperator: send one SMS or MMS to any number of recipients, exactly once each."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_plivo._airflow.base import PlivoTask
from airflow_provider_plivo._airflow.fail_fast import fail_fast
from airflow_provider_plivo._airflow.send_ledger import CampaignProgress, TaskStateSendLedger, XComWaves
from airflow_provider_plivo._airflow.templating import rendered_message
from airflow_provider_plivo.exceptions import PlivoMessageValidationError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.limits import DEFAULT_MESSAGE_EXPIRY
from airflow_provider_plivo.messages.compact import COMPACT_ABOVE, compact_messages, compact_uuids
from airflow_provider_plivo.messages.pacing import checked_expiry, duration
from airflow_provider_plivo.messages.rules import checked_message, destination_numbers
from airflow_provider_plivo.messages.sender import SentMessages
from airflow_provider_plivo.version_compat import task_state_store

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from airflow.sdk import Context

    from airflow_provider_plivo.messages.pacing import SendingSpeed

__all__ = ["PlivoSendMessageOperator"]


class PlivoSendMessageOperator(PlivoTask, BaseOperator):
    """
    Send a message through Plivo to any number of recipients and return its message UUIDs (one
    per number messaged).

    ``dst`` may hold any number of numbers: each gets one message however often it is listed,
    and they go to Plivo in requests of at most 1,000. The type is ``mms`` when media is given;
    ``media_ids=upload.output`` takes the IDs from a
    :class:`~airflow_provider_plivo.operators.media.PlivoMediaUploadOperator` as they are.
    Everything is checked before sending: ``src`` or ``powerpack_uuid``, numbers in E.164 form
    (North American ones against the numbering plan), at most 10 media, text at most 1,600
    characters, MMS only to the US and Canada.

    XComs: ``return_value`` the UUIDs; ``messages`` who got which (``[{"number",
    "message_uuid"}]``, for downstream tasks and the sensor); ``invalid_numbers`` the numbers
    Plivo refused as invalid (also logged as a warning; the task still succeeds, as the others
    were messaged). A send that messages more than 1,000 numbers pushes ``return_value`` and
    ``messages`` as compact objects instead of lists (under 30 characters a number, see
    :mod:`~airflow_provider_plivo.messages.compact`): the sensor takes them as they are, and
    :func:`~airflow_provider_plivo.messages.delivery.sent_messages` reads them back in a
    downstream task.

    **Sending speed.** Plivo dispatches an account's messages at its outbound MPS (the
    connection's extra ``mps``; at signup 5 SMS and 0.25 MMS a second) and queues the rest; a
    message still queued after ``message_expiry`` seconds fails (error 420, not charged). Before
    sending, the task logs how long Plivo needs to dispatch the message ("2,500 MMS at 0.25 per
    second: Plivo needs about 2 h 47 min to dispatch them"). Where that exceeds the expiry, with
    ``pacing`` (the default) the numbers go in waves that Plivo each dispatches within 90 % of the
    expiry (2,430 MMS at signup speed), and the task waits deferred between them (no worker slot
    held) as long as the previous wave needs to drain; each wave is logged ("wave 2 of 5: 2,430
    numbers; 4,860 of 10,000 sent; next wave in 2 h 42 min"). The XComs cover the whole campaign.
    With ``pacing=False`` the task fails before sending anything, saying how many messages would
    expire and the ways out. See :mod:`airflow_provider_plivo.messages.pacing`.

    Retries are safe on Airflow 3.3+: each request is recorded in the task state store before it
    goes and once answered, so a later try reuses the answers and looks up a request whose
    answer never came in Plivo's message list: no number is messaged twice. Before 3.3 a retry
    sends again to every number. Errors no retry can fix (bad input, refused credentials, unknown
    media, a message Plivo refuses) fail the task at once, without using its retries. A paced
    campaign keeps its waves in the same task state store, so a retry resumes with the first
    number not yet messaged, once Plivo has dispatched the last wave. Before 3.3 each wave's answer
    is kept in an XCom of the task (``plivo_wave_1``...; pushed even with ``do_xcom_push=False``,
    as the next wave needs it): every number is messaged once across the waves and deferrals of
    one try, but a retry starts again from the first number.

    :param src: (templated) the sending number, E.164.
    :param dst: (templated) a number, a list of numbers, or numbers joined with ``<``.
    :param text: (templated) up to 1,600 characters.
    :param media_ids: (templated) media IDs from an upload; with ``media_urls``, at most 10.
    :param media_urls: (templated) public URLs of media to attach.
    :param powerpack_uuid: send from a Powerpack instead of ``src``.
    :param plivo_conn_id: (templated) the ``plivo`` connection; upload and send with the same account.
    :param message_params: further Plivo message parameters (``url``, ``method``, ``log``...).
    :param message_expiry: seconds a message may wait in Plivo's queue before it fails, 5 to
        10,800 (sent to Plivo as ``message_expiry``); None keeps Plivo's default, 10,800.
    :param pacing: send a campaign Plivo cannot dispatch within the expiry in waves, deferred
        between them; False fails such a campaign before anything is sent.
    :param hook_params: further :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook` arguments
        (retries, ceilings, ``adaptive``), e.g. ``{"max_concurrency": 20}``.
    """

    template_fields: Sequence[str] = ("src", "dst", "text", "media_ids", "media_urls", "plivo_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "dst": "json",
        "media_ids": "json",
        "media_urls": "json",
    }
    # No template_ext: a text ending in .txt or .csv is a message, not a template file to read.
    template_ext: Sequence[str] = ()
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        src: str | None = None,
        dst: str | Sequence[str],
        text: str | None = None,
        media_ids: str | Sequence[str] | None = None,
        media_urls: str | Sequence[str] | None = None,
        powerpack_uuid: str | None = None,
        plivo_conn_id: str = PlivoHook.default_conn_name,
        message_params: dict[str, Any] | None = None,
        message_expiry: int | None = None,
        pacing: bool = True,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if message_expiry is not None and "message_expiry" in (message_params or {}):
            raise ValueError("message_expiry is given twice (also in message_params): give it once")
        self.message_expiry = checked_expiry(
            message_expiry if message_expiry is not None else (message_params or {}).get("message_expiry")
        )
        self.pacing = pacing
        self.src = src
        self.dst = dst
        self.text = text
        self.media_ids = media_ids
        self.media_urls = media_urls
        self.powerpack_uuid = powerpack_uuid
        self.message_params = message_params or {}
        self._use_plivo(plivo_conn_id, hook_params)

    def execute(self, context: Context) -> list[str] | dict[str, Any] | None:
        store = task_state_store(context)
        with fail_fast():
            earlier = TaskStateSendLedger(store).progress() if store is not None else None
        campaign = self._campaign(done=earlier.done if earlier else set())
        self.log.info(campaign.speed.describe(len(campaign.numbers), campaign.message_type))
        problem = campaign.speed.expiry_problem(len(campaign.numbers), campaign.message_type, campaign.expiry)
        if problem and not self.pacing:
            with fail_fast():
                raise PlivoMessageValidationError([problem])
        if store is None:
            self.log.info(
                "Airflow before 3.3 has no task state store: a retry of this task messages every number again"
            )
        return self._send_next_wave(context, campaign, resumed=False, earlier=earlier)

    def execute_next_wave(self, context: Context, event: Any = None) -> list[str] | dict[str, Any] | None:
        """Resume after the wait between two waves: Airflow calls it once the trigger fired."""
        return self._send_next_wave(context, self._campaign(done=None), resumed=True)

    def _campaign(self, *, done: Collection[str] | None) -> _Campaign:
        """The checked message, its numbers and how Plivo will dispatch them.

        Checking 10,000 numbers takes about a second, so each is checked once: before the first
        wave, every number but those in ``done``.

        :param done: the numbers earlier tries messaged or Plivo refused (they were checked
            then); None on resuming between waves, where only the message and the first number
            are checked (each wave's numbers are when it is sent).
        """
        message = rendered_message(self)
        params = dict(self.message_params)
        if self.message_expiry is not None:
            params["message_expiry"] = self.message_expiry
        with fail_fast():
            dst = message.pop("dst")
            if done is not None and not done:
                # Every field at once, their types first: one error names every problem.
                payload, numbers = checked_message(**message, dst=dst, **params)
            else:
                numbers = destination_numbers(dst)
                unchecked = [number for number in numbers if number not in done] if done else []
                payload, _ = checked_message(**message, dst=unchecked or numbers[:1], **params)
            speed = self.hook.sending_speed
        message_type = str(payload.get("type", "sms"))
        expiry = self.message_expiry or DEFAULT_MESSAGE_EXPIRY
        return _Campaign(
            message={**message, **params},
            payload=payload if done is not None else None,
            numbers=numbers,
            message_type=message_type,
            speed=speed,
            expiry=expiry,
            waves=speed.waves(len(numbers), message_type, expiry),
        )

    def _send_next_wave(
        self,
        context: Context,
        campaign: _Campaign,
        *,
        resumed: bool,
        earlier: CampaignProgress | None = None,
    ) -> list[str] | dict[str, Any] | None:
        """Send the next wave of ``campaign`` (all of it when one wave is enough); then wait,
        deferred, for Plivo to dispatch it, or finish with the XComs of the whole campaign.

        :param resumed: this try already sent waves (before 3.3 they are in XComs of this try
            only: a try's start has none to read).
        :param earlier: what the ledger says earlier tries did, when already read.
        """
        store = task_state_store(context)
        ledger = TaskStateSendLedger(store) if store is not None else None
        with fail_fast():
            if earlier is None and ledger is not None:
                earlier = ledger.progress()
            elif earlier is None:
                earlier = XComWaves(context["ti"]).progress() if resumed else CampaignProgress({}, [], [])
        speed, kind, numbers = campaign.speed, campaign.message_type, campaign.numbers
        paced = len(campaign.waves) > 1
        done = earlier.done
        remaining = [number for number in numbers if number not in done]
        messages, invalid = dict(earlier.messages), list(earlier.invalid_numbers)
        if remaining:
            if paced and (wait := speed.drained_at(earlier.sends, kind) - time.time()) > 0:
                # A retry, or a resume before its time: the previous wave is still queued at Plivo.
                self.log.info(
                    "Plivo is still dispatching the previous wave: the next one goes in %s", duration(wait)
                )
                self._wait(wait)
            wave = remaining[: campaign.waves[0]] if paced else remaining
            with fail_fast():
                # With a ledger, a number of the wave whose request's answer never came (a try
                # that failed mid-wave) is looked up in Plivo's message list before it is sent.
                if campaign.payload is not None:
                    sent = self.hook.send_checked_message(campaign.payload, wave, ledger=ledger)
                else:
                    sent = self.hook.send_message(**campaign.message, dst=wave, ledger=ledger)
            # The queue is taken to start draining once the wave is answered: later than it does
            # (the checks and requests before took a moment), so the next wave waits a bit more.
            sent_at = time.time()
            queued = sum(1 for record in sent.messages if record["number"] not in messages)
            messages.update((record["number"], record) for record in sent.messages)
            invalid.extend(number for number in sent.invalid_numbers if number not in invalid)
            left = len(remaining) - len(wave)
            if paced:
                size = campaign.waves[0]
                number = math.ceil((len(numbers) - len(remaining)) / size) + 1
                line = (
                    f"wave {number} of {number + math.ceil(left / size)}: {len(wave):,} numbers; "
                    f"{len(messages):,} of {len(numbers):,} sent"
                )
                if not left:
                    self.log.info(line)
                else:
                    if ledger is None:
                        XComWaves(context["ti"]).record(len(earlier.sends) + 1, sent_at, sent)
                    wait = speed.drained_at([*earlier.sends, (sent_at, queued)], kind) - time.time()
                    self.log.info("%s; next wave in %s", line, _wait_text(speed, wait))
                    self._wait(wait)
        result = SentMessages([messages[number] for number in numbers if number in messages], invalid)
        large = len(result) > COMPACT_ABOVE
        if self.do_xcom_push:
            records = compact_messages(result.messages) if large else result.messages
            context["ti"].xcom_push(key="messages", value=records)
            context["ti"].xcom_push(key="invalid_numbers", value=result.invalid_numbers)
        return compact_uuids(result) if large else list(result)

    def _wait(self, seconds: float) -> None:
        """Defer for ``seconds`` (no worker slot held), resuming in :meth:`execute_next_wave`."""
        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

        self.defer(
            trigger=TimeDeltaTrigger(timedelta(seconds=max(seconds, 0.0))), method_name="execute_next_wave"
        )


@dataclass(frozen=True)
class _Campaign:
    """A rendered, checked send: what every wave of it needs."""

    message: dict[str, Any]
    """``send_message``'s arguments but ``dst``."""
    payload: dict[str, Any] | None
    """The checked body for every number still to send, so that a wave's numbers are not
    checked twice; None on resuming, where only the first number was checked (the wave's are
    when it is sent)."""
    numbers: list[str]
    """The unique destination numbers, in input order."""
    message_type: str
    speed: SendingSpeed
    expiry: int
    waves: list[int]
    """The size of each wave: one wave when Plivo dispatches them all within the expiry."""


def _wait_text(speed: SendingSpeed, seconds: float) -> str:
    """``"2 h 42 min"``; under a sandbox's time scale also what that is in Plivo's time."""
    if speed.time_scale == 1:
        return duration(seconds)
    plivo_time = duration(seconds * speed.time_scale)
    return f"{duration(seconds)} ({plivo_time} in Plivo's time, time scale {speed.time_scale:g})"
