"""Sending one message to any number of recipients, exactly once each.

The numbers (already checked and deduplicated) are split into requests of at most 1,000
(Plivo's limit), sent concurrently under the client's rate limit, and answered with one message
UUID per number plus the numbers Plivo found invalid. A :class:`SendLedger` (the task state store,
in the operator) records each request before it goes and after it is answered, so that a later
try never messages a number twice: answered requests are reused, and a request whose answer never
came is reconciled with Plivo's message list before anything is sent again.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_plivo.client import excerpt, is_transient, send_is_safe_to_retry
from airflow_provider_plivo.exceptions import PlivoAPIError, PlivoResponseError, PlivoUnknownMediaError
from airflow_provider_plivo.limits import MAX_NUMBERS_PER_MESSAGE, MESSAGE_PAGE_SIZE
from airflow_provider_plivo.utils.message_rules import DST_SEPARATOR, as_e164, message_time, sent_since_filter
from airflow_provider_plivo.utils.wording import counted

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_plivo.client import Log, PlivoClient
    from airflow_provider_plivo.records import MessageRecord

__all__ = ["MessageSender", "SendLedger", "SentMessages"]

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
    :class:`~airflow_provider_plivo.utils.send_ledger.TaskStateSendLedger`). Called from the
    calling thread only."""

    def earlier_requests(self) -> list[dict[str, Any]]:
        """Every request recorded by earlier tries: ``numbers``, ``started`` (ISO time), and once
        answered ``messages`` (list of MessageRecord) and ``invalid_numbers``."""

    def record_start(self, numbers: Sequence[str], started: datetime) -> int:
        """Record that a request to ``numbers`` is about to go; return its key for :meth:`record_answer`."""

    def record_answer(
        self, key: int, messages: Sequence[MessageRecord], invalid_numbers: Sequence[str]
    ) -> None:
        """Record Plivo's answer to the request recorded as ``key``."""


