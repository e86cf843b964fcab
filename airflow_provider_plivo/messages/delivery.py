"""When a sent message is done: Plivo's states per destination, and the watch a sensor keeps.

Carriers in the US and Canada send Plivo no delivery reports, so a message there ends at
``sent``; elsewhere a delivery receipt moves it to ``delivered``. Each message is judged by the
number the send operator messaged when the sensor has it (the send's ``messages`` records):
Plivo's own ``to_number`` is masked (``+141XXXXX528``) for a send with ``log=false``, and a
masked number has no country. Numbers are judged with ``phonenumbers``, imported only when a
message is judged.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.limits import NO_DELIVERY_REPORT_REGIONS
from airflow_provider_plivo.messages.compact import is_compact, message_pairs
from airflow_provider_plivo.messages.rules import as_e164

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

__all__ = [
    "DELIVERED_STATES",
    "FAILURE_STATES",
    "NOT_FOUND",
    "SENT_OR_DELIVERED_STATES",
    "UNKNOWN_MESSAGE_GRACE",
    "UNKNOWN_MESSAGE_POLLS",
    "DeliveryOutcome",
    "DeliveryWatch",
    "delivery_outcome",
    "done_states",
    "plivo_error",
    "region_of",
    "sent_messages",
]

FAILURE_STATES = ("failed", "undelivered", "rejected", "deleted")
"""States from which a message never reaches its recipient: a sensor fails at once on them.

``deleted`` is in no state list of Plivo's message pages (``queued``, ``sent``, ``failed``,
``delivered``, ``undelivered``, ``read`` for WhatsApp only); Plivo's PHP SDK lists it with
``read`` among the ``Status`` values of status callbacks, from the version that added WhatsApp,
and no Plivo page says what it means. Read as WhatsApp's own "deleted" status (the message was
removed before or after it arrived), it is final: no ``delivered`` follows it, so a sensor that
waited for one would wait to its timeout. Counting it as done would report a delivery nobody
confirmed; it fails instead, naming the message, and ``failure_states`` without it (with
``success_states``) judges otherwise."""

DELIVERED_STATES = ("delivered", "read")
"""Where a message to a country with delivery reports is done. ``read`` (WhatsApp only: the
recipient, with read receipts on, read it) comes after ``delivered`` and replaces it."""
SENT_OR_DELIVERED_STATES = ("sent", "delivered", "read")
"""Where a message to the US or Canada is done: no delivery report ever comes there, so Plivo
advises to "consider sent + delivered as delivered"."""

NOT_FOUND = "not found"
"""The state a watch reports for a message Plivo does not know (it answered 404, on every poll
of :data:`UNKNOWN_MESSAGE_POLLS` and for :data:`UNKNOWN_MESSAGE_GRACE` seconds)."""

UNKNOWN_MESSAGE_POLLS = 3
UNKNOWN_MESSAGE_GRACE = 60.0
"""A UUID Plivo does not know is asked about again on this many polls in a row, spread over at
least this many seconds, before it fails by name. Plivo answers a send with the UUIDs before it
wrote their records: a message may be missing from ``GET Message/{uuid}/`` and the list for the
first moments of its life, so one 404 proves nothing. A UUID still missing a minute and three
polls later is not one this account sent (a typo, another account's UUID, one past the list's
90 days): waiting longer would only hold the sensor to its timeout (7 days by default). Both
bounds must pass, so a sensor polling every second still waits a minute and one polling every
10 minutes still gives Plivo three chances."""


@functools.lru_cache(maxsize=65_536)
def region_of(number: str) -> str | None:
    """The ISO country of an E.164 number (``+`` optional, as Plivo reports numbers), or None.

    Cached: a sensor judges every message of a send at each poll, and parsing 2,500 numbers
    costs over 100 ms, on the triggerer's event loop for a deferred sensor."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(as_e164(number))
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


def done_states(number: str) -> tuple[str, ...]:
    """The states in which a message to ``number`` is done: ``sent`` counts in the US and Canada,
    whose carriers send no delivery reports; elsewhere only ``delivered`` (or ``read``) does."""
    return SENT_OR_DELIVERED_STATES if region_of(number) in NO_DELIVERY_REPORT_REGIONS else DELIVERED_STATES


