"""Sending one message to any number of recipients, exactly once each: a plan of the core, so the
blocking driver (operators, task callbacks) and the async one (deadline alerts) send alike.

The numbers (already checked and deduplicated) are split into requests of at most 1,000
(Plivo's limit), sent together under the limiter, and each answer is accounted for number by
number: messaged (a UUID), refused (``invalid_number``), or not confirmed (the request failed or
its answer does not add up). A :class:`SendLedger` (the task state store, in the operator)
records each request before it goes and once answered, so that a later try never messages a
number twice: answered requests are reused, and a request whose answer never came is reconciled
with Plivo's message list before anything is sent again.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoError,
    PlivoInterruptedError,
    PlivoResponseError,
    PlivoUnknownMediaError,
)
from airflow_provider_plivo.limits import MAX_NUMBERS_PER_MESSAGE, MESSAGE_PAGE_SIZE
from airflow_provider_plivo.messages.rules import DST_SEPARATOR, as_e164, message_time, sent_since_filter
from airflow_provider_plivo.messages.status import message_request
from airflow_provider_plivo.progress import counted
from airflow_provider_plivo.transport.core import (
    Concurrent,
    Outcome,
    Pages,
    Request,
    excerpt,
    is_transient,
    send_is_safe_to_retry,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.records import MessageRecord
    from airflow_provider_plivo.transport.core import Plan

__all__ = ["SendLedger", "SentMessages", "number_batches", "pair_answer", "send_plan"]

RECONCILE_MARGIN = timedelta(minutes=2)
"""How much earlier than a lost request's start a message may be dated and still be its own:
the clocks of the worker and Plivo may differ a little."""


class SentMessages(list[str]):
    """The message UUIDs of a send, one per number messaged (a list, as before), plus who got
    which (:attr:`messages`) and the numbers Plivo refused as invalid (:attr:`invalid_numbers`)."""

    def __init__(self, messages: Sequence[MessageRecord], invalid_numbers: Sequence[str]) -> None:
        super().__init__(record["message_uuid"] for record in messages)
        self.messages = list(messages)
        self.invalid_numbers = list(invalid_numbers)


class SendLedger(Protocol):
    """Where a send records its requests so that a later try does not repeat them (see
    :class:`~airflow_provider_plivo._airflow.send_ledger.TaskStateSendLedger`). Called from the
    thread that runs the plan only."""

    def earlier_requests(self) -> list[dict[str, Any]]:
        """Every request recorded by earlier tries: ``numbers``, ``started`` (ISO time), and once
        answered ``messages`` (list of MessageRecord) and ``invalid_numbers``."""

    def record_start(self, numbers: Sequence[str], started: datetime) -> int:
        """Record that a request to ``numbers`` is about to go; return its key for :meth:`record_answer`."""

    def record_answer(
        self, key: int, messages: Sequence[MessageRecord], invalid_numbers: Sequence[str]
    ) -> None:
        """Record Plivo's answer to the request recorded as ``key``."""


class Pairing(NamedTuple):
    """One send answer, number by number."""

    messages: list[MessageRecord]
    refused: list[str]
    unpaired: list[str]
    """UUIDs Plivo gave whose numbers the answer does not tell (then ``messages`` is empty)."""


def number_batches(numbers: Sequence[str]) -> list[list[str]]:
    """``numbers`` in requests of at most 1,000 (Plivo's limit per ``POST Message/``)."""
    return [
        list(numbers[i : i + MAX_NUMBERS_PER_MESSAGE])
        for i in range(0, len(numbers), MAX_NUMBERS_PER_MESSAGE)
    ]


def send_request(payload: Mapping[str, Any], numbers: Sequence[str]) -> Request:
    """One ``POST Message/`` to ``numbers``, retried only where Plivo surely did not act on it."""
    return Request(
        "POST",
        "Message/",
        json={**payload, "dst": DST_SEPARATOR.join(numbers)},
        should_retry=send_is_safe_to_retry,
    )


