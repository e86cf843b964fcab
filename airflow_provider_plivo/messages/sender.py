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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoError,
    PlivoInterruptedError,
    PlivoReconciliationError,
    PlivoResponseError,
    PlivoUnknownMediaError,
)
from airflow_provider_plivo.limits import MAX_NUMBERS_PER_MESSAGE, MESSAGE_PAGE_SIZE
from airflow_provider_plivo.messages.rules import (
    DST_SEPARATOR,
    as_e164,
    message_time,
    sent_since_filter,
    sent_until_filter,
)
from airflow_provider_plivo.messages.status import message_request
from airflow_provider_plivo.progress import counted
from airflow_provider_plivo.transport.clock import (
    RECONCILE_MARGIN,
    UNKNOWN_CLOCK_MARGIN,
    PlivoClock,
    plivo_clock,
    utc_now,
)
from airflow_provider_plivo.transport.core import (
    Concurrent,
    Outcome,
    Pages,
    Request,
    excerpt,
    is_transient,
    path_id,
    send_is_safe_to_retry,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.records import MessageRecord
    from airflow_provider_plivo.transport.core import Plan

__all__ = [
    "RECONCILE_MARGIN",
    "UNKNOWN_CLOCK_MARGIN",
    "PlivoClock",
    "SendLedger",
    "SentMessages",
    "number_batches",
    "pair_answer",
    "plivo_clock",
    "send_plan",
    "sent_identity",
]

RECONCILE_MAX_PAGES = 250
"""The most pages of Plivo's message list one reconciliation reads (5,000 messages, 12.5
minutes of the list's 20 requests a minute); numbers not settled by then stay in doubt."""


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
        """Every request recorded by earlier tries: ``numbers``, ``started`` (ISO time), ``sent``,
        and once answered ``messages`` (list of MessageRecord) and ``invalid_numbers``."""

    def record_start(self, numbers: Sequence[str], started: datetime, *, sent: Mapping[str, Any]) -> int:
        """Record that a request to ``numbers`` is about to go, at ``started`` on the worker's
        clock, carrying ``sent`` (:func:`sent_identity`: what tells its messages from others' if
        its answer never comes); return its key for :meth:`record_answer`."""

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
        sent = sent_identity(payload)
        keys = _record_starts(ledger, batches, sent) if ledger is not None else list(range(len(batches)))
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


def _record_starts(
    ledger: SendLedger, batches: Sequence[Sequence[str]], sent: Mapping[str, Any]
) -> list[int]:
    """Record that each of ``batches`` is about to go; their ledger keys."""
    keys: list[int] = []
    try:
        for batch in batches:
            keys.append(ledger.record_start(batch, utc_now(), sent=sent))
    except BaseException:
        # Interrupted (Airflow's timeout) before any of them went: recorded as answered with
        # nobody messaged, so that the next try sends them instead of searching Plivo's message
        # list for messages that were never sent.
        for key in keys:
            ledger.record_answer(key, [], [])
        raise
    return keys


def _who_got_which(uuids: Sequence[str]) -> Plan[list[MessageRecord]]:
    """Who got which message, from Plivo's record of each (when the counts do not pair up)."""
    outcomes = yield Concurrent([message_request(uuid) for uuid in uuids])
    if failed := next((o for o in outcomes if isinstance(o, PlivoError)), None):
        raise failed
    return [
        {"number": as_e164(o.get("to_number")), "message_uuid": uuid}
        for uuid, o in zip(uuids, outcomes, strict=True)
    ]


def sent_identity(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a ledger records of a request for telling its messages from others' in Plivo's
    message list (whose records carry no text): sender, type and media."""
    media_ids = list(payload.get("media_ids") or [])
    identity: dict[str, Any] = {
        "type": payload.get("type", "sms"),
        "media_ids": media_ids,
        "media_count": len(media_ids) + len(payload.get("media_urls") or []),
    }
    for sender in ("src", "powerpack_uuid"):
        if payload.get(sender):
            identity[sender] = payload[sender]
    return identity


class _Lost(NamedTuple):
    """Numbers of one earlier request whose answer never came, as the ledger recorded it."""

    numbers: list[str]
    started: datetime
    """When the request went, on the worker's clock."""
    sent: Mapping[str, Any]
    """Its :func:`sent_identity`."""


def _recover(
    payload: Mapping[str, Any], numbers: Sequence[str], ledger: SendLedger, log: Log
) -> Plan[tuple[dict[str, MessageRecord], list[str], list[str]]]:
    """What earlier tries already did for ``numbers``: (messages, invalid numbers, numbers
    still to send). A request whose answer never came is looked up in Plivo's message list.

    :raises PlivoReconciliationError: the list cannot prove for some numbers whether they got
        an earlier try's message; nothing is sent.
    """
    wanted = set(numbers)
    messages: dict[str, MessageRecord] = {}
    invalid: list[str] = []
    lost: list[_Lost] = []
    for request in ledger.earlier_requests():
        if "messages" in request:
            messages.update((r["number"], r) for r in request["messages"] if r["number"] in wanted)
            invalid.extend(n for n in request["invalid_numbers"] if n in wanted)
        else:
            # Entries recorded before the ledger kept what was sent: the payload is the same
            # task's, rendered again.
            sent = request.get("sent") or sent_identity(payload)
            started = datetime.fromisoformat(request["started"])
            lost.append(_Lost([n for n in request["numbers"] if n in wanted], started, sent))
    lost = [entry._replace(numbers=[n for n in entry.numbers if n not in messages]) for entry in lost]
    lost = [entry for entry in lost if entry.numbers]
    if messages or invalid:
        log.info(
            "Earlier waves or tries already messaged %d numbers (%d invalid); they are not messaged again",
            len(messages),
            len(invalid),
        )
    if lost:
        in_doubt = len({n for entry in lost for n in entry.numbers})
        found = yield from _reconcile(lost, log)
        messages.update(found)
        log.warning(
            "An earlier try's answer never came for %d numbers: Plivo's message list shows %d of them "
            "messaged since; the other %d are sent now",
            in_doubt,
            len(found),
            in_doubt - len(found),
        )
    done = set(messages) | set(invalid)
    return messages, invalid, [n for n in numbers if n not in done]


class _Search:
    """The messages of lost requests, found in Plivo's message list (newest first).

    A message is a number's only when everything its record can show matches the lost request:
    outbound, its type, its sender (``from_number``, or ``powerpack_id`` for a Powerpack), its
    destination (a masked ``to_number`` by its visible digits), a time no earlier than the
    request's start on Plivo's clock, and for an MMS its media (read message by message: the
    list shows none, and no record shows the text). A number is settled once one message is
    found for it; it stays in doubt when several are, or a masked number fits several numbers.
    """

    def __init__(self, lost: Sequence[_Lost], since: Mapping[str, datetime]) -> None:
        self.since = dict(since)
        """Each number in doubt and the earliest Plivo time its message may have."""
        self.sent = {n: entry.sent for entry in lost for n in entry.numbers}
        self.by_digits = {_digits(n): n for n in self.sent}
        self.found: dict[str, list[str]] = {}
        self.doubts: dict[str, str] = {}

    @property
    def settled(self) -> bool:
        return all(n in self.found or n in self.doubts for n in self.sent)

    def candidates(self, message: Mapping[str, Any]) -> list[str]:
        """The numbers in doubt ``message`` (one record of the list) may be the message of,
        media not yet compared."""
        to_number = str(message.get("to_number") or "")
        sent_at = message_time(message.get("message_time"))
        numbers = [
            n
            for n in self._numbers_fitting(to_number)
            if (sent_at is None or sent_at >= self.since[n])  # None: trust the list's own filter
            and message.get("message_direction", "outbound") == "outbound"
            and message.get("message_type") == self.sent[n]["type"]
            and self._same_sender(n, message)
        ]
        if len(numbers) > 1:
            for number in numbers:
                self.doubts.setdefault(
                    number, f"the masked number {to_number} fits {len(numbers)} numbers in doubt"
                )
            return []
        return numbers

    def add(self, number: str, message_uuid: str) -> None:
        self.found.setdefault(number, []).append(message_uuid)

    def unproved(self, *, complete: bool) -> dict[str, str]:
        """Each number whose match cannot be proved, and why; ``complete``: the search reached
        the window's edge (or settled every number)."""
        doubts = dict(self.doubts)
        for number, uuids in self.found.items():
            if len(uuids) > 1:
                doubts.setdefault(number, f"{len(uuids)} messages could be ours: {', '.join(uuids)}")
        if not complete:
            for number in self.sent:
                if number not in self.found:
                    doubts.setdefault(number, "the search ended before reaching the request's start")
        return doubts

    def _numbers_fitting(self, to_number: str) -> list[str]:
        digits = _digits(to_number)
        if digits.isdigit():
            return [self.by_digits[digits]] if digits in self.by_digits else []
        # Masked (``log=false``): Plivo hides some digits (``141XXXXX528``, or ``***`` for the last
        # three) and keeps the others where they were.
        visible = [(i, c) for i, c in enumerate(digits) if c.isdigit()]
        return [
            number
            for candidate, number in self.by_digits.items()
            if len(candidate) == len(digits) and all(candidate[i] == c for i, c in visible)
        ]

    def _same_sender(self, number: str, message: Mapping[str, Any]) -> bool:
        sent = self.sent[number]
        if "powerpack_uuid" in sent:
            # A Powerpack sends from any of its numbers: only the record's Powerpack tells.
            if not message.get("powerpack_id"):
                self.doubts.setdefault(number, "a message from a number Plivo names no Powerpack for")
                return False
            return str(message["powerpack_id"]) == str(sent["powerpack_uuid"])
        return _digits(str(message.get("from_number") or "")).lower() == _digits(str(sent.get("src"))).lower()


def _reconcile(lost: Sequence[_Lost], log: Log) -> Plan[dict[str, MessageRecord]]:
    """The message each number of ``lost`` got from its lost request, from Plivo's message list:
    the numbers not in the answer got none.

    The list is read in UTC bounds, from the earliest request's start on Plivo's clock (less
    :data:`RECONCILE_MARGIN`) to Plivo's time now, newest first, and no further than the window's
    edge, the first moment every number is settled, or :data:`RECONCILE_MAX_PAGES` pages.

    :raises PlivoReconciliationError: some numbers' messages cannot be proved (or disproved).
    """
    clock = yield from plivo_clock(log)
    margin = RECONCILE_MARGIN if clock else UNKNOWN_CLOCK_MARGIN
    ahead = clock.ahead if clock else timedelta()
    since = {n: entry.started + ahead - margin for entry in lost for n in entry.numbers}
    until = clock.now if clock else utc_now() + margin
    search = _Search(lost, since)
    start = min(since.values())
    types = sorted({entry.sent["type"] for entry in lost})
    filters = {
        "message_direction": "outbound",
        "message_time__gte": sent_since_filter(start),
        "message_time__lte": sent_until_filter(until),
        **({"message_type": types[0]} if len(types) == 1 else {}),
    }
    pages = Pages("Message/", filters, page_size=MESSAGE_PAGE_SIZE)
    count, read = 0, 0
    edge = False
    while not (pages.finished or edge or search.settled) and count < RECONCILE_MAX_PAGES:
        objects = pages.take((yield pages.request()))
        count, read = count + 1, read + len(objects)
        to_compare: list[tuple[str, str]] = []
        for message in objects:
            sent_at = message_time(message.get("message_time"))
            # Newest first: a message older than the window (a server that ignores the filter)
            # means every later one is older too.
            edge = edge or (sent_at is not None and sent_at < start)
            uuid = str(message.get("message_uuid") or "")
            for number in search.candidates(message):
                if search.sent[number]["media_count"]:
                    to_compare.append((number, uuid))
                else:
                    search.add(number, uuid)
        if to_compare:
            yield from _compare_media(to_compare, search)
        log.info(
            "Reconciling %s: page %d, %s read, %d found",
            counted(len(search.sent), "number"),
            count,
            counted(read, "message"),
            len(search.found),
        )
    complete = pages.finished or edge or search.settled
    if doubts := search.unproved(complete=complete):
        raise _unproved(doubts, filters, lost, count)
    return {number: {"number": number, "message_uuid": uuids[0]} for number, uuids in search.found.items()}


def _compare_media(to_compare: Sequence[tuple[str, str]], search: _Search) -> Plan[None]:
    """Keep the candidates (number, message UUID) whose media are the lost request's."""
    outcomes = yield Concurrent(
        [Request("GET", f"Message/{path_id(uuid, 'message UUID')}/Media/") for _, uuid in to_compare]
    )
    if failed := next((o for o in outcomes if isinstance(o, PlivoError)), None):
        raise failed
    for (number, uuid), outcome in zip(to_compare, outcomes, strict=True):
        sent = search.sent[number]
        media = [m for m in outcome.get("objects") or [] if isinstance(m, dict)]
        carried = sorted(str(m.get("media_id")) for m in media)
        if len(media) != sent["media_count"]:
            continue
        # Media given by URL get IDs only once Plivo fetched them: only their count compares.
        if sent["media_ids"] and not set(sent["media_ids"]) <= set(carried):
            continue
        search.add(number, uuid)


def _unproved(
    doubts: Mapping[str, str], filters: Mapping[str, str], lost: Sequence[_Lost], pages: int
) -> PlivoReconciliationError:
    senders = sorted({str(entry.sent.get("src") or entry.sent.get("powerpack_uuid")) for entry in lost})
    listing = "&".join(f"{k}={v}" for k, v in filters.items()).replace(" ", "%20")
    return PlivoReconciliationError(
        f"An earlier try's send answer never came, and Plivo's message list ({pages} pages read) "
        f"cannot prove whether {counted(len(doubts), 'number')} got that message; to avoid messaging "
        "them twice, nothing was sent:\n"
        + "\n".join(f"  - {number}: {why}" for number, why in doubts.items())
        + f"\nCheck them in Plivo's console (Messaging > Logs: outbound {filters.get('message_type', '')} "
        f"messages from {', '.join(senders)} between {filters['message_time__gte']} and "
        f"{filters['message_time__lte']} UTC) or with GET Message/?{listing}. Then message the ones "
        "that did not get it from a new task instance: this one keeps refusing to guess.",
        numbers=doubts,
    )


def _digits(number: str) -> str:
    return number.lstrip("+")
