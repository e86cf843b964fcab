"""Read a ``POST Message/`` body as Plivo does: field types, bulk rules and message limits.

Every problem is a 400 in Plivo's error shape, never a 500. Destination numbers follow
:mod:`~airflow_provider_plivo.sandbox.numbers`: duplicates are dropped, at most 1,000 unique
numbers are accepted, and malformed ones are set aside for ``invalid_number``. When no number is
valid the whole send is refused with Plivo's documented words: ``19332631167 is not a valid
phone number`` (several: ``..., ... are not valid phone numbers``). Whether media IDs exist is
the store's business, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_plivo.limits import MAX_MEDIA_PER_MESSAGE, MAX_NUMBERS_PER_MESSAGE, MAX_TEXT_LENGTH
from airflow_provider_plivo.sandbox.numbers import split_destinations
from airflow_provider_plivo.sandbox.responses import SandboxHTTPError

__all__ = ["MESSAGE_TYPES", "Send", "read_send"]

MESSAGE_TYPES = ("sms", "mms")
"""The types the sandbox sends (Plivo also knows ``whatsapp``, which it does not model)."""
_JSON_TYPES = {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list"}


@dataclass(frozen=True)
class Send:
    """A send request that passed every rule."""

    src: str
    powerpack_uuid: str
    numbers: tuple[str, ...]
    """Valid destinations, E.164 with '+', each once, in ``dst`` order."""
    invalid_numbers: tuple[str, ...]
    """Malformed destinations as given: Plivo answers them in ``invalid_number``."""
    text: str
    message_type: str
    media_ids: tuple[str, ...]
    media_urls: tuple[str, ...]


def read_send(body: Any) -> Send:
    """Check a parsed JSON send body; raise :class:`SandboxHTTPError` (400) naming the problem."""
    if not isinstance(body, dict):
        raise SandboxHTTPError(400, "the body must be a JSON object")
    src, powerpack = _string(body, "src"), _string(body, "powerpack_uuid")
    text, dst = _string(body, "text"), _string(body, "dst")
    message_type = _string(body, "type") or "sms"
    media_ids, media_urls = _strings(body, "media_ids"), _strings(body, "media_urls")
    if not src and not powerpack:
        raise SandboxHTTPError(400, "src or powerpack_uuid is required")
    if message_type not in MESSAGE_TYPES:
        raise SandboxHTTPError(400, f"type must be one of {', '.join(MESSAGE_TYPES)}, not {message_type!r}")
    destinations = split_destinations(dst)
    unique = len(destinations.valid) + len(destinations.invalid)
    if not unique:
        raise SandboxHTTPError(400, "dst is required")
    if unique > MAX_NUMBERS_PER_MESSAGE:
        raise SandboxHTTPError(
            400,
            f"too many destination numbers: {unique} unique; at most {MAX_NUMBERS_PER_MESSAGE} per request",
        )
    if not destinations.valid:
        raise SandboxHTTPError(400, _not_valid(destinations.invalid))
    media_count = len(media_ids) + len(media_urls)
    if media_count > MAX_MEDIA_PER_MESSAGE:
        raise SandboxHTTPError(400, f"too many media: {media_count}; at most {MAX_MEDIA_PER_MESSAGE}")
    if len(text) > MAX_TEXT_LENGTH:
        raise SandboxHTTPError(400, f"text exceeds {MAX_TEXT_LENGTH} characters")
    if media_count and message_type != "mms":
        raise SandboxHTTPError(400, "media can only be sent with type mms")
    if message_type == "mms" and (abroad := [n for n in destinations.valid if not n.startswith("+1")]):
        # Plivo's documented words; MMS reaches only the US and Canada.
        raise SandboxHTTPError(400, f"{abroad[0].removeprefix('+')} is not an MMS enabled phone number")
    return Send(
        src=src,
        powerpack_uuid=powerpack,
        numbers=destinations.valid,
        invalid_numbers=destinations.invalid,
        text=text,
        message_type=message_type,
        media_ids=media_ids,
        media_urls=media_urls,
    )


def _not_valid(numbers: tuple[str, ...]) -> str:
    if len(numbers) == 1:
        return f"{numbers[0]} is not a valid phone number"
    return f"{', '.join(numbers)} are not valid phone numbers"


def _string(body: dict[str, Any], name: str) -> str:
    """Field ``name`` as a string; absent or null is ""."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SandboxHTTPError(400, f"{name} must be a string, not {_json_type(value)}")
    return value


def _strings(body: dict[str, Any], name: str) -> tuple[str, ...]:
    """Field ``name`` as a list of strings; absent or null is empty."""
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SandboxHTTPError(400, f"{name} must be a list of strings, not {_json_type(value)}")
    if wrong := [item for item in value if not isinstance(item, str)]:
        raise SandboxHTTPError(400, f"{name} must be a list of strings; it holds {_json_type(wrong[0])}")
    return tuple(value)


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "an object")
