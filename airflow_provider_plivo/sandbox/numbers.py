"""Destination numbers as Plivo reads a send's ``dst``: split on ``<``, deduplicated, checked.

Plivo sends to each valid number once and names the malformed ones in ``invalid_number``.
Validity comes from phonenumbers (Google's libphonenumber data): a regex cannot know which area
codes exist or how long a number is in each country. Among its rules is NANP's: a +1 number
whose area code or exchange starts with 0 or 1 is not a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

__all__ = ["Destinations", "e164", "split_destinations"]

_DIGITS = re.compile(r"\+?[0-9]{8,15}")
"""E.164's shape: a country code and number, at most 15 digits; the '+' is optional to Plivo."""


@dataclass(frozen=True)
class Destinations:
    """The numbers of one ``dst``, each once, in the order first given."""

    valid: tuple[str, ...]
    """In E.164 form with the '+'."""
    invalid: tuple[str, ...]
    """As given."""


def split_destinations(dst: str) -> Destinations:
    """Split ``dst`` on ``<``; sort the numbers into valid (normalised) and invalid (as given)."""
    valid: dict[str, None] = {}
    invalid: dict[str, None] = {}
    for given in (part.strip() for part in dst.split("<")):
        if not given:
            continue
        number = e164(given)
        if number is None:
            invalid[given] = None
        else:
            valid[number] = None
    return Destinations(tuple(valid), tuple(invalid))


def e164(number: str) -> str | None:
    """``number`` as ``+<digits>`` if it is a valid phone number (with or without its '+'); else None."""
    if not _DIGITS.fullmatch(number):
        return None
    try:
        parsed = phonenumbers.parse("+" + number.removeprefix("+"))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