def sent_messages(value: Any, *, argument: str = "message_uuids") -> dict[str, str | None]:
    """The messages to watch, ``{message_uuid: number messaged or None}``, from what a sensor was
    given: a UUID, a list of UUIDs, the send operator's ``messages`` records
    (``[{"number", "message_uuid"}]``) as they are, or the compact object a send to more than
    1,000 numbers pushes instead of either list (:mod:`~airflow_provider_plivo.messages.compact`);
    any of them also as the JSON or Python text that templating may render them to.

    :raises TypeError: naming ``argument`` and the position of each entry that is neither, or
        why a compact object does not read back.
    """
    if isinstance(value, (str, os.PathLike)):
        value = _read_text(os.fspath(value).strip())
    if is_compact(value):
        try:
            return dict(message_pairs(value))
        except ValueError as err:
            raise TypeError(f"{argument}: {err}") from None
    if isinstance(value, Mapping) and "message_uuid" in value:
        value = [value]
    if not isinstance(value, Iterable) or isinstance(value, (bytes, Mapping)):
        raise TypeError(
            f"{argument} must be message UUIDs or the send's messages records, "
            f"got {type(value).__name__}: {value!r}"
        )
    messages: dict[str, str | None] = {}
    bad: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            messages.setdefault(item, None)
        elif isinstance(item, Mapping) and isinstance(item.get("message_uuid"), str):
            number = item.get("number")
            messages[item["message_uuid"]] = number if isinstance(number, str) and number else None
        else:
            bad.append(f"#{i} {item!r}")
    if bad:
        raise TypeError(
            f"{argument} must hold message UUIDs or {{'number', 'message_uuid'}} records; "
            f"not one: {', '.join(bad)}"
        )
    return messages


def _read_text(text: str) -> Any:
    """What a sensor's argument rendered as text holds: the list or object it was rendered from
    (JSON, or Python's repr of it), else one UUID (a list of one)."""
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                pass
    return [text]


def plivo_error(message: Mapping[str, Any]) -> str:
    """Plivo's reason for a failed message: ``Plivo error code 450: Destination Country Disabled``
    (``error_message`` is ``""`` or absent where Plivo gave none)."""
    text = f"Plivo error code {message.get('error_code')}"
    reason = message.get("error_message")
    return f"{text}: {reason}" if isinstance(reason, str) and reason.strip() else text


@dataclass(frozen=True)
class DeliveryOutcome:
    """Where a set of sent messages stands."""

    states: dict[str, str]
    """message UUID -> ``message_state`` as Plivo reported it (:data:`NOT_FOUND` for a message
    Plivo does not know, ``unknown`` before its first answer)."""
    failures: list[str]
    """One line per failed message: UUID, number, state, Plivo's error code and reason."""
    waiting: list[str]
    """UUIDs of the messages not done and not failed yet."""

    @property
    def done(self) -> bool:
        """Every message is done."""
        return not self.failures and not self.waiting

    def describe_progress(self) -> str:
        """``1,200 of 2,500 settled: 1,180 sent, 15 delivered, 5 failed``: the settled messages
        (done or failed) counted by state, most common first."""
        waiting = set(self.waiting)
        counts = Counter(state for uuid, state in self.states.items() if uuid not in waiting)
        text = f"{len(self.states) - len(waiting):,} of {len(self.states):,} settled"
        return text + (
            ": " + ", ".join(f"{n:,} {state}" for state, n in counts.most_common()) if counts else ""
        )

    def describe_failures(self) -> str:
        return (
            f"{len(self.failures)} of {len(self.states)} messages failed: "
            + "; ".join(self.failures)
            + f" ({self.describe_progress()})"
        )


def delivery_outcome(
    messages: Mapping[str, Mapping[str, Any]],
    *,
    success_states: Collection[str] | None,
    failure_states: Collection[str],
    numbers: Mapping[str, str | None] | None = None,
    not_found: Mapping[str, str] | None = None,
) -> DeliveryOutcome:
    """Judge messages (UUID -> Plivo's message object): done in ``success_states``, or where
    :func:`done_states` says for its destination when ``success_states`` is None.

    The destination is the number messaged (``numbers``, from the send's records) where known,
    else Plivo's ``to_number``, which a send with ``log=false`` leaves masked. A UUID in
    ``not_found`` (Plivo does not know it; the value says how long it was asked about) fails,
    named; the others are judged as usual.
    """
    numbers = numbers or {}
    not_found = not_found or {}

    def number(uuid: str) -> str:
        return numbers.get(uuid) or str(messages[uuid].get("to_number") or "")

    states = {
        uuid: NOT_FOUND if uuid in not_found else str(message.get("message_state") or "unknown")
        for uuid, message in messages.items()
    }
    failures = []
    for uuid, state in states.items():
        to = f" to {as_e164(number(uuid))}" if number(uuid) else ""
        if state == NOT_FOUND:
            failures.append(
                f"{uuid}{to}: Plivo does not know this message (not found {not_found[uuid]}: "
                "sent from another account, or mistyped?)"
            )
        elif state in failure_states:
            failures.append(f"{uuid}{to or ' to unknown number'} {state} ({plivo_error(messages[uuid])})")

    def is_done(uuid: str) -> bool:
        return states[uuid] in (success_states if success_states is not None else done_states(number(uuid)))

    waiting = [
        uuid
        for uuid in states
        if states[uuid] not in failure_states and states[uuid] != NOT_FOUND and not is_done(uuid)
    ]
    return DeliveryOutcome(states=states, failures=failures, waiting=waiting)