class MessageSender:
    """
    Sends one message's payload to many numbers through ``client``.

    :param client: the account to send from.
    :param max_concurrency: the most requests in flight at once (the client's limiter may allow fewer).
    :param log: where progress and the summary are reported.
    """

    def __init__(self, client: PlivoClient, *, max_concurrency: int, log: Log) -> None:
        self.client = client
        self.max_concurrency = max_concurrency
        self.log = log

    def send(
        self, payload: Mapping[str, Any], numbers: Sequence[str], *, ledger: SendLedger | None = None
    ) -> SentMessages:
        """Send ``payload`` (a checked ``POST Message/`` body) to every one of ``numbers`` once.

        :raises PlivoUnknownMediaError: Plivo does not know a media ID (expired after 6 hours?).
        :raises PlivoAPIError: Plivo refused the message; other requests still finished first.
        :raises PlivoConnectionError: a request's answer never came; with a ledger, a later try
            reconciles it with Plivo's message list instead of sending again.
        """
        from concurrent.futures import ThreadPoolExecutor, as_completed

        wanted = list(numbers)
        messages: dict[str, MessageRecord] = {}
        invalid: list[str] = []
        if ledger is not None:
            messages, invalid, numbers = self._recover(payload, numbers, ledger)
        total = len(messages) + len(invalid) + len(numbers)
        batches = [
            list(numbers[i : i + MAX_NUMBERS_PER_MESSAGE])
            for i in range(0, len(numbers), MAX_NUMBERS_PER_MESSAGE)
        ]
        if batches:
            _ = self.client.session  # on the calling thread: see MediaUploader.upload
            started = time.monotonic()
            keys = [
                ledger.record_start(batch, _utc_now()) if ledger else n for n, batch in enumerate(batches)
            ]
            errors: list[Exception] = []
            unconfirmed = 0
            workers = min(self.max_concurrency, len(batches))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plivo-send") as pool:
                futures = {pool.submit(self._post, payload, batch): n for n, batch in enumerate(batches)}
                for done, future in enumerate(as_completed(futures), start=1):
                    n = futures[future]
                    try:
                        sent, refused = future.result()
                    except Exception as err:
                        self.log.warning(
                            "Request %d/%d to %d numbers failed: %s",
                            n + 1,
                            len(batches),
                            len(batches[n]),
                            err,
                        )
                        errors.append(err)
                        unconfirmed += len(batches[n])
                        continue
                    messages.update((record["number"], record) for record in sent)
                    invalid.extend(refused)
                    if ledger is not None:
                        ledger.record_answer(keys[n], sent, refused)
                    self.log.info(
                        "Request %d/%d done (%d of %d): %s messaged, %d invalid; %d/%d numbers done",
                        n + 1,
                        len(batches),
                        done,
                        len(batches),
                        counted(len(sent), "number"),
                        len(refused),
                        len(messages) + len(invalid),
                        total,
                    )
            self.log.info(
                "Plivo confirmed %s (%s) to %s in %.1f s; %s%s",
                counted(len(messages), "message"),
                payload.get("type", "sms"),
                counted(total, "number"),
                time.monotonic() - started,
                counted(len(invalid), "invalid number"),
                f"; {counted(unconfirmed, 'number')} not confirmed (their request failed)"
                if unconfirmed
                else "",
            )
            if errors:
                # A refusal no retry can fix decides the task's fate before a transient failure.
                raise next((e for e in errors if not is_transient(e)), errors[0])
        if invalid:
            self.log.warning(
                "Plivo refused %s: %s", counted(len(invalid), "invalid number"), ", ".join(invalid)
            )
        # In the caller's order, whether a message was sent now or recovered from an earlier try.
        return SentMessages([messages[number] for number in wanted if number in messages], invalid)

    def _post(self, payload: Mapping[str, Any], numbers: list[str]) -> tuple[list[MessageRecord], list[str]]:
        """One ``POST Message/`` to ``numbers``; (who got which message, numbers Plivo refused).

        Retried only where Plivo surely did not act on it (no connection, 429, 503).
        """
        body = {**payload, "dst": DST_SEPARATOR.join(numbers)}
        try:
            answer = self.client.call("POST", "Message/", json=body, should_retry=send_is_safe_to_retry)
        except PlivoAPIError as err:
            if payload.get("media_ids") and 400 <= err.status_code < 500 and "media" in err.message.lower():
                raise PlivoUnknownMediaError(
                    status_code=err.status_code, message=err.message, endpoint=err.endpoint, api_id=err.api_id
                ) from err
            raise
        uuids = answer.get("message_uuid") or []
        if not isinstance(uuids, list):
            raise PlivoResponseError(
                f"Plivo answered a send without a list of message UUIDs: {excerpt(str(answer))}"
            )
        ours = {_digits(n): n for n in numbers}
        refused = [ours.get(_digits(str(n)), str(n)) for n in answer.get("invalid_number") or []]
        refused_set = set(refused)
        messaged = [n for n in numbers if n not in refused_set]
        if len(messaged) != len(uuids):
            return self._ask_who_got_which(uuids), refused
        return [{"number": n, "message_uuid": str(u)} for n, u in zip(messaged, uuids, strict=True)], refused

    def _ask_who_got_which(self, uuids: Sequence[Any]) -> list[MessageRecord]:
        """Who got which message, from Plivo's record of each (when the counts do not pair up)."""
        self.log.warning("Plivo's answer does not pair UUIDs with numbers; asking Plivo for each message")
        return [
            {
                "number": as_e164(self.client.call("GET", f"Message/{uuid}/").get("to_number")),
                "message_uuid": str(uuid),
            }
            for uuid in uuids
        ]

    def _recover(
        self, payload: Mapping[str, Any], numbers: Sequence[str], ledger: SendLedger
    ) -> tuple[dict[str, MessageRecord], list[str], list[str]]:
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
            self.log.info(
                "An earlier try already messaged %d numbers (%d invalid); they are not messaged again",
                len(messages),
                len(invalid),
            )
        if in_doubt:
            found = self._messages_since(min(in_doubt.values()), payload.get("type", "sms"), in_doubt)
            messages.update(found)
            self.log.warning(
                "An earlier try's answer never came for %d numbers: Plivo's message list shows %d of them "
                "messaged since; the other %d are sent now",
                len(in_doubt),
                len(found),
                len(in_doubt) - len(found),
            )
        done = set(messages) | set(invalid)
        return messages, invalid, [n for n in numbers if n not in done]

    def _messages_since(
        self, started: datetime, message_type: str, numbers: Mapping[str, datetime]
    ) -> dict[str, MessageRecord]:
        """Outbound messages of ``message_type`` to ``numbers``, each dated no earlier than its
        request's start (less :data:`RECONCILE_MARGIN`), from Plivo's message list."""
        by_digits = {_digits(n): n for n in numbers}
        found: dict[str, MessageRecord] = {}
        filters = {
            "message_direction": "outbound",
            "message_type": message_type,
            "message_time__gte": sent_since_filter(started),
        }
        for message in self.client.iter_objects("Message/", filters, page_size=MESSAGE_PAGE_SIZE):
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
