"""What Plivo accepts as a message, and how to read the delivery states of sent messages.

Checked before sending so that a bad campaign fails with every problem named and nothing sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.exceptions import PlivoMessageValidationError
from airflow_provider_plivo.limits import MAX_MEDIA_PER_MESSAGE, MAX_TEXT_LENGTH

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

DST_SEPARATOR = "<"
"""Plivo joins the numbers of a bulk send with this."""

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_MMS_COUNTRY_CODE = "+1"


def message_payload(
    *,
    src: str | None,
    dst: Sequence[str],
    text: str | None,
    media_ids: Sequence[str],
    media_urls: Sequence[str],
    powerpack_uuid: str | None,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """
    The JSON body of ``POST Message/``, or one :class:`PlivoMessageValidationError` listing
    every problem: sender, numbers in E.164 form, text length, media count, MMS countries.
    """
    problems = []
    media_count = len(media_ids) + len(media_urls)
    is_mms = media_count > 0 or params.get("type") == "mms"
    if src and powerpack_uuid:
        problems.append("give src or powerpack_uuid, not both")
    elif not src and not powerpack_uuid:
        problems.append("src (the sending number) or powerpack_uuid is required")
    if src and not _E164.fullmatch(src) and (is_mms or not _SENDER_ID.fullmatch(src)):
        problems.append(
            f"src {src!r} is not a number in E.164 form (+ country code and number, e.g. +14155550100)"
            + ("" if is_mms else " nor an alphanumeric sender ID")
        )
    if not dst:
        problems.append("dst needs at least one destination number")
    for number in dst:
        if not _E164.fullmatch(number):
            problems.append(f"dst number {number!r} is not in E.164 form (e.g. +14155550101)")
        elif is_mms and not number.startswith(_MMS_COUNTRY_CODE):
            problems.append(f"dst number {number}: Plivo sends MMS only to the US and Canada (+1)")
    if media_count > MAX_MEDIA_PER_MESSAGE:
        problems.append(
            f"{media_count} media given (media_ids and media_urls together); "
            f"a message takes at most {MAX_MEDIA_PER_MESSAGE}"
        )
    if text is not None and len(text) > MAX_TEXT_LENGTH:
        problems.append(f"text is {len(text):,} characters; Plivo takes at most {MAX_TEXT_LENGTH:,}")
    if not text and not media_count:
        problems.append("a message needs text, media, or both")
    if media_count and params.get("type") not in (None, "mms"):
        problems.append(f"type {params['type']!r} cannot carry media; use 'mms' or leave type out")
    if problems:
        raise PlivoMessageValidationError(problems)
    payload: dict[str, Any] = {**params, "dst": DST_SEPARATOR.join(dst)}
    optional = {
        "src": src,
        "powerpack_uuid": powerpack_uuid,
        "text": text,
        "media_ids": list(media_ids) or None,
        "media_urls": list(media_urls) or None,
        "type": "mms" if is_mms else None,
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    return payload


@dataclass(frozen=True)
class DeliveryOutcome:
    """Where a set of sent messages stands."""

    states: dict[str, str]
    """message UUID -> ``message_state`` as Plivo reported it."""
    failures: list[str]
    """One line per message in a failure state: UUID, number, state and Plivo's error code."""
    waiting: list[str]
    """UUIDs of the messages in neither a success nor a failure state yet."""

    @property
    def done(self) -> bool:
        """Every message reached a success state."""
        return not self.failures and not self.waiting

    def describe_failures(self) -> str:
        return f"{len(self.failures)} of {len(self.states)} messages failed: " + "; ".join(self.failures)


def delivery_outcome(
    messages: Mapping[str, Mapping[str, Any]],
    *,
    success_states: Collection[str],
    failure_states: Collection[str],
) -> DeliveryOutcome:
    """Judge messages (UUID -> Plivo's message object) against the success and failure states."""
    states = {uuid: str(message.get("message_state")) for uuid, message in messages.items()}
    failures = [
        f"{uuid} to {messages[uuid].get('to_number') or 'unknown number'} {state} "
        f"(Plivo error code {messages[uuid].get('error_code')})"
        for uuid, state in states.items()
        if state in failure_states
    ]
    final = {*success_states, *failure_states}
    waiting = [uuid for uuid, state in states.items() if state not in final]
    return DeliveryOutcome(states=states, failures=failures, waiting=waiting)