def pair_answer(numbers: Sequence[str], answer: Mapping[str, Any]) -> Pairing:
    """Who got which message, from Plivo's answer to a send to ``numbers``.

    :raises PlivoResponseError: the answer does not account for the numbers (no UUID list, or
        none although some numbers were not refused): those numbers stay not confirmed.
    """
    uuids = answer.get("message_uuid")
    if not isinstance(uuids, list) or not all(isinstance(u, str) and u for u in uuids):
        raise PlivoResponseError(
            f"Plivo answered a send without a list of message UUIDs: {excerpt(str(answer))}"
        )
    ours = {_digits(n): n for n in numbers}
    refused = [ours.get(_digits(str(n)), str(n)) for n in answer.get("invalid_number") or []]
    refused_set = set(refused)
    messaged = [n for n in numbers if n not in refused_set]
    if messaged and not uuids:
        raise PlivoResponseError(
            f"Plivo answered a send to {counted(len(messaged), 'number')} with no message UUID: "
            f"{excerpt(str(answer))}"
        )
    if len(messaged) != len(uuids):
        return Pairing([], refused, list(uuids))
    return Pairing(
        [{"number": n, "message_uuid": u} for n, u in zip(messaged, uuids, strict=True)], refused, []
    )


def unknown_media(payload: Mapping[str, Any], err: PlivoError) -> PlivoError:
    """``err`` as :class:`PlivoUnknownMediaError` when Plivo refused the message's media IDs."""
    if (
        isinstance(err, PlivoAPIError)
        and payload.get("media_ids")
        and 400 <= err.status_code < 500
        and "media" in err.message.lower()
    ):
        unknown = PlivoUnknownMediaError(
            status_code=err.status_code, message=err.message, endpoint=err.endpoint, api_id=err.api_id
        )
        unknown.__cause__ = err
        return unknown
    return err


def send_plan(
    payload: Mapping[str, Any], numbers: Sequence[str], *, log: Log, ledger: SendLedger | None = None
) -> Plan[SentMessages]:
    """Send ``payload`` (a checked ``POST Message/`` body) to every one of ``numbers`` once.

    :raises PlivoUnknownMediaError: Plivo does not know a media ID (expired after 6 hours?).
    :raises PlivoAPIError: Plivo refused the message; other requests still finished first.
    :raises PlivoConnectionError: a request's answer never came; with a ledger, a later try
        reconciles it with Plivo's message list instead of sending again.
    """
    wanted = list(numbers)
    messages: dict[str, MessageRecord] = {}
    invalid: list[str] = []
    if ledger is not None:
        messages, invalid, numbers = yield from _recover(payload, numbers, ledger, log)
    total = len(messages) + len(invalid) + len(numbers)
    batches = number_batches(numbers)
    errors: list[PlivoError] = []
    if batches:
        started = time.monotonic()
        keys = [ledger.record_start(batch, _utc_now()) if ledger else n for n, batch in enumerate(batches)]
        unpaired: dict[int, Pairing] = {}
        unconfirmed = 0

        def record(n: int, pairing: Pairing) -> None:
            messages.update((r["number"], r) for r in pairing.messages)
            invalid.extend(pairing.refused)
            if ledger is not None:
                ledger.record_answer(keys[n], pairing.messages, pairing.refused)

        def on_outcome(n: int, outcome: Outcome) -> None:
            nonlocal unconfirmed
            if isinstance(outcome, PlivoInterruptedError):
                # Surely never sent: recorded as answered with nobody messaged, so that a later
                # try sends these numbers without searching Plivo's message list for them.
                record(n, Pairing([], [], []))
                errors.append(outcome)
                unconfirmed += len(batches[n])
                return
            try:
                if isinstance(outcome, PlivoError):
                    raise unknown_media(payload, outcome)
                pairing = pair_answer(batches[n], outcome)
            except PlivoError as err:
                log.warning(
                    "Request %d/%d to %d numbers failed: %s", n + 1, len(batches), len(batches[n]), err
                )
                errors.append(err)
                unconfirmed += len(batches[n])
                return
            if pairing.unpaired:
                unpaired[n] = pairing
                return
            record(n, pairing)
            log.info(
                "Request %d/%d done: %s messaged, %d invalid; %d/%d numbers done",
                n + 1,
                len(batches),
                counted(len(pairing.messages), "number"),
                len(pairing.refused),
                len(messages) + len(invalid),
                total,
            )

        yield Concurrent([send_request(payload, batch) for batch in batches], on_outcome)
        for n, pairing in unpaired.items():
            log.warning("Plivo's answer does not pair UUIDs with numbers; asking Plivo for each message")
            record(n, pairing._replace(messages=(yield from _who_got_which(pairing.unpaired))))
        log.info(
            "Plivo confirmed %s (%s) to %s in %.1f s; %s%s",
            counted(len(messages), "message"),
            payload.get("type", "sms"),
            counted(total, "number"),
            time.monotonic() - started,
            counted(len(invalid), "invalid number"),
            f"; {counted(unconfirmed, 'number')} not confirmed (their request failed or was not sent)"
            if unconfirmed
            else "",
        )
    if errors:
        # A refusal no retry can fix decides the task's fate before a transient failure.
        raise next((e for e in errors if not is_transient(e)), errors[0])
    if invalid:
        log.warning("Plivo refused %s: %s", counted(len(invalid), "invalid number"), ", ".join(invalid))
    # In the caller's order, whether a message was sent now or recovered from an earlier try.
    return SentMessages([messages[number] for number in wanted if number in messages], invalid)


