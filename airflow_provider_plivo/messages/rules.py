"""What Plivo accepts as a message: numbers, sender, text, media; and how Plivo writes numbers
and times back.

Checked before sending so that a bad campaign fails with every problem named and nothing sent.
Numbers are judged with ``phonenumbers`` (Google's libphonenumber), which knows each country's
numbering plan; it is imported only when a message is checked.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.exceptions import PlivoMessageValidationError
from airflow_provider_plivo.limits import MAX_MEDIA_PER_MESSAGE, MAX_TEXT_LENGTH

# Read alike for media upload times: one parser in the transport, under its old name here.
from airflow_provider_plivo.transport.clock import plivo_time as message_time

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DST_SEPARATOR",
    "as_e164",
    "checked_message",
    "destination_numbers",
    "field_problems",
    "message_payload",
    "message_time",
    "number_problem",
    "sent_since_filter",
    "sent_until_filter",
]

DST_SEPARATOR = "<"
"""Plivo joins the numbers of a bulk send with this."""

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
"""ASCII digits only: ``\\d`` would take Arabic-Indic or fullwidth digits, which Plivo does not."""
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_MMS_REGIONS = ("US", "CA")


def destination_numbers(dst: str | Sequence[str]) -> list[str]:
    """Every number ``dst`` names, once each, in first-seen order.

    ``dst`` is one number, a list of numbers, or numbers joined with ``<`` (Plivo's bulk form),
    in any mix. Plivo itself sends one message per unique number.

    :raises PlivoMessageValidationError: ``dst`` is not a string or a list of strings, naming
        each item that is not one and its type.
    """
    if problem := _strings_problems("dst", dst, required=True):
        raise PlivoMessageValidationError([problem])
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
        if any(c.isdigit() and not c.isascii() for c in number):
            return (
                f"dst number {number!r} is not in E.164 form: it holds digits other than 0-9 "
                "(Arabic-Indic, fullwidth...); write it with ASCII digits (e.g. +14155550101)"
            )
        return f"dst number {number!r} is not in E.164 form (e.g. +14155550101)"
    try:
        parsed = (
            # What phonenumbers.parse makes of a North American number in E.164 form (+1, then
            # 10 digits not starting with the national prefix 1), built 20 times faster: a
            # 10,000-number send is checked on every try, within its execution_timeout.
            phonenumbers.PhoneNumber(country_code=1, national_number=int(number[2:]))
            if _NANP_E164.fullmatch(number)
            else phonenumbers.parse(number)
        )
    except phonenumbers.NumberParseException:  # its digits after + start with no country code
        return f"dst number {number} does not start with a country code (e.g. +1, +44)"
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
    wrong_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """
    The JSON body of ``POST Message/`` to the numbers ``dst``, or one
    :class:`PlivoMessageValidationError` listing every problem: sender, numbers, text length,
    media count, MMS countries.

    :param wrong_types: field -> why its type is wrong (:func:`field_problems`), reported
        first; such a field is judged no further (it is given here as None or empty), so that
        it is named once and the other fields' problems still come with it.
    """
    wrong = {**(wrong_types or {}), **_scalar_problems(src=src, text=text, powerpack_uuid=powerpack_uuid)}
    problems = list(wrong.values())
    # The checks below read these as strings.
    src = None if "src" in wrong else src
    text = None if "text" in wrong else text
    powerpack_uuid = None if "powerpack_uuid" in wrong else powerpack_uuid
    media_count = len(media_ids) + len(media_urls)
    is_mms = media_count > 0 or params.get("type") == "mms"
    if src and powerpack_uuid:
        problems.append("give src or powerpack_uuid, not both")
    elif not src and not powerpack_uuid and not wrong.keys() & {"src", "powerpack_uuid"}:
        problems.append("src (the sending number) or powerpack_uuid is required")
    if src and not _E164.fullmatch(src) and (is_mms or not _SENDER_ID.fullmatch(src)):
        problems.append(
            f"src {src!r} is not a number in E.164 form (+ country code and number, e.g. +14155550100)"
            + ("" if is_mms else " nor an alphanumeric sender ID")
        )
    if not dst and "dst" not in wrong:
        problems.append("dst needs at least one destination number")
    problems.extend(p for p in (number_problem(number, is_mms=is_mms) for number in dst) if p)
    if media_count > MAX_MEDIA_PER_MESSAGE:
        problems.append(
            f"{media_count} media given (media_ids and media_urls together); "
            f"a message takes at most {MAX_MEDIA_PER_MESSAGE}"
        )
    if text is not None and len(text) > MAX_TEXT_LENGTH:
        problems.append(f"text is {len(text):,} characters; Plivo takes at most {MAX_TEXT_LENGTH:,}")
    if not text and not media_count and not wrong.keys() & {"text", "media_ids", "media_urls"}:
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
    Every field is checked, its type first: one :class:`PlivoMessageValidationError` names every
    problem of every field.
    """
    wrong = field_problems(
        src=src, dst=dst, text=text, media_ids=media_ids, media_urls=media_urls, powerpack_uuid=powerpack_uuid
    )
    numbers = [] if "dst" in wrong else destination_numbers(dst)
    payload = message_payload(
        src=src,
        dst=numbers,
        text=text,
        media_ids=[] if "media_ids" in wrong else _string_items(media_ids),
        media_urls=[] if "media_urls" in wrong else _string_items(media_urls),
        powerpack_uuid=powerpack_uuid,
        params=params,
        wrong_types=wrong,
    )
    return payload, numbers


def field_problems(
    *,
    src: object,
    dst: object,
    text: object,
    media_ids: object,
    media_urls: object,
    powerpack_uuid: object,
) -> dict[str, str]:
    """The fields of a message that are of the wrong type: field -> the problem, naming the
    field (and item) and the type found. Checked before anything reads them as strings."""
    lists = {"dst": dst, "media_ids": media_ids, "media_urls": media_urls}
    wrong = {
        name: problem
        for name, value in lists.items()
        if (problem := _strings_problems(name, value, required=name == "dst"))
    }
    return {**wrong, **_scalar_problems(src=src, text=text, powerpack_uuid=powerpack_uuid)}


_TYPE_PROBLEM_FIELDS = (
    ("src", "the sending number"),
    ("dst", "a number, a list of numbers, or numbers joined with '<'"),
    ("text", "the message text"),
    ("media_ids", "media IDs"),
    ("media_urls", "media URLs"),
    ("powerpack_uuid", "a Powerpack UUID"),
)
_NATIVE_NUMBER_HINT = " (a number rendered as a native object loses its '+': quote it)"
_MEDIA_ID_HINT = (
    ": media IDs are the strings an upload returns (PlivoMediaUploadOperator's output, "
    "or media_id in hook.upload_media's records)"
)
_MAX_ITEMS_NAMED = 10
"""Wrong items named in one problem; a list of 100,000 wrong items names the first ten."""
_shown = reprlib.Repr()
_shown.maxstring, _shown.maxother, _shown.maxlist, _shown.maxdict = 60, 60, 4, 4


def _scalar_problems(**fields: object) -> dict[str, str]:
    return {
        name: f"{name} must be a string, got {type(value).__name__} {_shown.repr(value)}"
        + (_NATIVE_NUMBER_HINT if isinstance(value, int) and not isinstance(value, bool) else "")
        for name, value in fields.items()
        if value is not None and not isinstance(value, str)
    }


def _strings_problems(name: str, value: object, *, required: bool) -> str | None:
    """Why ``value`` is not a string or a list (tuple...) of strings, naming each wrong item;
    None when it is one."""
    what = dict(_TYPE_PROBLEM_FIELDS)[name]
    if value is None:
        return f"{name} is required ({what}), got None" if required else None
    if isinstance(value, str):
        return None
    hint = _MEDIA_ID_HINT if name == "media_ids" else ""
    if not isinstance(value, Iterable) or isinstance(value, (bytes, bytearray, Mapping)):
        native = _NATIVE_NUMBER_HINT if name == "dst" and isinstance(value, int) else ""
        return (
            f"{name} must be a string or a list of strings ({what}), "
            f"got {type(value).__name__} {_shown.repr(value)}{native or hint}"
        )
    bad = [(i, item) for i, item in enumerate(value) if not isinstance(item, str)]
    if not bad:
        return None
    shown = [f"#{i} is {type(item).__name__} {_shown.repr(item)}" for i, item in bad[:_MAX_ITEMS_NAMED]]
    more = f" and {len(bad) - _MAX_ITEMS_NAMED:,} more" if len(bad) > _MAX_ITEMS_NAMED else ""
    if name == "dst":
        hint = _NATIVE_NUMBER_HINT if any(isinstance(item, int) for _, item in bad) else ""
        if any(not isinstance(item, (int, float)) for _, item in bad):
            hint += " (give one flat list of numbers as strings)"
    return f"{name} must hold only strings; not strings: {', '.join(shown)}{more}{hint}"


def _string_items(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
