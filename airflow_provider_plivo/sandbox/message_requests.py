"""Read a ``POST Message/`` body as Plivo does: field types, bulk rules and message limits.

Every problem is a 400 in Plivo's error shape, never a 500. Destination numbers follow
:mod:`~airflow_provider_plivo.sandbox.numbers`: duplicates are dropped, at most 1,000 unique
numbers are accepted, and malformed ones are set aside for ``invalid_number``. When no number is
valid the whole send is refused with Plivo's documented words: ``19332631167 is not a valid
phone number`` (several: ``..., ... are not valid phone numbers``). Whether media IDs exist is
the store's business, not this module's.

``message_expiry`` is a whole number of seconds, 5 to 10,800 (Plivo documents 5 to 10,799 and a
default of 10,800, so the default sent explicitly is taken too). ``log`` is ``true`` or ``false``
(a JSON boolean or the string, as Plivo's SDKs send either) or a partial redaction value:
``content_only`` keeps the text and masks the numbers, ``number_only`` the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_plivo.limits import (
    DEFAULT_MESSAGE_EXPIRY,
    MAX_MEDIA_PER_MESSAGE,
    MAX_MESSAGE_EXPIRY,
    MAX_NUMBERS_PER_MESSAGE,
    MAX_TEXT_LENGTH,
    MIN_MESSAGE_EXPIRY,
)
from airflow_provider_plivo.sandbox.numbers import split_destinations
from airflow_provider_plivo.sandbox.responses import SandboxHTTPError

__all__ = ["LOG_VALUES", "MESSAGE_TYPES", "Send", "read_send"]

LOG_VALUES = ("true", "false", "content_only", "number_only")
"""What ``log`` may say: keep everything, redact both, keep only the text, keep only the number."""
_MESSAGE_EXPIRY_RANGE = range(MIN_MESSAGE_EXPIRY, MAX_MESSAGE_EXPIRY + 1)

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
    message_expiry: int = DEFAULT_MESSAGE_EXPIRY
    """Seconds the message may wait in the queue before it fails with error 420."""
    log: str = "true"
    """One of :data:`LOG_VALUES`."""

    @property
    def masks_numbers(self) -> bool:
        """Whether Plivo stores the destination masked (``log`` false or ``content_only``)."""
        return self.log in ("false", "content_only")

    @property
    def redacts_text(self) -> bool:
        """Whether Plivo keeps no text (``log`` false or ``number_only``)."""
        return self.log in ("false", "number_only")


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
        message_expiry=_message_expiry(body),
        log=_log(body),
    )


def _message_expiry(body: dict[str, Any]) -> int:
    value = body.get("message_expiry")
    if value is None:
        return DEFAULT_MESSAGE_EXPIRY
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in _MESSAGE_EXPIRY_RANGE:
        raise SandboxHTTPError(
            400,
            f"message_expiry must be a whole number of seconds from {_MESSAGE_EXPIRY_RANGE.start} to "
            f"{_MESSAGE_EXPIRY_RANGE.stop - 1}, not {value!r}",
        )
    return value


def _log(body: dict[str, Any]) -> str:
    value = body.get("log")
    if value is None:
        return "true"
    text = str(value).lower() if isinstance(value, (bool, str)) else None
    if text is None or text not in LOG_VALUES:
        raise SandboxHTTPError(400, f"log must be one of {', '.join(LOG_VALUES)}, not {value!r}")
    return text


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
