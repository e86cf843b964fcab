"""Plivo's record shapes, as its API returns them: media objects, message records, list pages.

Field by field after Plivo's documented and recorded answers: message numbers carry no '+',
message times read ``2021-07-13 18:28:51.94772+05:30`` (a space, the account's offset, trailing
zeros of the fraction dropped and no fraction when it is 0), upload times
``2021-02-17T07:16:09.153289Z``, and a page's ``next``/``previous`` links name the path without
its trailing slash. Prices are the sandbox's own figures, not Plivo's.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["masked_number", "message_units", "page", "plivo_time", "price", "upload_time"]

_GSM_7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""Characters an SMS carries in GSM-7's basic set, one septet each."""
_GSM_7_EXTENSION = frozenset("^{}\\[~]|€\f")
"""GSM-7 characters that take two septets; any character in neither set makes the SMS UCS-2."""
_RATES = {"sms": Decimal("0.00500"), "mms": Decimal("0.02000")}
"""The sandbox's price per unit, by message type."""


def plivo_time(moment: datetime, utc_offset: timedelta | None = None) -> str:
    """A message time as Plivo writes it in an account at ``utc_offset``:
    ``2021-07-13 18:28:51.94772+05:30``, or ``2017-05-22 21:36:14+05:30`` on a whole second.
    None: the sandbox's kinder form, UTC with six digits (``2021-07-13 13:04:06.799021+00:00``)."""
    if utc_offset is None:
        return moment.isoformat(sep=" ", timespec="microseconds")
    local = moment.astimezone(timezone(utc_offset))
    whole = local.replace(microsecond=0).isoformat(sep=" ")
    if not local.microsecond:
        return whole
    fraction = f"{local.microsecond:06d}".rstrip("0")
    return f"{whole[:19]}.{fraction}{whole[19:]}"


def masked_number(number: str) -> str:
    """``number`` (E.164) as Plivo stores it for a send with ``log=false``: ``+141XXXXX528``,
    its first three digits and last three visible."""
    digits = number.removeprefix("+")
    return "+" + digits[:3] + "X" * max(0, len(digits) - 6) + digits[-3:]


def upload_time(moment: datetime) -> str:
    """A media upload time as Plivo writes it: ``2021-02-17T07:16:09.153289Z``."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def message_units(text: str, message_type: str) -> int:
    """Billed units: one per MMS; per SMS, 160 GSM-7 or 70 UCS-2 characters, less for a split one."""
    if message_type != "sms":
        return 1
    if set(text) <= _GSM_7 | _GSM_7_EXTENSION:
        length, single, split = len(text) + sum(c in _GSM_7_EXTENSION for c in text), 160, 153
    else:
        length, single, split = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else -(-length // split)


def price(message_type: str, units: int) -> tuple[str, str]:
    """``(total_rate, total_amount)`` as Plivo writes them, strings with five decimals."""
    rate = _RATES.get(message_type, _RATES["sms"])
    return f"{rate:.5f}", f"{rate * units:.5f}"


def page(
    path: str,
    query: Mapping[str, Sequence[str]],
    objects: Sequence[dict[str, Any]],
    *,
    total: int,
    limit: int,
    offset: int,
    total_count: bool = True,
) -> dict[str, Any]:
    """One page, ``objects`` (the records at ``offset`` of a list of ``total``), with Plivo's ``meta``.

    The links keep the request's other parameters (a list's filters) after offset and limit.
    ``total_count=False`` leaves the count out of ``meta``, as many recorded message lists do.
    """
    filters = [
        (key, value) for key, values in query.items() if key not in ("limit", "offset") for value in values
    ]

    def link(at: int) -> str:
        return f"{path.rstrip('/')}?{urlencode([('offset', at), ('limit', limit), *filters])}"

    meta: dict[str, Any] = {
        "limit": limit,
        "offset": offset,
        "next": link(offset + limit) if offset + limit < total else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
    }
    if total_count:
        meta["total_count"] = total
    return {"meta": meta, "objects": list(objects)}
