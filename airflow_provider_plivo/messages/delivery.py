"""When a sent message is done: Plivo's states per destination, and the watch a sensor keeps.

Carriers in the US and Canada send Plivo no delivery reports, so a message there ends at
``sent``; elsewhere a delivery receipt moves it to ``delivered``. Numbers are judged with
``phonenumbers``, imported only when a message is judged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.limits import NO_DELIVERY_REPORT_REGIONS
from airflow_provider_plivo.messages.rules import as_e164

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

__all__ = [
    "DELIVERED_STATES",
    "FAILURE_STATES",
    "SENT_OR_DELIVERED_STATES",
    "DeliveryOutcome",
    "DeliveryWatch",
    "delivery_outcome",
    "done_states",
    "region_of",
]

FAILURE_STATES = ("failed", "undelivered", "rejected")
"""States from which a message never reaches its recipient: a sensor fails at once on them."""

DELIVERED_STATES = ("delivered",)
"""Where a message to a country with delivery reports is done."""
SENT_OR_DELIVERED_STATES = ("sent", "delivered")
"""Where a message to the US or Canada is done: no delivery report ever comes there, so Plivo
advises to "consider sent + delivered as delivered"."""


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
    whose carriers send no delivery reports; elsewhere only ``delivered`` does."""
    return SENT_OR_DELIVERED_STATES if region_of(number) in NO_DELIVERY_REPORT_REGIONS else DELIVERED_STATES


@dataclass(frozen=True)
class DeliveryOutcome:
    """Where a set of sent messages stands."""

    states: dict[str, str]
    """message UUID -> ``message_state`` as Plivo reported it."""
    failures: list[str]
    """One line per message in a failure state: UUID, number, state and Plivo's error code."""
    waiting: list[str]
    """UUIDs of the messages not done and not failed yet."""

    @property
    def done(self) -> bool:
        """Every message is done."""
        return not self.failures and not self.waiting

    def describe_failures(self) -> str:
        return f"{len(self.failures)} of {len(self.states)} messages failed: " + "; ".join(self.failures)


def delivery_outcome(
    messages: Mapping[str, Mapping[str, Any]],
    *,
    success_states: Collection[str] | None,
    failure_states: Collection[str],
) -> DeliveryOutcome:
    """Judge messages (UUID -> Plivo's message object): done in ``success_states``, or where
    :func:`done_states` says for its destination when ``success_states`` is None."""
    states = {uuid: str(message.get("message_state") or "unknown") for uuid, message in messages.items()}
    failures = [
        f"{uuid} to {_display_number(messages[uuid].get('to_number'))} {state} "
        f"(Plivo error code {messages[uuid].get('error_code')})"
        for uuid, state in states.items()
        if state in failure_states
    ]

    def is_done(uuid: str) -> bool:
        number = str(messages[uuid].get("to_number") or "")
        return states[uuid] in (success_states if success_states is not None else done_states(number))

    waiting = [uuid for uuid in states if states[uuid] not in failure_states and not is_done(uuid)]
    return DeliveryOutcome(states=states, failures=failures, waiting=waiting)


def _display_number(number: object) -> str:
    return as_e164(number) if number else "unknown number"


class DeliveryWatch:
    """The states of a set of sent messages, polled until each is done or failed.

    Only the messages not yet settled need polling again (:meth:`unsettled`): a send to
    thousands of numbers costs fewer requests at each poll as its messages settle.
    """

    def __init__(
        self,
        message_uuids: Sequence[str],
        *,
        success_states: Collection[str] | None,
        failure_states: Collection[str],
    ) -> None:
        self.success_states = success_states
        self.failure_states = failure_states
        self._messages: dict[str, Mapping[str, Any]] = {uuid: {} for uuid in message_uuids}

    def unsettled(self) -> list[str]:
        """The UUIDs still worth asking Plivo about."""
        outcome = self.outcome()
        return [uuid for uuid in self._messages if uuid in outcome.waiting]

    def update(self, messages: Mapping[str, Mapping[str, Any]]) -> DeliveryOutcome:
        """Take Plivo's latest records of some messages; return where the whole set stands."""
        self._messages.update(messages)
        return self.outcome()

    def outcome(self) -> DeliveryOutcome:
        return delivery_outcome(
            self._messages, success_states=self.success_states, failure_states=self.failure_states
        )