def _who_got_which(uuids: Sequence[str]) -> Plan[list[MessageRecord]]:
    """Who got which message, from Plivo's record of each (when the counts do not pair up)."""
    outcomes = yield Concurrent([message_request(uuid) for uuid in uuids])
    if failed := next((o for o in outcomes if isinstance(o, PlivoError)), None):
        raise failed
    return [
        {"number": as_e164(o.get("to_number")), "message_uuid": uuid}
        for uuid, o in zip(uuids, outcomes, strict=True)
    ]


def _recover(
    payload: Mapping[str, Any], numbers: Sequence[str], ledger: SendLedger, log: Log
) -> Plan[tuple[dict[str, MessageRecord], list[str], list[str]]]:
    """What earlier tries already did for ``numbers``: (messages, invalid numbers, numbers
    still to send). A request whose answer never came is looked up in Plivo's message list."""
    wanted = set(numbers)
    messages: dict[str, MessageRecord] = {}
    invalid: list[str] = []
    in_doubt: dict[str, datetime] = {}
    for request in ledger.earlier_requests():
        if "messages" in request:
            messages.update((r["number"], r) for r in request["messages"] if r["number"] in wanted)
            invalid.extend(n for n in request["invalid_numbers"] if n in wanted)
        else:
            started = datetime.fromisoformat(request["started"])
            in_doubt.update((n, started) for n in request["numbers"] if n in wanted and n not in messages)
    for number in messages:
        in_doubt.pop(number, None)
    if messages or invalid:
        log.info(
            "An earlier try already messaged %d numbers (%d invalid); they are not messaged again",
            len(messages),
            len(invalid),
        )
    if in_doubt:
        found = yield from _messages_since(min(in_doubt.values()), payload.get("type", "sms"), in_doubt)
        messages.update(found)
        log.warning(
            "An earlier try's answer never came for %d numbers: Plivo's message list shows %d of them "
            "messaged since; the other %d are sent now",
            len(in_doubt),
            len(found),
            len(in_doubt) - len(found),
        )
    done = set(messages) | set(invalid)
    return messages, invalid, [n for n in numbers if n not in done]


def _messages_since(
    started: datetime, message_type: str, numbers: Mapping[str, datetime]
) -> Plan[dict[str, MessageRecord]]:
    """Outbound messages of ``message_type`` to ``numbers``, each dated no earlier than its
    request's start (less :data:`RECONCILE_MARGIN`), from Plivo's message list."""
    by_digits = {_digits(n): n for n in numbers}
    found: dict[str, MessageRecord] = {}
    filters = {
        "message_direction": "outbound",
        "message_type": message_type,
        "message_time__gte": sent_since_filter(started),
    }
    pages = Pages("Message/", filters, page_size=MESSAGE_PAGE_SIZE)
    while not pages.finished:
        for message in pages.take((yield pages.request())):
            number = by_digits.get(_digits(str(message.get("to_number") or "")))
            sent_at = message_time(message.get("message_time"))
            if number is None or sent_at is None or sent_at < numbers[number] - RECONCILE_MARGIN:
                continue
            found.setdefault(number, {"number": number, "message_uuid": str(message["message_uuid"])})
    return found


def _digits(number: str) -> str:
    return number.lstrip("+")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