class DeliveryWatch:
    """The states of a set of sent messages, polled until each is done or failed.

    Only the messages not yet settled need polling again (:meth:`unsettled`): a send to
    thousands of numbers costs fewer requests at each poll as its messages settle. A message
    Plivo did not answer for is asked about again on later polls and fails by name once it was
    missing on ``unknown_polls`` polls in a row spread over ``unknown_grace`` seconds; the others
    are judged as usual meanwhile.

    :param messages: ``{message_uuid: number messaged or None}`` (:func:`sent_messages`), or UUIDs.
    :param clock: seconds, monotonic: when a message went missing.
    """

    def __init__(
        self,
        messages: Mapping[str, str | None] | Sequence[str],
        *,
        success_states: Collection[str] | None,
        failure_states: Collection[str],
        unknown_polls: int = UNKNOWN_MESSAGE_POLLS,
        unknown_grace: float = UNKNOWN_MESSAGE_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.success_states = success_states
        self.failure_states = failure_states
        self.numbers: dict[str, str | None] = (
            dict(messages) if isinstance(messages, Mapping) else dict.fromkeys(messages)
        )
        self._messages: dict[str, Mapping[str, Any]] = {uuid: {} for uuid in self.numbers}
        self._unknown_polls = unknown_polls
        self._unknown_grace = unknown_grace
        self._clock = clock
        self._missing: dict[str, tuple[int, float]] = {}
        """UUID -> (polls in a row it was missing from Plivo's answer, when it first was)."""
        self._not_found: dict[str, str] = {}
        """UUID -> how long it was asked about, for its failure line."""
        self._before = (0, 0.0)

    def unsettled(self) -> list[str]:
        """The UUIDs still worth asking Plivo about."""
        waiting = set(self.outcome().waiting)
        return [uuid for uuid in self._messages if uuid in waiting]

    def update(
        self, messages: Mapping[str, Mapping[str, Any]], *, asked: Sequence[str] = ()
    ) -> DeliveryOutcome:
        """Take Plivo's latest records of the messages ``asked`` about; return where the whole
        set stands. A UUID asked about and not answered for is one Plivo does not know (yet)."""
        now = self._clock()
        for uuid in asked:
            if uuid in messages:
                self._missing.pop(uuid, None)
                continue
            misses, since = self._missing.get(uuid, (self._before[0], now - self._before[1]))
            self._missing[uuid] = (misses + 1, since)
            if misses + 1 >= self._unknown_polls and now - since >= self._unknown_grace:
                self._not_found[uuid] = f"on {misses + 1} polls over {now - since:.0f} s"
        self._messages.update((uuid, m) for uuid, m in messages.items() if uuid in self._messages)
        return self.outcome()

    def watched_before(self, *, polls: int, seconds: float) -> None:
        """This set was polled ``polls`` times over ``seconds`` before this watch began (a sensor
        in ``reschedule`` mode is rebuilt at every poke). A UUID Plivo does not know now was not
        known then either, since Plivo keeps a message's record once written: it counts as
        missing since then, so a wrong UUID fails there too instead of waiting out the timeout."""
        self._before = (polls, seconds)

    def missing(self) -> list[str]:
        """UUIDs Plivo did not answer for at the last poll and that are still given time."""
        return [uuid for uuid in self._missing if uuid not in self._not_found]

    def outcome(self) -> DeliveryOutcome:
        return delivery_outcome(
            self._messages,
            success_states=self.success_states,
            failure_states=self.failure_states,
            numbers=self.numbers,
            not_found=self._not_found,
        )
