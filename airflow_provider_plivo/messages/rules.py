"""What Plivo accepts as a message: numbers, sender, text, media; and how Plivo writes numbers
and times back.

Checked before sending so that a bad campaign fails with every problem named and nothing sent.
Numbers are judged with ``phonenumbers`` (Google's libphonenumber), which knows each country's
numbering plan; it is imported only when a message is checked.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.exceptions import PlivoMessageValidationError
from airflow_provider_plivo.limits import MAX_MEDIA_PER_MESSAGE, MAX_TEXT_LENGTH

# Read alike for media upload times: one parser in the transport, under its old name here.
from airflow_provider_plivo.transport.clock import plivo_time as message_time

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "DST_SEPARATOR",
    "as_e164",
    "checked_message",
    "destination_numbers",
    "message_payload",
    "message_time",
    "number_problem",
    "sent_since_filter",
    "sent_until_filter",
]

DST_SEPARATOR = "<"
"""Plivo joins the numbers of a bulk send with this."""

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_MMS_REGIONS = ("US", "CA")


def destination_numbers(dst: str | Sequence[str]) -> list[str]:
    """Every number ``dst`` names, once each, in first-seen order.

    ``dst`` is one number, a list of numbers, or numbers joined with ``<`` (Plivo's bulk form),
    in any mix. Plivo itself sends one message per unique number.
    """
    entries = [dst] if isinstance(dst, str) else list(dst)
    return list(dict.fromkeys(n for entry in entries for n in entry.split(DST_SEPARATOR)))


_FILTER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""Plivo's list filters take ``YYYY-MM-DD HH:MM[:ss[.uuuuuu]]`` and read it as UTC ("the
``message_time__*`` filters are considered to be in UTC time zone", its List all messages page)."""


def sent_since_filter(moment: datetime) -> str:
    """A ``message_time__gte`` value that lets through every message sent at ``moment`` or later:
    ``moment`` in UTC, rounded down to the second."""
    return moment.astimezone(timezone.utc).strftime(_FILTER_TIME_FORMAT)


def sent_until_filter(moment: datetime) -> str:
    """A ``message_time__lte`` value that lets through every message sent at ``moment`` or
    earlier: ``moment`` in UTC, rounded up to the second."""
    utc = moment.astimezone(timezone.utc)
    whole = utc.replace(microsecond=0)
    return (whole if whole == utc else whole + timedelta(seconds=1)).strftime(_FILTER_TIME_FORMAT)


def as_e164(number: object) -> str:
    """A number in E.164 form, ``+`` first: Plivo reports numbers without it."""
    return f"+{str(number).lstrip('+')}"


def number_problem(number: str, *, is_mms: bool) -> str | None:
    """Why Plivo would not message ``number``, in a sentence that names it; None when it would.

    North American numbers must fit the numbering plan (an area code or exchange never starts
    with 0 or 1); elsewhere the number must have a possible length for its country, and its
    carrier decides the rest.
    """
    import phonenumbers

    if not _E164.fullmatch(number):
        return f"dst number {number!r} is not in E.164 form (e.g. +14155550101)"
    parsed = phonenumbers.parse(number)
    if parsed.country_code == 1 and not phonenumbers.is_valid_number(parsed):
        return f"dst number {number} is not a valid North American number (area code or exchange)"
    if not phonenumbers.is_possible_number(parsed):
        return f"dst number {number} has the wrong number of digits for its country"
    if is_mms and phonenumbers.region_code_for_number(parsed) not in _MMS_REGIONS:
        return f"dst number {number}: Plivo sends MMS only to the US and Canada (+1)"
    return None


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
    The JSON body of ``POST Message/`` to the numbers ``dst``, or one
    :class:`PlivoMessageValidationError` listing every problem: sender, numbers, text length,
    media count, MMS countries.
    """
    problems = [
        f"{name} must be a string, got {type(value).__name__} {value!r}"
        + (
            " (a number rendered as a native object loses its '+': quote it)"
            if isinstance(value, int)
            else ""
        )
        for name, value in (("src", src), ("text", text), ("powerpack_uuid", powerpack_uuid))
        if value is not None and not isinstance(value, str)
    ]
    if problems:
        raise PlivoMessageValidationError(problems)
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
    problems.extend(p for p in (number_problem(number, is_mms=is_mms) for number in dst) if p)
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


def checked_message(
    *,
    dst: str | Sequence[str],
    src: str | None = None,
    text: str | None = None,
    media_ids: str | Sequence[str] | None = None,
    media_urls: str | Sequence[str] | None = None,
    powerpack_uuid: str | None = None,
    **params: Any,
) -> tuple[dict[str, Any], list[str]]:
    """The checked ``POST Message/`` body and the unique destination numbers, in order; further
    Plivo parameters (``url``, ``log``...) pass through ``params``.

    One string is one item in ``media_ids``/``media_urls``, never a sequence of characters.
    """
    numbers = destination_numbers(dst)
    payload = message_payload(
        src=src,
        dst=numbers,
        text=text,
        media_ids=_string_items(media_ids),
        media_urls=_string_items(media_urls),
        powerpack_uuid=powerpack_uuid,
        params=params,
    )
    return payload, numbers


def _string_items(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
